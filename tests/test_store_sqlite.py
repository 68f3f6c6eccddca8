"""What only the SQLite store does: one file shared by processes, its failure modes."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3

import pytest

from core4flask.store import SQLiteStore, StoreUnavailable, new_id
from core4flask.store.sqlite import _SCHEMA as SQLITE_SCHEMA
from core4flask.store.sqlite import SCHEMA_VERSION as SQLITE_SCHEMA_VERSION
from core4flask.store.sqlite import dumps
from tests.test_store import make_role


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


def _reserve_many(path: str, barrier, results) -> None:
    store = SQLiteStore(path)
    store.setup()
    barrier.wait(30)
    results.put(sum(1 for _ in range(10) if store.throttle_reserve("guessed", 900, 7)))
    store.close()


def test_sqlite_throttle_reserve_is_atomic_across_processes(tmp_path):
    # gunicorn workers taking login attempts of one pair at the same time
    path = str(tmp_path / "shared.sqlite3")
    store = SQLiteStore(path)
    store.setup()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    workers = [context.Process(target=_reserve_many, args=(path, barrier, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    granted = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert sum(granted) == 7
    assert store.throttle_count("guessed", 900) == 7
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
        with pytest.raises(StoreUnavailable, match="locked"):
            store.role_insert(make_role("alice"))
        # a writer waits for the lock no longer than the busy timeout it was given
        with store._read() as conn:
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 200
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


def _open_at_once(path: str, barrier, results) -> None:
    barrier.wait(10)
    try:
        store = SQLiteStore(path)
        store.setup()
        store.kv_set_if_absent("test", "first", os.getpid())
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put(repr(exc))


def test_sqlite_new_file_opened_by_many_processes_at_once(tmp_path):
    # gunicorn workers starting together on a fresh instance folder
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(6), context.Queue()
    path = str(tmp_path / "fresh.sqlite3")
    workers = [context.Process(target=_open_at_once, args=(path, barrier, results)) for _ in range(6)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert outcomes == ["ok"] * 6
    assert SQLiteStore(path).kv_get("test", "first") is not None


def test_sqlite_file_of_schema_version_1_gains_the_new_tables(tmp_path):
    path = tmp_path / "core4flask.sqlite3"
    old = sqlite3.connect(path)
    # what a version 1 file holds: the tables before the store documents and avatars
    for statement in SQLITE_SCHEMA:
        if "store_doc" not in statement and "avatar" not in statement and "user_version" not in statement:
            old.execute(statement)
    old.execute("PRAGMA user_version = 1")
    alice = make_role("alice")
    old.execute(
        "INSERT INTO role (_id, name_lower, email_lower, doc) VALUES (?,?,?,?)",
        (alice["_id"], "alice", None, dumps(alice)),
    )
    old.commit()
    old.close()
    store = SQLiteStore(path)
    try:
        assert store.role_get(alice["_id"]) == alice
        store.store_doc_put("/", {"hello": "world"})
        assert store.store_doc_get("/") == {"hello": "world"}
        assert store.avatar_put(alice["_id"], b"image")
        with sqlite3.connect(path) as check:
            assert check.execute("PRAGMA user_version").fetchone()[0] == SQLITE_SCHEMA_VERSION
    finally:
        store.close()
