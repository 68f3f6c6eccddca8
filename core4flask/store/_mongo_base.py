"""What every part of the MongoDB store shares: collection names, error translation.

:class:`~.mongo.MongoStore` is composed of parts (key-value namespaces,
throttling, the registry), each a subclass of :class:`MongoBase` reaching the
database through :meth:`MongoBase._db`.

Layer: the store, a helper below the request core; what the MongoDB parts
share, above base.py.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from pymongo.database import Database
from pymongo.errors import ConfigurationError, ConnectionFailure, ExecutionTimeout, OperationFailure, WTimeoutError

from .base import Store, StoreUnavailable

#: marks this package's documents in the shared ``sys.worker`` collection
WORKER_KIND = "core4flask"

ROLE = "sys.role"
SETTING = "sys.setting"
HANDLER = "sys.handler"
WORKER = "sys.worker"
KV = "sys.kv"
THROTTLE = "sys.throttle"
STORE = "sys.store"

# Unauthorized, AuthenticationFailed: the server cannot serve us at all
_UNAVAILABLE_CODES = frozenset((13, 18))

_T = TypeVar("_T")
#: a database whose documents are plain dicts
MongoDatabase = Database[dict[str, Any]]


def guarded(method: Callable[..., _T]) -> Callable[..., _T]:
    """Turn driver failures that mean "server unavailable" into StoreUnavailable."""

    @functools.wraps(method)
    def wrapper(self: MongoBase, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except (ConnectionFailure, ExecutionTimeout, WTimeoutError) as exc:
            raise StoreUnavailable(f"MongoDB unavailable: {exc}") from exc
        except ConfigurationError as exc:
            raise StoreUnavailable(f"MongoDB not reachable: {exc}") from exc
        except OperationFailure as exc:
            if exc.code in _UNAVAILABLE_CODES:
                raise StoreUnavailable(f"MongoDB refused access: {exc}") from exc
            raise

    return wrapper


class MongoBase(Store):
    """A store kept in one MongoDB database; the parts of the MongoDB store build on it."""

    @abc.abstractmethod
    def _db(self) -> MongoDatabase:
        """Return the database of this process's client, connecting if need be."""
