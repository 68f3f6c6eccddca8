"""The embedded store: one SQLite file shared by every process on the host.

The file runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout, so
several gunicorn workers and separate servers read concurrently and queue up
for writes. Every write is one ``BEGIN IMMEDIATE`` transaction, which takes
the write lock up front instead of failing on a lock upgrade. Documents are
JSON text (datetimes tagged as ``{"$date": ...}``) next to the few columns
that need an index or a constraint; times used in comparisons are integer
milliseconds since the epoch.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from .base import (
    FIRST_SEEN_NS,
    DuplicateKey,
    Store,
    StoreUnavailable,
    check_namespace,
    check_role_doc,
    check_role_fields,
    normalize_id,
    order_by_ids,
    to_naive_utc,
)
from .query import match, sort_docs, validate_page, validate_query, validate_sort

#: bumped when the schema below changes
SCHEMA_VERSION = 1

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
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

_EPOCH = datetime(1970, 1, 1)
_MILLISECOND = timedelta(milliseconds=1)
_MAX_PARAMS = 500

# Connections inherited through fork(): closing them in the child could
# release the child's own locks on the file, so they stay referenced, unused.
_INHERITED: list[sqlite3.Connection] = []
_STORES: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _encode_extra(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$date": to_naive_utc(value).isoformat(timespec="milliseconds")}
    if isinstance(value, ObjectId):
        return str(value)
    raise TypeError(f"cannot store a {type(value).__name__} value")


def _decode_extra(obj: dict) -> Any:
    if len(obj) == 1 and isinstance(obj.get("$date"), str):
        return datetime.fromisoformat(obj["$date"])
    return obj


def dumps(value: Any) -> str:
    """Encode a value as stored JSON text (datetimes become ``{"$date": ...}``)."""
    return json.dumps(value, default=_encode_extra, ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> Any:
    """Decode JSON text written by :func:`dumps`."""
    return json.loads(text, object_hook=_decode_extra)


def _ms(value: datetime) -> int:
    return (to_naive_utc(value) - _EPOCH) // _MILLISECOND


def _from_ms(value: int) -> datetime:
    return _EPOCH + value * _MILLISECOND


def _role_columns(doc: dict) -> tuple[str, str | None, str]:
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


class SQLiteStore(Store):
    """The store in a SQLite file, created with its folder on first use."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 5.0):
        #: the database file
        self.path = os.fspath(path)
        #: seconds a write waits for another process's write lock
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        _STORES.add(self)
        self._lock = threading.RLock()

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
            conn.execute("PRAGMA journal_mode = WAL")
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

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        if os.getpid() != self._pid:
            self.after_fork()
        try:
            with self._lock:
                if self._conn is None:
                    self._conn = self._open()
                yield self._conn
        except sqlite3.IntegrityError as exc:
            raise DuplicateKey(_duplicate_field(exc)) from None
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreUnavailable(f"SQLite store {self.path} failed: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def setup(self) -> None:
        """Create the file, its folder and the schema (idempotent)."""
        with self._read():
            pass

    def close(self) -> None:
        """Close this process's connection."""
        with self._lock:
            if self._conn is not None and os.getpid() == self._pid:
                self._conn.close()
            self._conn = None

    def after_fork(self) -> None:
        """Forget the parent's connection and lock; reconnect lazily."""
        if os.getpid() == self._pid:
            self.close()
            return
        if self._conn is not None:
            _INHERITED.append(self._conn)
        self._conn = None
        self._lock = threading.RLock()
        self._pid = os.getpid()

    def ping(self) -> None:
        """Run a trivial statement; raises StoreUnavailable on failure."""
        with self._read() as conn:
            conn.execute("SELECT 1").fetchone()

    # -- roles ---------------------------------------------------------------

    def role_insert(self, doc: dict) -> None:
        """Insert a role; see :meth:`Store.role_insert`."""
        doc = check_role_doc(doc)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO role (_id, name_lower, email_lower, doc) VALUES (?,?,?,?)",
                (doc["_id"], *_role_columns(doc)),
            )

    def role_get_many(self, ids: list[str]) -> list[dict]:
        """Return roles by id, in the order of ``ids``."""
        wanted = [i for i in map(normalize_id, ids) if i is not None]
        docs = []
        with self._read() as conn:
            for chunk in _chunks(list(dict.fromkeys(wanted))):
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT doc FROM role WHERE _id IN ({marks})"
                docs.extend(loads(row[0]) for row in conn.execute(sql, chunk))
        return order_by_ids(docs, wanted)

    def _role_by(self, column: str, value: Any) -> dict | None:
        if not isinstance(value, str):
            return None
        with self._read() as conn:
            row = conn.execute(f"SELECT doc FROM role WHERE {column} = ?", (value.lower(),)).fetchone()
        return loads(row[0]) if row else None

    def role_by_name(self, name: str) -> dict | None:
        """Return the role named ``name``, ignoring case."""
        return self._role_by("name_lower", name)

    def role_by_email(self, email: str) -> dict | None:
        """Return the role with this email, ignoring case."""
        return self._role_by("email_lower", email)

    def _role_all(self) -> list[dict]:
        with self._read() as conn:
            return [loads(row[0]) for row in conn.execute("SELECT doc FROM role")]

    def role_find(
        self,
        query: dict | None = None,
        *,
        sort: str = "_id",
        order: int = 1,
        skip: int = 0,
        limit: int | None = None,
    ) -> list[dict]:
        """Return matching roles, sorted and sliced in Python."""
        criteria = validate_query(query)
        sort, order = validate_sort(sort, order)
        skip, limit = validate_page(skip, limit)
        docs = [doc for doc in self._role_all() if match(doc, criteria)]
        docs = sort_docs(docs, sort, order)
        return docs[skip : None if limit is None else skip + limit]

    def role_count(self, query: dict | None = None) -> int:
        """Return how many roles match ``query``."""
        criteria = validate_query(query)
        return sum(1 for doc in self._role_all() if match(doc, criteria))

    def _role_change(self, _id: str, etag: str | None, fields: dict, unset: Iterable[str]) -> bool:
        fields, removed = check_role_fields(fields, unset)
        _id = normalize_id(_id)
        if _id is None:
            return False
        with self._write() as conn:
            row = conn.execute("SELECT doc FROM role WHERE _id = ?", (_id,)).fetchone()
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
                (*_role_columns(doc), _id),
            )
        return True

    def role_update(self, _id: str, etag: str, fields: dict, unset: Iterable[str] = ()) -> bool:
        """Compare-and-set update on the etag; see :meth:`Store.role_update`."""
        etag = normalize_id(etag)
        if etag is None:
            check_role_fields(fields, unset)
            return False
        return self._role_change(_id, etag, fields, unset)

    def role_touch(self, _id: str, fields: dict) -> None:
        """Set ``fields`` without an etag check."""
        self._role_change(_id, None, fields, ())

    def role_delete(self, _id: str, etag: str) -> bool:
        """Delete on a matching etag and pull the id from other roles."""
        _id, etag = normalize_id(_id), normalize_id(etag)
        if _id is None or etag is None:
            return False
        with self._write() as conn:
            row = conn.execute("SELECT doc FROM role WHERE _id = ?", (_id,)).fetchone()
            if row is None or loads(row[0]).get("etag") != etag:
                return False
            conn.execute("DELETE FROM role WHERE _id = ?", (_id,))
            rows = conn.execute("SELECT _id, doc FROM role WHERE doc LIKE ?", (f'%"{_id}"%',)).fetchall()
            for other_id, text in rows:
                doc = loads(text)
                if _id in doc.get("role", ()):
                    doc["role"] = [ref for ref in doc["role"] if ref != _id]
                    conn.execute("UPDATE role SET doc = ? WHERE _id = ?", (dumps(doc), other_id))
        return True

    def role_distinct_names(self) -> list[str]:
        """Return all role names sorted by code point."""
        names = {doc.get("name") for doc in self._role_all()}
        return sorted(name for name in names if isinstance(name, str))

    # -- settings ------------------------------------------------------------

    def setting_get(self, user_id: str) -> dict | None:
        """Return a user's settings document."""
        with self._read() as conn:
            row = conn.execute("SELECT doc FROM setting WHERE user_id = ?", (_user_key(user_id),)).fetchone()
        return loads(row[0]) if row else None

    def setting_put(self, user_id: str, doc: dict) -> None:
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

    # -- key-value namespaces ------------------------------------------------

    def kv_get(self, ns: str, key: str) -> Any | None:
        """Return a live value or None."""
        check_namespace(ns)
        with self._read() as conn:
            row = conn.execute(
                "SELECT value FROM kv WHERE ns = ? AND key = ? AND (expires IS NULL OR expires > ?)",
                (ns, key, _ms(self.now())),
            ).fetchone()
        return loads(row[0]) if row else None

    def _kv_upsert(self, conn: sqlite3.Connection, ns: str, key: str, text: str, expires: Any) -> None:
        conn.execute(
            "INSERT INTO kv (ns, key, value, changed, expires) VALUES (?,?,?,?,?) "
            "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, "
            "changed = excluded.changed, expires = excluded.expires",
            (ns, key, text, _ms(self.now()), expires),
        )

    def kv_set(self, ns: str, key: str, value: Any, *, expires: datetime | None = None) -> None:
        """Store a value and stamp the change time."""
        check_namespace(ns)
        text = dumps(value)
        with self._write() as conn:
            self._kv_upsert(conn, ns, key, text, None if expires is None else _ms(expires))

    def kv_set_if_absent(self, ns: str, key: str, value: Any) -> Any:
        """Store ``value`` unless a live one exists; return the stored value."""
        check_namespace(ns)
        text = dumps(value)
        with self._write() as conn:
            row = conn.execute(
                "SELECT value FROM kv WHERE ns = ? AND key = ? AND (expires IS NULL OR expires > ?)",
                (ns, key, _ms(self.now())),
            ).fetchone()
            if row is not None:
                return loads(row[0])
            self._kv_upsert(conn, ns, key, text, None)
        return loads(text)

    def kv_delete(self, ns: str, key: str) -> None:
        """Remove one entry."""
        check_namespace(ns)
        with self._write() as conn:
            conn.execute("DELETE FROM kv WHERE ns = ? AND key = ?", (ns, key))

    def kv_changed_since(self, ns: str, since: datetime | None) -> list[tuple[str, Any, datetime]]:
        """Return live entries changed after ``since``, oldest first."""
        check_namespace(ns)
        sql = "SELECT key, value, changed FROM kv WHERE ns = ? AND (expires IS NULL OR expires > ?)"
        params: list[Any] = [ns, _ms(self.now())]
        if since is not None:
            sql += " AND changed > ?"
            params.append(_ms(since))
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY changed, key", params).fetchall()
        return [(key, loads(value), _from_ms(changed)) for key, value, changed in rows]

    def kv_purge_expired(self, now: datetime | None = None) -> int:
        """Delete expired entries; return how many."""
        cutoff = _ms(now if now is not None else self.now())
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?", (cutoff,))
        return cursor.rowcount

    # -- throttling ----------------------------------------------------------

    def throttle_hit(self, key: str, window: float) -> int:
        """Record a failure and count those within ``window`` seconds."""
        now = _ms(self.now())
        span = int(window * 1000)
        with self._write() as conn:
            conn.execute("DELETE FROM throttle WHERE expires <= ?", (now,))
            conn.execute(
                "INSERT INTO throttle (key, at, expires) VALUES (?, ?, ?)",
                (key, now, now + span),
            )
            row = conn.execute(
                "SELECT COUNT(*) FROM throttle WHERE key = ? AND at > ?",
                (key, now - span),
            ).fetchone()
        return row[0]

    def throttle_count(self, key: str, window: float) -> int:
        """Count failures of ``key`` within ``window`` seconds."""
        cutoff = _ms(self.now()) - int(window * 1000)
        with self._read() as conn:
            row = conn.execute("SELECT COUNT(*) FROM throttle WHERE key = ? AND at > ?", (key, cutoff)).fetchone()
        return row[0]

    def throttle_clear(self, key: str) -> None:
        """Forget the failures of ``key``."""
        with self._write() as conn:
            conn.execute("DELETE FROM throttle WHERE key = ?", (key,))

    # -- registry ------------------------------------------------------------

    def registry_publish(self, server_id: str, server: dict, handlers: list[dict]) -> None:
        """Replace this server's entry and handlers in one transaction."""
        now = self.now()
        server_text = dumps(server)
        handler_texts = [dumps(handler) for handler in handlers]
        seen_text = dumps(now)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO registry_server (server_id, server, heartbeat) "
                "VALUES (?, ?, ?) ON CONFLICT (server_id) DO UPDATE SET "
                "server = excluded.server, heartbeat = excluded.heartbeat",
                (server_id, server_text, _ms(now)),
            )
            conn.execute("DELETE FROM registry_handler WHERE server_id = ?", (server_id,))
            conn.executemany(
                "INSERT INTO registry_handler (server_id, seq, doc) VALUES (?, ?, ?)",
                [(server_id, seq, text) for seq, text in enumerate(handler_texts)],
            )
            conn.executemany(
                "INSERT INTO kv (ns, key, value, changed) VALUES (?, ?, ?, ?) ON CONFLICT (ns, key) DO NOTHING",
                [
                    (FIRST_SEEN_NS, rsc_id, seen_text, _ms(now))
                    for rsc_id in dict.fromkeys(h["rsc_id"] for h in handlers)
                ],
            )

    def registry_heartbeat(self, server_id: str) -> None:
        """Mark a server alive now."""
        with self._write() as conn:
            conn.execute(
                "UPDATE registry_server SET heartbeat = ? WHERE server_id = ?",
                (_ms(self.now()), server_id),
            )

    def registry_remove(self, server_id: str) -> None:
        """Remove one server's entry and handlers."""
        with self._write() as conn:
            conn.execute("DELETE FROM registry_handler WHERE server_id = ?", (server_id,))
            conn.execute("DELETE FROM registry_server WHERE server_id = ?", (server_id,))

    def registry_live(self, timeout: float) -> list[dict]:
        """Return live servers with their handlers."""
        cutoff = _ms(self.now()) - int(timeout * 1000)
        with self._read() as conn:
            servers = conn.execute(
                "SELECT server_id, server, heartbeat FROM registry_server WHERE heartbeat > ? ORDER BY server_id",
                (cutoff,),
            ).fetchall()
            handlers = conn.execute(
                "SELECT h.server_id, h.doc FROM registry_handler h JOIN registry_server s USING (server_id) "
                "WHERE s.heartbeat > ? ORDER BY h.server_id, h.seq",
                (cutoff,),
            ).fetchall()
        return [
            {
                "server_id": server_id,
                "server": loads(server),
                "heartbeat": _from_ms(heartbeat),
                "handlers": [loads(doc) for owner, doc in handlers if owner == server_id],
            }
            for server_id, server, heartbeat in servers
        ]

    def registry_purge(self, timeout: float) -> int:
        """Remove servers silent for ``timeout`` seconds or more."""
        cutoff = _ms(self.now()) - int(timeout * 1000)
        with self._write() as conn:
            conn.execute(
                "DELETE FROM registry_handler WHERE server_id IN "
                "(SELECT server_id FROM registry_server WHERE heartbeat <= ?)",
                (cutoff,),
            )
            cursor = conn.execute("DELETE FROM registry_server WHERE heartbeat <= ?", (cutoff,))
        return cursor.rowcount


def _user_key(user_id: str) -> str:
    return normalize_id(user_id) or user_id


def _after_fork_in_child() -> None:
    # even stores the application dropped in the child must not close the
    # parent's connection when they are garbage-collected
    for store in list(_STORES):
        store.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
