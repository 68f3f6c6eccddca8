"""The registry of serving processes in SQLite (tables ``registry_server``, ``registry_handler``).

Layer: the store, a helper below the request core; a part of the SQLite
backend.
"""

from __future__ import annotations

from typing import Any

from ._sqlite_base import SQLiteBase, dumps, from_ms, loads, to_ms
from .base import FIRST_SEEN_NS


class SQLiteRegistry(SQLiteBase):
    """The registry of :class:`~.base.Store`: a row per server, one per handler."""

    def registry_publish(self, server_id: str, server: dict[str, Any], handlers: list[dict[str, Any]]) -> None:
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
                (server_id, server_text, to_ms(now)),
            )
            conn.execute("DELETE FROM registry_handler WHERE server_id = ?", (server_id,))
            conn.executemany(
                "INSERT INTO registry_handler (server_id, seq, doc) VALUES (?, ?, ?)",
                [(server_id, seq, text) for seq, text in enumerate(handler_texts)],
            )
            conn.executemany(
                "INSERT INTO kv (ns, key, value, changed) VALUES (?, ?, ?, ?) ON CONFLICT (ns, key) DO NOTHING",
                [
                    (FIRST_SEEN_NS, rsc_id, seen_text, to_ms(now))
                    for rsc_id in dict.fromkeys(h["rsc_id"] for h in handlers)
                ],
            )

    def registry_heartbeat(self, server_id: str) -> None:
        """Mark a server alive now."""
        with self._write() as conn:
            conn.execute(
                "UPDATE registry_server SET heartbeat = ? WHERE server_id = ?",
                (to_ms(self.now()), server_id),
            )

    def registry_remove(self, server_id: str) -> None:
        """Remove one server's entry and handlers."""
        with self._write() as conn:
            conn.execute("DELETE FROM registry_handler WHERE server_id = ?", (server_id,))
            conn.execute("DELETE FROM registry_server WHERE server_id = ?", (server_id,))

    def registry_live(self, timeout: float) -> list[dict[str, Any]]:
        """Return live servers with their handlers."""
        cutoff = to_ms(self.now()) - int(timeout * 1000)
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
                "heartbeat": from_ms(heartbeat),
                "handlers": [loads(doc) for owner, doc in handlers if owner == server_id],
            }
            for server_id, server, heartbeat in servers
        ]

    def registry_purge(self, timeout: float) -> int:
        """Remove servers silent for ``timeout`` seconds or more."""
        cutoff = to_ms(self.now()) - int(timeout * 1000)
        with self._write() as conn:
            conn.execute(
                "DELETE FROM registry_handler WHERE server_id IN "
                "(SELECT server_id FROM registry_server WHERE heartbeat <= ?)",
                (cutoff,),
            )
            cursor = conn.execute("DELETE FROM registry_server WHERE heartbeat <= ?", (cutoff,))
        return cursor.rowcount
