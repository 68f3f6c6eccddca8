"""Users' avatar images in SQLite (table ``avatar``, one row per user).

Layer: the store, a helper below the request core; a part of the SQLite
backend.
"""

from __future__ import annotations

from ._sqlite_base import SQLiteBase
from .base import normalize_id


class SQLiteAvatars(SQLiteBase):
    """The ``avatar_*`` methods of :class:`~.base.Store`."""

    def avatar_get(self, user_id: str) -> bytes | None:
        """Return a user's avatar image, or None."""
        _id = normalize_id(user_id)
        if _id is None:
            return None
        with self._read() as conn:
            row = conn.execute("SELECT data FROM avatar WHERE user_id = ?", (_id,)).fetchone()
        return bytes(row[0]) if row else None

    def avatar_put(self, user_id: str, data: bytes) -> bool:
        """Keep ``data`` as the avatar of an existing role."""
        _id = normalize_id(user_id)
        if _id is None:
            return False
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM role WHERE _id = ?", (_id,)).fetchone() is None:
                return False
            conn.execute(
                "INSERT INTO avatar (user_id, data) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET data = excluded.data",
                (_id, bytes(data)),
            )
        return True
