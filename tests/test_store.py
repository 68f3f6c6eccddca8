"""One test suite for every store backend, plus backend-specific checks."""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import mongomock
import pymongo
import pytest
from bson import ObjectId
from bson.regex import Regex
from mongomock.store import ServerStore

from core4flask.store import (
    DuplicateKey,
    MongoStore,
    QueryError,
    SQLiteStore,
    Store,
    StoreUnavailable,
    new_id,
    open_store,
)
from core4flask.store.query import match, sort_docs, to_mongo_query, validate_query

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


@pytest.fixture(
    params=[
        "sqlite",
        "mongomock",
        pytest.param(
            "mongo",
            marks=pytest.mark.skipif(not MONGO_URL, reason="set CORE4_TEST_MONGO_URL to run against a real MongoDB"),
        ),
    ]
)
def store(request, tmp_path):
    if request.param == "sqlite":
        backend: Store = SQLiteStore(tmp_path / "instance" / "core4flask.sqlite3")
    elif request.param == "mongomock":
        factory = functools.partial(mongomock.MongoClient, _store=ServerStore())
        backend = MongoStore("mongodb://localhost:27017/core4flask_test", client_factory=factory)
    else:
        name = f"core4flask_test_{uuid.uuid4().hex[:12]}"
        backend = MongoStore(_throwaway_mongo_url(name))
    backend.setup()
    yield backend
    backend.close()
    if request.param == "mongo":
        with pymongo.MongoClient(MONGO_URL) as client:
            client.drop_database(backend.database)


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


# -- role queries ----------------------------------------------------------------


@pytest.fixture
def people(store):
    team = make_role("team", realname="Team", perm=["api://core4flask.api"])
    store.role_insert(team)
    rows = [
        make_role("admin", realname="admin user", perm=["cop"], email="admin@example.com"),
        make_role("liese", realname="Liese", role=[team["_id"]], created=T0 + timedelta(days=1)),
        make_role("lisa", realname="Lisa", role=[team["_id"]], created=T0 + timedelta(days=2), is_active=False),
        make_role("lieselotte", realname="Lieselotte", created=T0 + timedelta(days=3)),
        make_role("norealname", created=T0 + timedelta(days=4)),
    ]
    del rows[-1]["realname"]
    for row in rows:
        store.role_insert(row)
    return {"team": team, **{row["name"]: row for row in rows}}


def names(docs):
    return [doc["name"] for doc in docs]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (None, ["admin", "liese", "lieselotte", "lisa", "norealname", "team"]),
        ({"name": "lisa"}, ["lisa"]),
        ({"name": "LISA"}, []),
        ({"perm": "cop"}, ["admin"]),
        ({"name": {"$in": ["lisa", "admin", "nobody"]}}, ["admin", "lisa"]),
        ({"name": {"$nin": ["lisa", "admin", "team"]}}, ["liese", "lieselotte", "norealname"]),
        ({"realname": {"$ne": "Lisa"}, "name": {"$regex": "^li"}}, ["liese", "lieselotte"]),
        ({"realname": {"$regex": "^LIE", "$options": "i"}}, ["liese", "lieselotte"]),
        ({"realname": {"$regex": "^LIE"}}, []),
        ({"realname": {"$in": [re.compile("Li*")]}}, ["liese", "lieselotte", "lisa"]),
        ({"realname": {"$in": ["Liese"]}}, ["liese"]),
        (
            {"$and": [{"realname": {"$in": [re.compile("Li*")]}}, {"realname": {"$ne": "Lisa"}}]},
            ["liese", "lieselotte"],
        ),
        ({"$or": [{"name": "lisa"}, {"perm": "cop"}]}, ["admin", "lisa"]),
        ({"$nor": [{"name": "lisa"}, {"perm": "cop"}, {"name": "team"}]}, ["liese", "lieselotte", "norealname"]),
        ({"realname": {"$exists": False}}, ["norealname"]),
        ({"email": {"$exists": True}}, ["admin"]),
        ({"is_active": False}, ["lisa"]),
        ({"created": {"$gt": T0 + timedelta(days=1), "$lte": T0 + timedelta(days=3)}}, ["lieselotte", "lisa"]),
        ({"realname": None}, ["norealname"]),
        ({"perm": {"$regex": "^api://"}}, ["team"]),
    ],
)
def test_role_find_and_count(store, people, query, expected):
    assert sorted(names(store.role_find(query))) == expected
    assert store.role_count(query) == len(expected)


def test_role_find_by_ids(store, people):
    team_id = people["team"]["_id"]
    assert names(store.role_find({"role": team_id})) == sorted(["liese", "lisa"], key=lambda n: people[n]["_id"])
    assert names(store.role_find({"_id": team_id.upper()})) == ["team"]
    assert names(store.role_find({"_id": {"$in": [team_id, people["lisa"]["_id"], "junk"]}})) == sorted(
        ["team", "lisa"], key=lambda n: people[n]["_id"]
    )
    assert store.role_count({"_id": {"$ne": team_id}}) == 5


def test_role_find_sort_skip_limit(store, people):
    # binary collation: upper case before lower case; missing fields first
    ascending = names(store.role_find(sort="realname"))
    assert ascending == ["norealname", "liese", "lieselotte", "lisa", "team", "admin"]
    descending = names(store.role_find(sort="realname", order=-1))
    assert descending == list(reversed(ascending))
    assert names(store.role_find(sort="realname", order=-1, skip=1, limit=2)) == ["team", "lisa"]
    assert names(store.role_find(sort="created", skip=4)) == ["lieselotte", "norealname"]
    assert len(store.role_find(limit=0)) == 6
    default_order = [doc["_id"] for doc in store.role_find()]
    assert default_order == sorted(default_order)


@pytest.mark.parametrize(
    "query",
    [
        {"password": "x"},
        {"password": {"$exists": True}},
        {"$or": [{"name": "admin"}, {"password": {"$regex": "^\\$"}}]},
        {"$and": [{"$nor": [{"password.0": "x"}]}]},
        {"name": {"$where": "1"}},
        {"$where": "sleep(100)"},
        {"avatar": "x"},
        {"name": {"$regex": "("}},
        {"name": {"$regex": "a", "$options": "x"}},
        {"name": {"$options": "i"}},
        {"name": {"first": "x"}},
        {"$or": []},
        {"_id": {"$regex": "^6"}},
        {"created": {"$gt": {"$date": 1}}},
        ["name", "admin"],
        "name",
    ],
)
def test_role_queries_outside_the_safe_subset_are_rejected(store, people, query):
    with pytest.raises(QueryError):
        store.role_find(query)
    with pytest.raises(QueryError):
        store.role_count(query)


def test_password_is_named_as_the_reason(store, people):
    for query in ({"password": "x"}, {"$or": [{"$and": [{"password": {"$exists": True}}]}]}, {"password.0": "$"}):
        with pytest.raises(QueryError, match="password"):
            store.role_find(query)
    with pytest.raises(QueryError, match="password"):
        store.role_find(sort="password")


def test_role_find_rejects_bad_sort_and_paging(store, people):
    for kwargs in ({"sort": "password"}, {"sort": "nope"}, {"order": 0}, {"skip": -1}, {"limit": -5}):
        with pytest.raises(QueryError):
            store.role_find(**kwargs)


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


# -- query evaluation (pure) -----------------------------------------------------


def test_match_follows_mongodb_type_rules():
    doc = {"n": 1, "flag": True, "tags": ["a", "b"], "empty": [], "none": None}
    cases = [
        ({"n": 1.0}, True),
        ({"n": True}, False),
        ({"flag": 1}, False),
        ({"tags": "a"}, True),
        ({"tags": ["a", "b"]}, True),
        ({"tags": ["b", "a"]}, False),
        ({"missing": None}, True),
        ({"none": None}, True),
        ({"empty": None}, False),
        ({"missing": {"$gte": None}}, True),
        ({"missing": {"$gt": None}}, False),
        ({"n": {"$gt": "0"}}, False),
        ({"tags": {"$gt": "a"}}, True),
        ({"missing": {"$ne": 1}}, True),
        ({"tags": {"$nin": ["c"]}}, True),
        ({"tags": {"$nin": ["b"]}}, False),
        ({"n": {"$regex": "1"}}, False),
    ]
    for query, expected in cases:
        # validate each condition through an allowed field, then apply it to the test field
        ((field, condition),) = query.items()
        normalized = {field: validate_query({"name": condition})["name"]}
        assert match(doc, normalized) is expected, query


def test_to_mongo_query_converts_ids_and_patterns():
    team = new_id()
    query = validate_query(
        {
            "$or": [{"_id": team.upper()}, {"role": {"$in": [team, "junk"]}}],
            "name": {"$in": [re.compile("^a", re.IGNORECASE), "b"]},
            "realname": team,
        }
    )
    assert to_mongo_query(query) == {
        "$or": [{"_id": {"$eq": ObjectId(team)}}, {"role": {"$in": [ObjectId(team), "junk"]}}],
        "name": {"$in": [Regex("^a", "i"), "b"]},
        "realname": {"$eq": team},
    }


def test_sort_docs_follows_mongodb_order():
    docs = [
        {"_id": "1", "v": [3, 1]},
        {"_id": "2", "v": 2},
        {"_id": "3"},
        {"_id": "4", "v": None},
        {"_id": "5", "v": []},
        {"_id": "6", "v": "a"},
        {"_id": "7", "v": True},
        {"_id": "8", "v": T0},
        {"_id": "9", "v": [5]},
    ]
    assert [d["_id"] for d in sort_docs(docs, "v", 1)] == ["5", "3", "4", "1", "2", "9", "6", "7", "8"]
    assert [d["_id"] for d in sort_docs(docs, "v", -1)] == ["8", "7", "6", "9", "1", "2", "3", "4", "5"]


# -- SQLite specifics ------------------------------------------------------------


def _insert_many(path: str, prefix: str, count: int, results) -> None:
    store = SQLiteStore(path)
    store.setup()
    for n in range(count):
        store.role_insert(make_role(f"{prefix}-{n}"))
        store.throttle_hit("shared", 60)
    results.put(store.kv_set_if_absent("secret", "jwt", prefix))
    store.close()


def test_sqlite_two_processes_write_concurrently(tmp_path):
    path = str(tmp_path / "shared.sqlite3")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_insert_many, args=(path, p, 40, results)) for p in ("p1", "p2")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=90)
    assert [worker.exitcode for worker in workers] == [0, 0]
    winners = {results.get(timeout=5) for _ in workers}
    store = SQLiteStore(path)
    assert store.role_count() == 80
    assert store.throttle_count("shared", 600) == 80
    assert len(winners) == 1 and store.kv_get("secret", "jwt") in {"p1", "p2"}
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def _insert_in_child(store: SQLiteStore) -> None:
    store.role_insert(make_role("from-child"))


def test_sqlite_store_inherited_through_fork_reconnects(tmp_path):
    store = SQLiteStore(tmp_path / "fork.sqlite3")
    store.role_insert(make_role("from-parent"))
    child = multiprocessing.get_context("fork").Process(target=_insert_in_child, args=(store,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert store.role_distinct_names() == ["from-child", "from-parent"]
    store.close()


def test_sqlite_creates_missing_folders_and_an_owner_only_file(tmp_path):
    path = tmp_path / "a" / "b" / "c" / "db.sqlite3"
    store = SQLiteStore(path)
    store.setup()
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    store.close()


def test_sqlite_in_memory_database_for_one_process():
    store = SQLiteStore(":memory:")
    store.role_insert(make_role("alice"))
    assert store.role_by_name("ALICE")["name"] == "alice"
    assert not os.path.exists(":memory:")
    store.close()


def test_sqlite_unusable_location_is_unavailable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = SQLiteStore(blocker / "sub" / "db.sqlite3")
    with pytest.raises(StoreUnavailable, match="db.sqlite3"):
        store.setup()
    with pytest.raises(StoreUnavailable):
        store.role_get(new_id())


def test_sqlite_locked_database_is_unavailable(tmp_path):
    path = tmp_path / "locked.sqlite3"
    store = SQLiteStore(path, busy_timeout=0.2)
    store.setup()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            store.role_insert(make_role("alice"))
        assert time.monotonic() - started < 3
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.role_insert(make_role("alice"))
    assert store.role_count() == 1
    store.close()


def test_sqlite_corrupt_file_is_unavailable(tmp_path):
    path = tmp_path / "corrupt.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = SQLiteStore(path)
    with pytest.raises(StoreUnavailable):
        store.ping()


def test_open_store_picks_the_backend(tmp_path):
    embedded = open_store(None, str(tmp_path))
    assert isinstance(embedded, SQLiteStore)
    assert embedded.path == str(tmp_path / "core4flask.sqlite3")
    mongo = open_store("mongodb://db.example:27017", str(tmp_path), mongo_database="c4")
    assert isinstance(mongo, MongoStore) and mongo.database == "c4"


# -- MongoDB specifics -----------------------------------------------------------


def test_mongo_database_name_and_repr():
    assert MongoStore("mongodb://h/").database == "core4"
    assert MongoStore("mongodb://h", database="x").database == "x"
    assert MongoStore("mongodb://h/fromurl?authSource=admin", database="x").database == "fromurl"
    secret = MongoStore("mongodb://user:secret@h:27017/db")
    assert "secret" not in repr(secret) and "h:27017" in repr(secret)
    with pytest.raises(ValueError):
        MongoStore("http://h/db")


def test_mongo_unreachable_server_is_unavailable_quickly():
    store = MongoStore("mongodb://127.0.0.1:1/", timeout_ms=1000)
    try:
        for call in (store.ping, lambda: store.role_by_name("admin"), lambda: store.kv_get("ns", "k")):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                call()
            assert time.monotonic() - started < 2.5
    finally:
        store.close()


def test_mongo_role_documents_keep_core4_schema():
    server = ServerStore()
    store = MongoStore("mongodb://h/c4", client_factory=functools.partial(mongomock.MongoClient, _store=server))
    store.setup()
    team = make_role("team")
    alice = make_role("alice", email="alice@example.com", role=[team["_id"]])
    store.role_insert(team)
    store.role_insert(alice)
    raw = mongomock.MongoClient(_store=server)["c4"]["sys.role"]
    doc = raw.find_one({"name": "alice"})
    assert set(doc) == set(alice)
    assert doc["_id"] == ObjectId(alice["_id"]) and doc["etag"] == ObjectId(alice["etag"])
    assert doc["role"] == [ObjectId(team["_id"])]
    indexes = raw.index_information()
    assert indexes["unique_name"]["unique"] and indexes["unique_email"]["unique"]
    # a document written by core4 itself (with an avatar) reads fine
    raw.insert_one({"name": "core4user", "etag": ObjectId(), "perm": ["cop"], "avatar": b"png"})
    loaded = store.role_by_name("core4user")
    assert "avatar" not in loaded and isinstance(loaded["_id"], str)
    store.close()
