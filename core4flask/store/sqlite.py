"""The embedded store: one SQLite file shared by every process on the host.

The file runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout, so
several gunicorn workers and separate servers read concurrently and queue up
for writes. Every write is one ``BEGIN IMMEDIATE`` transaction, which takes
the write lock up front instead of failing on a lock upgrade. Documents are
JSON text (datetimes tagged as ``{"$date": ...}``) next to the few columns
that need an index or a constraint; times used in comparisons are integer
milliseconds since the epoch.

Layer: the store, a helper below the request core; a backend: it builds on
base.py and its _sqlite_* parts.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ._process import ProcessHandle
from ._sqlite_avatar import SQLiteAvatars
from ._sqlite_base import dumps as dumps
from ._sqlite_base import loads as loads
from ._sqlite_kv import SQLiteKeyValue, SQLiteThrottle
from ._sqlite_registry import SQLiteRegistry
from ._sqlite_store_docs import SQLiteStoreDocs
from .base import (
    DuplicateKey,
    StoreUnavailable,
    check_role_doc,
    check_role_fields,
    normalize_id,
    order_by_ids,
)
from .query import match, regex_deadline, sort_docs

#: bumped when the schema below changes (every statement is safe to run again)
SCHEMA_VERSION = 2

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS role "
    "(_id TEXT PRIMARY KEY, name_lower TEXT NOT NULL UNIQUE, email_lower TEXT UNIQUE, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS setting (user_id TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
    "changed INTEGER NOT NULL, expires INTEGER, PRIMARY KEY (ns, key))",
    "CREATE INDEX IF NOT EXISTS kv_changed ON kv (ns, changed)",
    "CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires) WHERE expires IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS throttle (key TEXT NOT NULL, at INTEGER NOT NULL, expires INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS throttle_key ON throttle (key, at)",
    "CREATE INDEX IF NOT EXISTS throttle_expires ON throttle (expires)",
    "CREATE TABLE IF NOT EXISTS registry_server "
    "(server_id TEXT PRIMARY KEY, server TEXT NOT NULL, heartbeat INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS registry_handler "
    "(server_id TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (server_id, seq))",
    # version 2
    "CREATE TABLE IF NOT EXISTS store_doc (path TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS avatar (user_id TEXT PRIMARY KEY, data BLOB NOT NULL)",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

_MAX_PARAMS = 500


def _role_columns(doc: dict[str, Any]) -> tuple[str, str | None, str]:
    email = doc.get("email")
    return doc["name"].lower(), email.lower() if isinstance(email, str) else None, dumps(doc)


def _duplicate_field(exc: sqlite3.IntegrityError) -> str:
    text = str(exc)
    for column, field in (("name_lower", "name"), ("email_lower", "email")):
        if f"role.{column}" in text:
            return field
    if "role._id" in text:
        return "_id"
    raise exc


def _chunks(items: list[str], size: int = _MAX_PARAMS) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SQLiteStore(SQLiteKeyValue, SQLiteThrottle, SQLiteRegistry, SQLiteStoreDocs, SQLiteAvatars):
    """The store in a SQLite file, created with its folder on first use."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 5.0):
        #: the database file
        self.path = os.fspath(path)
        #: seconds a write waits for another process's write lock
        self.busy_timeout = busy_timeout
        self._conn: ProcessHandle[sqlite3.Connection] = ProcessHandle(reentrant=True)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # -- connection handling -------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            # password hashes and the token secret live here: owner-only access
            # (SQLite gives its -wal and -shm files the same mode)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL once; the mode persists in the file.

        Switching needs an exclusive lock and SQLite does not wait for it
        with the busy timeout, so workers opening a new file at the same
        time retry here for up to ``busy_timeout`` seconds.
        """
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            return
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._conn.hold(self._open) as conn:
                yield conn
        except sqlite3.IntegrityError as exc:
            raise DuplicateKey(_duplicate_field(exc)) from None
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreUnavailable(f"SQLite store {self.path} failed: {exc}") from exc

    def setup(self) -> None:
        """Create the file, its folder and the schema (idempotent)."""
        with self._read():
            pass

    def close(self) -> None:
        """Close this process's connection."""
        self._conn.close()

    def after_fork(self) -> None:
        """Forget the parent's connection and lock; reconnect lazily."""
        self._conn.after_fork()

    def ping(self) -> None:
        """Run a trivial statement; raises StoreUnavailable on failure."""
        with self._read() as conn:
            conn.execute("SELECT 1").fetchone()

    # -- roles ---------------------------------------------------------------

    def role_insert(self, doc: dict[str, Any]) -> None:
        """Insert a role; see :meth:`Store.role_insert`."""
        doc = check_role_doc(doc)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO role (_id, name_lower, email_lower, doc) VALUES (?,?,?,?)",
                (doc["_id"], *_role_columns(doc)),
            )

    def role_get_many(self, ids: list[str]) -> list[dict[str, Any]]:
        """Return roles by id, in the order of ``ids``."""
        wanted = [i for i in map(normalize_id, ids) if i is not None]
        docs: list[dict[str, Any]] = []
        with self._read() as conn:
            for chunk in _chunks(list(dict.fromkeys(wanted))):
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT doc FROM role WHERE _id IN ({marks})"
                docs.extend(loads(row[0]) for row in conn.execute(sql, chunk))
        return order_by_ids(docs, wanted)

    def _role_by(self, column: str, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, str):
            return None
        with self._read() as conn:
            row = conn.execute(f"SELECT doc FROM role WHERE {column} = ?", (value.lower(),)).fetchone()
        return loads(row[0]) if row else None

    def role_by_name(self, name: str) -> dict[str, Any] | None:
        """Return the role named ``name``, ignoring case."""
        return self._role_by("name_lower", name)

    def role_by_email(self, email: str) -> dict[str, Any] | None:
        """Return the role with this email, ignoring case."""
        return self._role_by("email_lower", email)

    def _role_all(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return [loads(row[0]) for row in conn.execute("SELECT doc FROM role")]

    def _role_find(
        self, criteria: dict[str, Any], sort: str, order: int, skip: int, limit: int | None
    ) -> list[dict[str, Any]]:
        """Return matching roles, sorted and sliced in Python."""
        deadline = regex_deadline()
        docs = sort_docs([doc for doc in self._role_all() if match(doc, criteria, deadline)], sort, order)
        return docs[skip : None if limit is None else skip + limit]

    def _role_count(self, criteria: dict[str, Any]) -> int:
        """Return how many roles match a validated query."""
        deadline = regex_deadline()
        return sum(1 for doc in self._role_all() if match(doc, criteria, deadline))

    def _role_change(self, _id: str, etag: str | None, fields: dict[str, Any], unset: Iterable[str]) -> bool:
        fields, removed = check_role_fields(fields, unset)
        role_id = normalize_id(_id)
        if role_id is None:
            return False
        with self._write() as conn:
            row = conn.execute("SELECT doc FROM role WHERE _id = ?", (role_id,)).fetchone()
            if row is None:
                return False
            doc = loads(row[0])
            if etag is not None and doc.get("etag") != etag:
                return False
            doc.update(fields)
            for key in removed:
                doc.pop(key, None)
            conn.execute(
                "UPDATE role SET name_lower = ?, email_lower = ?, doc = ? WHERE _id = ?",
                (*_role_columns(doc), role_id),
            )
        return True

    def role_update(self, _id: str, etag: str, fields: dict[str, Any], unset: Iterable[str] = ()) -> bool:
        """Compare-and-set update on the etag; see :meth:`Store.role_update`."""
        current = normalize_id(etag)
        if current is None:
            check_role_fields(fields, unset)
            return False
        return self._role_change(_id, current, fields, unset)

    def role_touch(self, _id: str, fields: dict[str, Any]) -> None:
        """Set ``fields`` without an etag check."""
        self._role_change(_id, None, fields, ())

    def role_delete(self, _id: str, etag: str) -> bool:
        """Delete on a matching etag and pull the id from other roles."""
        role_id, current = normalize_id(_id), normalize_id(etag)
        if role_id is None or current is None:
            return False
        with self._write() as conn:
            row = conn.execute("SELECT doc FROM role WHERE _id = ?", (role_id,)).fetchone()
            if row is None or loads(row[0]).get("etag") != current:
                return False
            conn.execute("DELETE FROM role WHERE _id = ?", (role_id,))
            conn.execute("DELETE FROM avatar WHERE user_id = ?", (role_id,))
            rows = conn.execute("SELECT _id, doc FROM role WHERE doc LIKE ?", (f'%"{role_id}"%',)).fetchall()
            for other_id, text in rows:
                doc = loads(text)
                if role_id in doc.get("role", ()):
                    doc["role"] = [ref for ref in doc["role"] if ref != role_id]
                    conn.execute("UPDATE role SET doc = ? WHERE _id = ?", (dumps(doc), other_id))
        return True

    def role_distinct_names(self) -> list[str]:
        """Return all role names sorted by code point."""
        names = {doc.get("name") for doc in self._role_all()}
        return sorted(name for name in names if isinstance(name, str))

    # -- settings ------------------------------------------------------------

    def setting_get(self, user_id: str) -> dict[str, Any] | None:
        """Return a user's settings document."""
        with self._read() as conn:
            row = conn.execute("SELECT doc FROM setting WHERE user_id = ?", (_user_key(user_id),)).fetchone()
        return loads(row[0]) if row else None

    def setting_put(self, user_id: str, doc: dict[str, Any]) -> None:
        """Replace a user's settings document."""
        text = dumps({k: v for k, v in doc.items() if k != "_id"})
        with self._write() as conn:
            conn.execute(
                "INSERT INTO setting (user_id, doc) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET doc = excluded.doc",
                (_user_key(user_id), text),
            )

    def setting_delete(self, user_id: str) -> bool:
        """Delete a user's settings document."""
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM setting WHERE user_id = ?", (_user_key(user_id),))
        return cursor.rowcount > 0


def _user_key(user_id: str) -> str:
    return normalize_id(user_id) or user_id
