"""Key-value namespaces and failed-login counters in SQLite (tables ``kv``, ``throttle``).

Times are integer milliseconds; an entry whose ``expires`` has passed counts
as absent until a purge deletes it.

Layer: the store, a helper below the request core; a part of the SQLite
backend.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from ._sqlite_base import SQLiteBase, dumps, from_ms, loads, to_ms
from .base import check_namespace


class SQLiteKeyValue(SQLiteBase):
    """The key-value namespaces of :class:`~.base.Store`, one row per entry."""

    def kv_get(self, ns: str, key: str) -> Any | None:
        """Return a live value or None."""
        check_namespace(ns)
        with self._read() as conn:
            row = conn.execute(
                "SELECT value FROM kv WHERE ns = ? AND key = ? AND (expires IS NULL OR expires > ?)",
                (ns, key, to_ms(self.now())),
            ).fetchone()
        return loads(row[0]) if row else None

    def _kv_upsert(self, conn: sqlite3.Connection, ns: str, key: str, text: str, expires: Any) -> None:
        conn.execute(
            "INSERT INTO kv (ns, key, value, changed, expires) VALUES (?,?,?,?,?) "
            "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, "
            "changed = excluded.changed, expires = excluded.expires",
            (ns, key, text, to_ms(self.now()), expires),
        )

    def kv_set(self, ns: str, key: str, value: Any, *, expires: datetime | None = None) -> None:
        """Store a value and stamp the change time."""
        check_namespace(ns)
        text = dumps(value)
        with self._write() as conn:
            self._kv_upsert(conn, ns, key, text, None if expires is None else to_ms(expires))

    def kv_set_if_absent(self, ns: str, key: str, value: Any) -> Any:
        """Store ``value`` unless a live one exists; return the stored value."""
        check_namespace(ns)
        text = dumps(value)
        with self._write() as conn:
            row = conn.execute(
                "SELECT value FROM kv WHERE ns = ? AND key = ? AND (expires IS NULL OR expires > ?)",
                (ns, key, to_ms(self.now())),
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
        params: list[Any] = [ns, to_ms(self.now())]
        if since is not None:
            sql += " AND changed > ?"
            params.append(to_ms(since))
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY changed, key", params).fetchall()
        return [(key, loads(value), from_ms(changed)) for key, value, changed in rows]

    def kv_purge_expired(self, now: datetime | None = None) -> int:
        """Delete expired entries; return how many."""
        cutoff = to_ms(now if now is not None else self.now())
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?", (cutoff,))
        return cursor.rowcount


class SQLiteThrottle(SQLiteBase):
    """The failed-login counters of :class:`~.base.Store`, one row per failure."""

    def throttle_hit(self, key: str, window: float) -> int:
        """Record a failure and count those within ``window`` seconds."""
        now = to_ms(self.now())
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
        return int(row[0])

    def throttle_reserve(self, key: str, window: float, limit: int) -> str | None:
        """Record an attempt unless ``limit`` are recorded within ``window`` seconds.

        Counting and recording happen in one ``BEGIN IMMEDIATE`` transaction,
        which holds the file's write lock: racing processes take turns.
        """
        now = to_ms(self.now())
        span = int(window * 1000)
        with self._write() as conn:
            conn.execute("DELETE FROM throttle WHERE expires <= ?", (now,))
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM throttle WHERE key = ? AND at > ?", (key, now - span)
            ).fetchone()
            if count >= limit:
                return None
            cursor = conn.execute("INSERT INTO throttle (key, at, expires) VALUES (?, ?, ?)", (key, now, now + span))
        # the time makes the id unique even if SQLite reuses the rowid of a deleted row
        return f"{cursor.lastrowid}-{now}"

    def throttle_release(self, key: str, attempt: str) -> None:
        """Forget one recorded attempt."""
        rowid, _, at = attempt.partition("-")
        if not (rowid.isdigit() and at.isdigit()):
            return
        with self._write() as conn:
            conn.execute("DELETE FROM throttle WHERE rowid = ? AND key = ? AND at = ?", (int(rowid), key, int(at)))

    def throttle_count(self, key: str, window: float) -> int:
        """Count failures of ``key`` within ``window`` seconds."""
        cutoff = to_ms(self.now()) - int(window * 1000)
        with self._read() as conn:
            row = conn.execute("SELECT COUNT(*) FROM throttle WHERE key = ? AND at > ?", (key, cutoff)).fetchone()
        return int(row[0])

    def throttle_clear(self, key: str) -> None:
        """Forget the failures of ``key``."""
        with self._write() as conn:
            conn.execute("DELETE FROM throttle WHERE key = ?", (key,))
