"""What every part of the SQLite store shares: the stored JSON, time columns, transactions.

:class:`~.sqlite.SQLiteStore` is composed of parts (key-value namespaces,
throttling, the registry), each a subclass of :class:`SQLiteBase` reading
through :meth:`SQLiteBase._read` and writing through :meth:`SQLiteBase._write`.

Layer: the store, a helper below the request core; what the SQLite parts
share, above base.py.
"""

from __future__ import annotations

import abc
import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from ._documents import to_naive_utc
from .base import Store

_EPOCH = datetime(1970, 1, 1)
_MILLISECOND = timedelta(milliseconds=1)


def _encode_extra(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$date": to_naive_utc(value).isoformat(timespec="milliseconds")}
    if isinstance(value, ObjectId):
        return str(value)
    raise TypeError(f"cannot store a {type(value).__name__} value")


def _decode_extra(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and isinstance(obj.get("$date"), str):
        return datetime.fromisoformat(obj["$date"])
    return obj


def dumps(value: Any) -> str:
    """Encode a value as stored JSON text (datetimes become ``{"$date": ...}``)."""
    return json.dumps(value, default=_encode_extra, ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> Any:
    """Decode JSON text written by :func:`dumps`."""
    return json.loads(text, object_hook=_decode_extra)


def to_ms(value: datetime) -> int:
    """Return a datetime as integer milliseconds since the epoch (the time columns)."""
    return (to_naive_utc(value) - _EPOCH) // _MILLISECOND


def from_ms(value: int) -> datetime:
    """Return the naive UTC datetime of a time column."""
    return _EPOCH + value * _MILLISECOND


class SQLiteBase(Store):
    """A store kept in one SQLite file; the parts of the SQLite store build on it."""

    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        """Hold this process's connection; errors become the store's exceptions."""

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Hold the connection inside one ``BEGIN IMMEDIATE`` transaction."""
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
