"""The contract every store backend keeps, run against each backend.

Role queries live in ``test_store_query.py``, backend specifics in
``test_store_sqlite.py`` and ``test_store_mongo.py``; they import the helpers
and :func:`open_backend` from here.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import mongomock
import pymongo
import pytest
from mongomock.store import ServerStore

from core4flask.store import (
    DuplicateKey,
    MongoStore,
    SQLiteStore,
    Store,
    new_id,
    open_store,
)

MONGO_URL = os.environ.get("CORE4_TEST_MONGO_URL")
# far in the future: TTL indexes (MongoDB and mongomock alike) use the real
# clock and must not remove entries the fake clock still considers alive
T0 = datetime(2100, 5, 1, 12, 0, 0)


class FakeClock:
    """A clock the tests move by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _throwaway_mongo_url(name: str) -> str:
    parts = urlsplit(MONGO_URL)
    return urlunsplit(parts._replace(path="/" + name))


#: the backends the contract runs against (a real MongoDB only when configured)
BACKENDS = [
    "sqlite",
    "mongomock",
    pytest.param(
        "mongo",
        marks=pytest.mark.skipif(not MONGO_URL, reason="set CORE4_TEST_MONGO_URL to run against a real MongoDB"),
    ),
]


def open_backend(kind: str, tmp_path: Path) -> Iterator[Store]:
    """Yield a set-up, empty store of ``kind`` (one of :data:`BACKENDS`); drop it afterwards."""
    if kind == "sqlite":
        backend: Store = SQLiteStore(tmp_path / "instance" / "core4flask.sqlite3")
    elif kind == "mongomock":
        factory = functools.partial(mongomock.MongoClient, _store=ServerStore())
        backend = MongoStore("mongodb://localhost:27017/core4flask_test", client_factory=factory)
    else:
        name = f"core4flask_test_{uuid.uuid4().hex[:12]}"
        backend = MongoStore(_throwaway_mongo_url(name))
    backend.setup()
    yield backend
    backend.close()
    if kind == "mongo":
        with pymongo.MongoClient(MONGO_URL) as client:
            client.drop_database(backend.database)


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    yield from open_backend(request.param, tmp_path)


@pytest.fixture
def clock(store):
    fake = FakeClock()
    store.clock = fake
    return fake


def make_role(name: str, **fields) -> dict:
    doc = {
        "_id": new_id(),
        "name": name,
        "realname": f"{name} real",
        "is_active": True,
        "created": T0,
        "updated": None,
        "etag": new_id(),
        "role": [],
        "perm": [],
    }
    doc.update(fields)
    return doc


# -- lifecycle -------------------------------------------------------------------


def test_setup_is_idempotent_and_ping_answers(store):
    store.setup()
    store.ping()
    store.role_insert(make_role("alice"))
    store.setup()
    assert store.role_by_name("alice")["name"] == "alice"


def test_close_and_after_fork_reconnect(store):
    doc = make_role("alice")
    store.role_insert(doc)
    store.close()
    assert store.role_get(doc["_id"])["name"] == "alice"
    store.after_fork()
    assert store.role_get(doc["_id"])["name"] == "alice"


# -- roles -----------------------------------------------------------------------


def test_role_round_trip_keeps_core4_shape_and_naive_utc_datetimes(store):
    parent = make_role("team")
    store.role_insert(parent)
    aware = datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    doc = make_role(
        "alice",
        email="alice@example.com",
        password="$argon2id$hash",
        perm=["api://core4flask.api"],
        role=[parent["_id"].upper()],
        created=datetime(2024, 5, 1, 12, 30, 15, 987654),
        last_login=aware,
    )
    store.role_insert(doc)
    got = store.role_get(doc["_id"])
    assert got == {
        **doc,
        "role": [parent["_id"]],
        "created": datetime(2024, 5, 1, 12, 30, 15, 987000),
        "last_login": datetime(2024, 5, 1, 12, 30, 15, 123000),
    }
    assert got["last_login"].tzinfo is None
    assert isinstance(got["_id"], str) and isinstance(got["etag"], str)


def test_role_get_unknown_or_malformed_ids(store):
    doc = make_role("alice")
    store.role_insert(doc)
    assert store.role_get(new_id()) is None
    assert store.role_get("not-an-id") is None
    assert store.role_get(doc["_id"].upper())["name"] == "alice"


def test_role_get_many_keeps_the_order_asked_for(store):
    docs = [make_role(name) for name in ("a", "b", "c")]
    for doc in docs:
        store.role_insert(doc)
    ids = [docs[2]["_id"], new_id(), docs[0]["_id"], "junk", docs[2]["_id"]]
    assert [d["name"] for d in store.role_get_many(ids)] == ["c", "a"]
    assert store.role_get_many([]) == []


def test_duplicate_name_is_case_insensitive(store):
    store.role_insert(make_role("Alice"))
    with pytest.raises(DuplicateKey) as info:
        store.role_insert(make_role("alice"))
    assert info.value.field == "name"
    assert store.role_count() == 1


def test_duplicate_email_is_case_insensitive(store):
    store.role_insert(make_role("alice", email="alice@example.com"))
    with pytest.raises(DuplicateKey) as info:
        store.role_insert(make_role("bob", email="ALICE@example.com"))
    assert info.value.field == "email"


def test_duplicate_id(store):
    doc = make_role("alice")
    store.role_insert(doc)
    with pytest.raises(DuplicateKey) as info:
        store.role_insert({**make_role("bob"), "_id": doc["_id"]})
    assert info.value.field == "_id"


def test_roles_without_email_do_not_collide(store):
    store.role_insert(make_role("role1"))
    store.role_insert(make_role("role2", email=None))
    assert "email" not in store.role_by_name("role2")
    assert store.role_count({"email": {"$exists": False}}) == 2


def test_role_insert_rejects_fields_core4_does_not_know(store):
    with pytest.raises(ValueError, match="perm_total"):
        store.role_insert(make_role("alice", perm_total=[]))
    with pytest.raises(ValueError, match="etag"):
        store.role_insert({k: v for k, v in make_role("alice").items() if k != "etag"})
    with pytest.raises(ValueError, match="role"):
        store.role_insert(make_role("alice", role=["admin"]))
    assert store.role_count() == 0


def test_role_by_name_is_exact_and_never_a_regex(store):
    store.role_insert(make_role("a.c"))
    store.role_insert(make_role("abc"))
    assert store.role_by_name("a.c")["name"] == "a.c"
    assert store.role_by_name("A.C")["name"] == "a.c"
    assert store.role_by_name("ABC")["name"] == "abc"
    for probe in (".*", "a.", "ab", "^abc$", "abc\n", "[a-z]bc"):
        assert store.role_by_name(probe) is None, probe


def test_role_by_email_ignores_case(store):
    store.role_insert(make_role("alice", email="alice@example.com"))
    assert store.role_by_email("Alice@Example.COM")["name"] == "alice"
    assert store.role_by_email("alice@example.co") is None
    assert store.role_by_email(".*") is None


def test_role_update_is_compare_and_set_on_etag(store):
    doc = make_role("alice", email="alice@example.com", last_login=T0)
    store.role_insert(doc)
    new_etag = new_id()
    changed = {"realname": "Alice A.", "etag": new_etag, "updated": T0 + timedelta(1)}
    assert store.role_update(doc["_id"], doc["etag"], changed, unset=["last_login"])
    got = store.role_get(doc["_id"])
    assert got["realname"] == "Alice A." and got["etag"] == new_etag
    assert "last_login" not in got
    # the old etag is stale now
    assert not store.role_update(doc["_id"], doc["etag"], {"realname": "lost"})
    assert not store.role_update(new_id(), new_etag, {"realname": "lost"})
    assert not store.role_update(doc["_id"], "junk", {"realname": "lost"})
    assert store.role_get(doc["_id"])["realname"] == "Alice A."
    # email None removes the email
    assert store.role_update(doc["_id"], new_etag, {"email": None})
    assert "email" not in store.role_get(doc["_id"])


def test_role_update_checks_uniqueness(store):
    alice = make_role("alice", email="alice@example.com")
    bob = make_role("bob", email="bob@example.com")
    store.role_insert(alice)
    store.role_insert(bob)
    with pytest.raises(DuplicateKey) as info:
        store.role_update(bob["_id"], bob["etag"], {"name": "ALICE"})
    assert info.value.field == "name"
    with pytest.raises(DuplicateKey) as info:
        store.role_update(bob["_id"], bob["etag"], {"email": "Alice@example.com"})
    assert info.value.field == "email"
    # a role may change the case of its own name
    assert store.role_update(alice["_id"], alice["etag"], {"name": "Alice"})
    assert store.role_by_name("alice")["name"] == "Alice"


def test_role_update_rejects_bad_fields(store):
    doc = make_role("alice")
    store.role_insert(doc)
    for fields, unset in (({"avatar": "x"}, ()), ({"_id": new_id()}, ()), ({}, ["etag"]), ({"perm": []}, ["perm"])):
        with pytest.raises(ValueError):
            store.role_update(doc["_id"], doc["etag"], fields, unset)


def test_role_touch_ignores_the_etag_and_keeps_it(store):
    doc = make_role("alice", password="old")
    store.role_insert(doc)
    store.role_touch(doc["_id"], {"last_login": T0, "password": "rehashed"})
    got = store.role_get(doc["_id"])
    assert got["last_login"] == T0 and got["password"] == "rehashed"
    assert got["etag"] == doc["etag"]
    store.role_touch(new_id(), {"last_login": T0})  # unknown id: nothing happens


def test_role_delete_is_compare_and_set_and_pulls_references(store):
    team = make_role("team")
    other = make_role("other")
    store.role_insert(team)
    store.role_insert(other)
    alice = make_role("alice", role=[team["_id"], other["_id"]])
    bob = make_role("bob", role=[team["_id"]])
    store.role_insert(alice)
    store.role_insert(bob)
    assert not store.role_delete(team["_id"], new_id())
    assert not store.role_delete(team["_id"], "junk")
    assert store.role_get(team["_id"]) is not None
    assert store.role_delete(team["_id"], team["etag"])
    assert store.role_get(team["_id"]) is None
    assert not store.role_delete(team["_id"], team["etag"])
    got_alice, got_bob = store.role_get(alice["_id"]), store.role_get(bob["_id"])
    assert got_alice["role"] == [other["_id"]] and got_bob["role"] == []
    assert got_alice["etag"] == alice["etag"] and got_bob["etag"] == bob["etag"]


def test_role_distinct_names_sorted_by_code_point(store):
    for name in ("b", "Z", "a", "C"):
        store.role_insert(make_role(name))
    assert store.role_distinct_names() == ["C", "Z", "a", "b"]


# -- settings --------------------------------------------------------------------


def test_settings_round_trip_replace_and_delete(store):
    user_id = new_id()
    assert store.setting_get(user_id) is None
    doc = {"_general": {"language": "DE", "since": datetime(2024, 1, 2, 3, 4, 5, 678901)}, "app": {"x": [1, 2]}}
    store.setting_put(user_id, doc)
    assert store.setting_get(user_id) == {
        "_general": {"language": "DE", "since": datetime(2024, 1, 2, 3, 4, 5, 678000)},
        "app": {"x": [1, 2]},
    }
    store.setting_put(user_id, {"_id": "ignored", "app": {}})
    assert store.setting_get(user_id.upper()) == {"app": {}}
    assert store.setting_get(new_id()) is None
    assert store.setting_delete(user_id)
    assert not store.setting_delete(user_id)
    assert store.setting_get(user_id) is None


# -- core4's cross-user store ----------------------------------------------------


def test_store_docs_put_replace_get_and_delete(store):
    assert store.store_doc_get("/") is None
    root = {"hello": "root", "theme": {"light": {"primary": "#123456"}}, "menu": [{"About": "/a"}], "off": None}
    store.store_doc_put("/", root)
    store.store_doc_put("/client-1", {"key": 4711, "ratio": 0.5, "flag": True})
    assert store.store_doc_get("/") == root
    assert store.store_doc_get_many(["/client-1", "/missing", "/", "/"]) == {
        "/": root,
        "/client-1": {"key": 4711, "ratio": 0.5, "flag": True},
    }
    store.store_doc_put("/client-1", {"other": "text"})  # replaces, never merges
    assert store.store_doc_get("/client-1") == {"other": "text"}
    assert store.store_doc_delete(["/missing", "/client-1", "/client-1"]) == ["/client-1"]
    assert store.store_doc_get("/client-1") is None
    assert store.store_doc_get_many([]) == {}


def test_store_doc_paths_below_go_by_whole_segments(store):
    for path in ("/", "/a", "/a/b", "/a/b/c", "/ab", "/a.b", "/aXb/c", "/b"):
        store.store_doc_put(path, {"at": path})
    assert store.store_doc_paths_below("/a") == ["/a/b", "/a/b/c"]
    assert store.store_doc_paths_below("/a.b") == []
    assert store.store_doc_paths_below("/") == ["/a", "/a.b", "/a/b", "/a/b/c", "/aXb/c", "/ab", "/b"]
    assert store.store_doc_paths_below("/missing") == []


@pytest.mark.parametrize("path", ["", "a", "/a/", None, 7])
def test_store_doc_paths_are_checked(store, path):
    for call in (
        lambda: store.store_doc_put(path, {}),
        lambda: store.store_doc_get_many([path]),
        lambda: store.store_doc_delete([path]),
        lambda: store.store_doc_paths_below(path),
    ):
        with pytest.raises(ValueError):
            call()


# -- avatars ---------------------------------------------------------------------


def test_avatar_round_trip_keeps_the_bytes_and_the_role(store):
    alice = make_role("alice")
    store.role_insert(alice)
    assert store.avatar_get(alice["_id"]) is None
    image = bytes(range(256)) * 64
    assert store.avatar_put(alice["_id"], image)
    assert store.avatar_get(alice["_id"].upper()) == image
    assert store.avatar_put(alice["_id"], b"replaced")
    assert store.avatar_get(alice["_id"]) == b"replaced"
    # the role reads and updates as before: no avatar field, the same etag
    assert store.role_get(alice["_id"]) == alice
    assert store.role_by_name("alice") == alice and store.role_find({"name": "alice"}) == [alice]
    assert store.role_update(alice["_id"], alice["etag"], {"realname": "A", "etag": new_id()})
    assert store.avatar_get(alice["_id"]) == b"replaced"


def test_avatar_belongs_to_an_existing_role_and_goes_with_it(store):
    assert store.avatar_put(new_id(), b"x") is False
    assert store.avatar_put("not-an-id", b"x") is False
    assert store.avatar_get("not-an-id") is None and store.avatar_get(new_id()) is None
    bob = make_role("bob")
    store.role_insert(bob)
    assert store.avatar_put(bob["_id"], b"x")
    assert store.role_delete(bob["_id"], bob["etag"])
    assert store.avatar_get(bob["_id"]) is None


# -- key-value namespaces --------------------------------------------------------


def test_kv_set_get_delete_and_namespaces(store):
    assert store.kv_get("secret", "token") is None
    store.kv_set("secret", "token", {"key": "abc", "at": datetime(2024, 1, 1, 0, 0, 0, 999999)})
    store.kv_set("other", "token", [1, 2.5, None, True])
    assert store.kv_get("secret", "token") == {"key": "abc", "at": datetime(2024, 1, 1, 0, 0, 0, 999000)}
    assert store.kv_get("other", "token") == [1, 2.5, None, True]
    store.kv_set("secret", "token", "replaced")
    assert store.kv_get("secret", "token") == "replaced"
    store.kv_delete("secret", "token")
    store.kv_delete("secret", "token")
    assert store.kv_get("secret", "token") is None
    assert store.kv_get("other", "token") == [1, 2.5, None, True]
    with pytest.raises(ValueError):
        store.kv_set("bad/ns", "k", 1)


def test_kv_set_if_absent_keeps_the_first_value(store):
    assert store.kv_set_if_absent("secret", "jwt", "first") == "first"
    assert store.kv_set_if_absent("secret", "jwt", "second") == "first"
    assert store.kv_get("secret", "jwt") == "first"
    stamp = datetime(2024, 1, 1, 0, 0, 0, 123456)
    assert store.kv_set_if_absent("secret", "stamp", stamp) == datetime(2024, 1, 1, 0, 0, 0, 123000)


def test_kv_set_if_absent_race_has_one_winner(store):
    results: list[str] = []
    barrier = threading.Barrier(8)

    def contender(n: int) -> None:
        barrier.wait()
        results.append(store.kv_set_if_absent("secret", "race", f"value-{n}"))

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 8 and len(set(results)) == 1
    assert store.kv_get("secret", "race") == results[0]


def test_kv_expiry_hides_and_purges(store, clock):
    store.kv_set("revoked", "jti-1", True, expires=T0 + timedelta(seconds=10))
    store.kv_set("revoked", "jti-2", True, expires=(T0 + timedelta(hours=1)).replace(tzinfo=UTC))
    store.kv_set("revoked", "forever", True)
    assert store.kv_get("revoked", "jti-1") is True
    clock.advance(20)
    assert store.kv_get("revoked", "jti-1") is None
    assert [key for key, _, _ in store.kv_changed_since("revoked", None)] == ["forever", "jti-2"]
    # an expired entry counts as absent
    assert store.kv_set_if_absent("revoked", "jti-1", "again") == "again"
    store.kv_set("revoked", "jti-1", True, expires=T0 + timedelta(seconds=10))
    assert store.kv_purge_expired() == 1
    assert store.kv_purge_expired(T0 + timedelta(hours=2)) == 1
    assert store.kv_get("revoked", "forever") is True


def test_kv_changed_since_is_ordered_oldest_first(store, clock):
    store.kv_set("epoch", "b", 1)
    clock.advance(1)
    store.kv_set("epoch", "a", 2)
    store.kv_set("epoch", "c", 3)
    clock.advance(1)
    store.kv_set("other", "x", 0)
    assert store.kv_changed_since("epoch", None) == [
        ("b", 1, T0),
        ("a", 2, T0 + timedelta(seconds=1)),
        ("c", 3, T0 + timedelta(seconds=1)),
    ]
    assert [k for k, _, _ in store.kv_changed_since("epoch", T0)] == ["a", "c"]
    clock.advance(1)
    store.kv_set("epoch", "b", 4)
    assert store.kv_changed_since("epoch", T0 + timedelta(seconds=1)) == [("b", 4, T0 + timedelta(seconds=3))]
    assert store.kv_changed_since("epoch", T0 + timedelta(seconds=3)) == []


# -- throttling ------------------------------------------------------------------


def test_throttle_counts_within_the_window(store, clock):
    assert store.throttle_count("alice|10.0.0.1", 900) == 0
    assert [store.throttle_hit("alice|10.0.0.1", 900) for _ in range(3)] == [1, 2, 3]
    store.throttle_hit("bob|10.0.0.1", 900)
    clock.advance(600)
    assert store.throttle_hit("alice|10.0.0.1", 900) == 4
    clock.advance(301)
    assert store.throttle_count("alice|10.0.0.1", 900) == 1
    assert store.throttle_hit("alice|10.0.0.1", 900) == 2
    assert store.throttle_count("bob|10.0.0.1", 900) == 0
    store.throttle_clear("alice|10.0.0.1")
    assert store.throttle_count("alice|10.0.0.1", 900) == 0


def test_throttle_reserve_records_up_to_the_limit(store, clock):
    key = "alice|10.0.0.1"
    attempts = [store.throttle_reserve(key, 900, 3) for _ in range(3)]
    assert all(attempts) and len(set(attempts)) == 3
    assert store.throttle_reserve(key, 900, 3) is None
    assert store.throttle_count(key, 900) == 3
    assert store.throttle_reserve("bob|10.0.0.1", 900, 3)
    store.throttle_release(key, attempts[0])
    store.throttle_release(key, attempts[0])
    store.throttle_release(key, "not-an-attempt")
    assert store.throttle_count(key, 900) == 2
    assert store.throttle_reserve(key, 900, 3)
    assert store.throttle_reserve(key, 900, 3) is None
    clock.advance(901)
    assert store.throttle_count(key, 900) == 0
    assert store.throttle_reserve(key, 900, 3)
    store.throttle_clear(key)
    assert store.throttle_count(key, 900) == 0


def test_throttle_reserve_race_never_exceeds_the_limit(store, clock):
    # parallel guesses of one pair: only the limit may get through, however they interleave
    granted: list[str | None] = []
    barrier = threading.Barrier(16)

    def contender() -> None:
        barrier.wait()
        granted.append(store.throttle_reserve("race", 900, 5))

    threads = [threading.Thread(target=contender) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(granted) == 16
    allowed = [attempt for attempt in granted if attempt]
    assert 1 <= len(allowed) <= 5
    assert store.throttle_count("race", 900) == len(allowed)
    # once the race is over the remaining allowance is there again
    remaining = [store.throttle_reserve("race", 900, 5) for _ in range(6 - len(allowed))]
    assert all(remaining[:-1]) and remaining[-1] is None


# -- registry --------------------------------------------------------------------


def server_doc(port: int) -> dict:
    return {"hostname": "host", "port": port, "pid": port, "routing": f"http://host:{port}", "started_at": T0}


def test_registry_publish_heartbeat_live_and_remove(store, clock):
    handlers_a = [{"rsc_id": "r2", "title": "Two"}, {"rsc_id": "r1", "title": "One", "tag": ["api"]}]
    store.registry_publish("server-a", server_doc(5001), handlers_a)
    clock.advance(5)
    store.registry_publish("server-b", server_doc(5002), [{"rsc_id": "r1", "title": "One"}])
    live = store.registry_live(60)
    assert [entry["server_id"] for entry in live] == ["server-a", "server-b"]
    assert live[0] == {"server_id": "server-a", "server": server_doc(5001), "heartbeat": T0, "handlers": handlers_a}
    assert live[1]["handlers"] == [{"rsc_id": "r1", "title": "One"}]
    assert store.registry_first_seen("r1") == T0
    assert store.registry_first_seen("nope") is None
    # server-a goes quiet, server-b keeps beating
    clock.advance(58)
    store.registry_heartbeat("server-b")
    store.registry_heartbeat("unknown")
    assert [entry["server_id"] for entry in store.registry_live(60)] == ["server-b"]
    assert store.registry_live(60)[0]["heartbeat"] == T0 + timedelta(seconds=63)
    # republishing replaces the handlers and revives the server
    store.registry_publish("server-a", server_doc(5001), [{"rsc_id": "r3"}])
    live = {entry["server_id"]: entry for entry in store.registry_live(60)}
    assert live["server-a"]["handlers"] == [{"rsc_id": "r3"}]
    assert store.registry_first_seen("r1") == T0
    assert store.registry_first_seen("r3") == T0 + timedelta(seconds=63)
    store.registry_remove("server-a")
    assert [entry["server_id"] for entry in store.registry_live(60)] == ["server-b"]
    assert store.registry_live(60)[0]["handlers"] == [{"rsc_id": "r1", "title": "One"}]


def test_registry_purge_removes_silent_servers(store, clock):
    store.registry_publish("old", server_doc(1), [{"rsc_id": "x"}])
    clock.advance(100)
    store.registry_publish("new", server_doc(2), [])
    assert store.registry_purge(50) == 1
    assert [entry["server_id"] for entry in store.registry_live(1000)] == ["new"]
    assert store.registry_live(1000)[0]["handlers"] == []
    assert store.registry_first_seen("x") == T0


def test_open_store_picks_the_backend(tmp_path):
    embedded = open_store(None, str(tmp_path))
    assert isinstance(embedded, SQLiteStore)
    assert embedded.path == str(tmp_path / "core4flask.sqlite3")
    mongo = open_store("mongodb://db.example:27017", str(tmp_path), mongo_database="c4")
    assert isinstance(mongo, MongoStore) and mongo.database == "c4"
