"""What only the MongoDB store does: URLs, timeouts, core4's ``sys.role`` schema, forks."""

from __future__ import annotations

import functools
import multiprocessing
import re

import mongomock
import pymongo
import pytest
from bson import ObjectId
from mongomock.store import ServerStore
from pymongo.errors import ExecutionTimeout

from core4flask.store import MongoStore, QueryError, StoreUnavailable
from tests.test_store import make_role


def test_mongo_database_name_and_repr():
    assert MongoStore("mongodb://h/").database == "core4"
    assert MongoStore("mongodb://h", database="x").database == "x"
    assert MongoStore("mongodb://h/fromurl?authSource=admin", database="x").database == "fromurl"
    secret = MongoStore("mongodb://user:secret@h:27017/db")
    assert "secret" not in repr(secret) and "h:27017" in repr(secret)
    with pytest.raises(ValueError):
        MongoStore("http://h/db")


def test_mongo_unreachable_server_is_unavailable_within_the_driver_timeouts():
    options = []

    def client(url, **kwargs):
        options.append(kwargs)
        return pymongo.MongoClient(url, **kwargs)

    store = MongoStore("mongodb://127.0.0.1:1/", client_factory=client, timeout_ms=200)
    try:
        for call in (store.ping, lambda: store.role_by_name("admin"), lambda: store.kv_get("ns", "k")):
            with pytest.raises(StoreUnavailable):
                call()
    finally:
        store.close()
    # the driver gives up after the store's timeout, never waits on its own defaults (30 s)
    assert options and all(
        kwargs["serverSelectionTimeoutMS"] == kwargs["connectTimeoutMS"] == 200 and kwargs["socketTimeoutMS"] == 10000
        for kwargs in options
    )


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


def test_mongo_store_documents_and_avatars_are_where_core4_keeps_them():
    server = ServerStore()
    store = MongoStore("mongodb://h/c4", client_factory=functools.partial(mongomock.MongoClient, _store=server))
    store.setup()
    raw = mongomock.MongoClient(_store=server)["c4"]
    alice = make_role("alice")
    store.role_insert(alice)
    store.store_doc_put("/client-1", {"hello": "world"})
    assert raw["sys.store"].find_one({"_id": "/client-1"}) == {"_id": "/client-1", "hello": "world"}
    assert store.avatar_put(alice["_id"], b"\x89PNG")
    assert raw["sys.role"].find_one({"name": "alice"})["avatar"] == b"\x89PNG"
    # what core4 wrote reads back
    raw["sys.store"].insert_one({"_id": "/", "logo": {"light": "data:"}})
    raw["sys.role"].update_one({"name": "alice"}, {"$set": {"avatar": b"GIF89a"}})
    assert store.store_doc_get("/") == {"logo": {"light": "data:"}}
    assert store.avatar_get(alice["_id"]) == b"GIF89a"
    store.close()


class _RecordingClient(mongomock.MongoClient):
    """A mongomock client that counts how often it is closed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


def _use_in_child(store: MongoStore, clients: list, results) -> None:
    store.ping()
    store.close()
    results.put((len(clients), clients[0].closed, clients[-1].closed))


def test_mongo_client_inherited_through_fork_is_left_alone():
    clients: list[_RecordingClient] = []

    def factory(*args, **kwargs) -> _RecordingClient:
        clients.append(_RecordingClient(*args, _store=ServerStore(), **kwargs))
        return clients[-1]

    store = MongoStore("mongodb://h/c4", client_factory=factory)
    store.ping()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_use_in_child, args=(store, clients, results))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    # the child made its own client and closed only that one
    assert results.get(timeout=5) == (2, 0, 1)
    store.ping()
    assert len(clients) == 1 and clients[0].closed == 0
    store.close()
    assert clients[0].closed == 1


def test_mongo_regex_queries_run_under_a_server_time_limit(monkeypatch):
    # MongoDB evaluates client regexes itself: maxTimeMS bounds them, and running over is the filter's fault
    factory = functools.partial(mongomock.MongoClient, _store=ServerStore())
    store = MongoStore("mongodb://localhost:27017/core4flask_test", client_factory=factory)
    store.setup()
    store.role_insert(make_role("alice"))
    limits = []
    count_documents = mongomock.collection.Collection.count_documents

    def timed_count(self, filter, **kwargs):
        limits.append(kwargs.get("maxTimeMS"))
        if kwargs.get("maxTimeMS"):
            raise ExecutionTimeout("operation exceeded time limit", 50)
        return count_documents(self, filter, **kwargs)

    def timed_cursor(self, max_time_ms):
        if max_time_ms is None:  # mongomock's own find() sets none
            return self
        limits.append(max_time_ms)
        raise ExecutionTimeout("operation exceeded time limit", 50)

    monkeypatch.setattr(mongomock.collection.Collection, "count_documents", timed_count)
    monkeypatch.setattr(mongomock.collection.Cursor, "max_time_ms", timed_cursor)
    try:
        assert store.role_count({"name": "alice"}) == 1
        assert [doc["name"] for doc in store.role_find({"name": "alice"})] == ["alice"]
        with pytest.raises(QueryError, match="took too long"):
            store.role_count({"name": {"$regex": "^al"}})
        with pytest.raises(QueryError, match="took too long"):
            store.role_find({"$or": [{"name": {"$in": [re.compile("^al")]}}]})
        assert limits == [None, 500, 500]
    finally:
        store.close()
