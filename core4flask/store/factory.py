"""Which store serves: the one place a backend is chosen.

The backends (:mod:`.sqlite`, :mod:`.mongo`) implement :class:`~.base.Store`
and never import this module.

Layer: the store, a helper below the request core; its top: it imports the
backends, which never import it.
"""

from __future__ import annotations

import os

from .base import SQLITE_FILENAME, Store
from .mongo import MongoStore
from .sqlite import SQLiteStore

__all__ = ["open_store"]


def open_store(mongo_url: str | None, instance_path: str, *, mongo_database: str | None = None) -> Store:
    """Return the configured store (not yet connected; call :meth:`Store.setup`).

    A MongoDB store when ``mongo_url`` is set, else the embedded SQLite file
    ``<instance_path>/core4flask.sqlite3``.
    """
    if mongo_url:
        return MongoStore(mongo_url, database=mongo_database)
    return SQLiteStore(os.path.join(instance_path, SQLITE_FILENAME))
