"""core4's cross-user store in SQLite (table ``store_doc``): one JSON document per path.

Layer: the store, a helper below the request core; a part of the SQLite
backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._sqlite_base import SQLiteBase, dumps, loads
from .base import check_store_path

# SQLite's default limit on host parameters is far above this
_MAX_PARAMS = 500


class SQLiteStoreDocs(SQLiteBase):
    """The ``store_doc_*`` methods of :class:`~.base.Store`."""

    def store_doc_get_many(self, paths: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return the documents stored at ``paths``."""
        wanted = list(dict.fromkeys(check_store_path(path) for path in paths))
        found: dict[str, dict[str, Any]] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), _MAX_PARAMS):
                chunk = wanted[start : start + _MAX_PARAMS]
                marks = ",".join("?" * len(chunk))
                for path, text in conn.execute(f"SELECT path, doc FROM store_doc WHERE path IN ({marks})", chunk):
                    found[path] = loads(text)
        return found

    def store_doc_put(self, path: str, doc: dict[str, Any]) -> None:
        """Create or replace the document at ``path``."""
        text = dumps(doc)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO store_doc (path, doc) VALUES (?, ?) ON CONFLICT (path) DO UPDATE SET doc = excluded.doc",
                (check_store_path(path), text),
            )

    def store_doc_delete(self, paths: Iterable[str]) -> list[str]:
        """Delete the documents at ``paths``; return those that existed."""
        deleted = []
        with self._write() as conn:
            for path in dict.fromkeys(check_store_path(path) for path in paths):
                if conn.execute("DELETE FROM store_doc WHERE path = ?", (path,)).rowcount:
                    deleted.append(path)
        return sorted(deleted)

    def store_doc_paths_below(self, path: str) -> list[str]:
        """Return the paths of all documents below ``path``."""
        prefix = "/" if check_store_path(path) == "/" else path + "/"
        with self._read() as conn:
            rows = conn.execute(
                "SELECT path FROM store_doc WHERE substr(path, 1, ?) = ? AND path != ? ORDER BY path",
                (len(prefix), prefix, prefix),
            ).fetchall()
        return [row[0] for row in rows]
