"""core4's cross-user store in MongoDB: ``sys.store``, shared with core4.

Each document has its path as ``_id`` and its keys at the top level, as
core4's ``StoreHandler`` writes them.

Layer: the store, a helper below the request core; a part of the MongoDB
backend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ._mongo_base import STORE, MongoBase, guarded
from .base import check_store_path


class MongoStoreDocs(MongoBase):
    """The ``store_doc_*`` methods of :class:`~.base.Store`."""

    @guarded
    def store_doc_get_many(self, paths: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return the documents stored at ``paths``."""
        wanted = list(dict.fromkeys(check_store_path(path) for path in paths))
        if not wanted:
            return {}
        found = {}
        for doc in self._db()[STORE].find({"_id": {"$in": wanted}}):
            path = doc.pop("_id")
            if isinstance(path, str):
                found[path] = doc
        return found

    @guarded
    def store_doc_put(self, path: str, doc: dict[str, Any]) -> None:
        """Create or replace the document at ``path``."""
        path = check_store_path(path)
        self._db()[STORE].replace_one({"_id": path}, {**doc, "_id": path}, upsert=True)

    @guarded
    def store_doc_delete(self, paths: Iterable[str]) -> list[str]:
        """Delete the documents at ``paths``; return those that existed."""
        collection = self._db()[STORE]
        deleted = []
        for path in dict.fromkeys(check_store_path(path) for path in paths):
            if collection.delete_one({"_id": path}).deleted_count:
                deleted.append(path)
        return sorted(deleted)

    @guarded
    def store_doc_paths_below(self, path: str) -> list[str]:
        """Return the paths of all documents below ``path``."""
        prefix = "/" if check_store_path(path) == "/" else path + "/"
        cursor = self._db()[STORE].find({"_id": {"$regex": "^" + re.escape(prefix)}}, {"_id": True})
        paths = (doc["_id"] for doc in cursor)
        return sorted(p for p in paths if isinstance(p, str) and p.startswith(prefix) and p != prefix)
