"""The storage layer: one interface (:class:`Store`), a SQLite and a MongoDB backend.

A pure helper below the request core: plain Python data in and out, no Flask.
:func:`open_store` (:mod:`.factory`) picks the backend.
"""

from __future__ import annotations

from .base import DuplicateKey as DuplicateKey
from .base import Store as Store
from .base import StoreError as StoreError
from .base import StoreUnavailable as StoreUnavailable
from .base import new_id as new_id
from .base import normalize_id as normalize_id
from .base import utcnow as utcnow
from .factory import open_store as open_store
from .mongo import MongoStore as MongoStore
from .query import QueryError as QueryError
from .query import match as match
from .query import validate_query as validate_query
from .sqlite import SQLiteStore as SQLiteStore
