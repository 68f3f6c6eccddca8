"""The storage interface every backend implements, and the helpers they share.

A store keeps users and roles (core4's ``sys.role``), per-user settings
(``sys.setting``), the documents of core4's cross-user store (``sys.store``,
keyed by paths such as ``/client-1/team-A``), users' avatar images, small
key-value namespaces, the failed-login counters and the registry of serving
processes. Two backends exist: :class:`SQLiteStore`
(embedded default) and :class:`MongoStore`. Both speak plain Python data:
ids are 24-hex strings and all datetimes are naive UTC with millisecond
precision (the precision MongoDB keeps), whatever the backend stores; those
helpers and the role-document checks live in :mod:`._documents` and are
re-exported here. Which backend serves is decided in :mod:`.factory`, which
the backends never import.

Layer: the store, a helper below the request core; the interface, below the
backends and above the query rules.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ._documents import ROLE_FIELDS as ROLE_FIELDS
from ._documents import check_role_doc as check_role_doc
from ._documents import check_role_fields as check_role_fields
from ._documents import new_id as new_id
from ._documents import normalize_id as normalize_id
from ._documents import to_naive_utc as to_naive_utc
from ._documents import utcnow as utcnow
from .query import validate_page, validate_query, validate_sort

#: the key-value namespace that remembers when a resource id was first published
FIRST_SEEN_NS = "registry.first_seen"

#: the file name of the embedded database inside the instance folder (see :mod:`.factory`)
SQLITE_FILENAME = "core4flask.sqlite3"


class StoreError(Exception):
    """Base class of the errors a store raises on purpose."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached or cannot serve the request right now.

    The web layer answers it with 503. The store recovers by itself once the
    backend is back; no restart is needed.
    """


class DuplicateKey(StoreError):
    """An insert or update would break a unique constraint.

    :attr:`field` is ``"name"``, ``"email"`` or ``"_id"``.
    """

    def __init__(self, field: str) -> None:
        super().__init__(f"duplicate key [{field}]")
        #: the field whose value is already taken
        self.field = field


def check_namespace(ns: str) -> None:
    """Reject key-value namespaces that could clash when joined with a key."""
    if not isinstance(ns, str) or not ns or "/" in ns:
        raise ValueError(f"invalid key-value namespace {ns!r}")


def check_store_path(path: str) -> str:
    """Return ``path`` if it can key a cross-user store document (``/`` or ``/a/b``)."""
    if not isinstance(path, str) or not path.startswith("/") or (path != "/" and path.endswith("/")):
        raise ValueError(f"invalid store path {path!r}")
    return path


def order_by_ids(docs: Iterable[dict[str, Any]], ids: Iterable[str]) -> list[dict[str, Any]]:
    """Return ``docs`` in the order of ``ids``, each once, missing ones left out."""
    by_id = {doc["_id"]: doc for doc in docs}
    return [by_id[_id] for _id in dict.fromkeys(ids) if _id in by_id]


class Store(abc.ABC):
    """The storage interface; see the module docstring for conventions.

    Every method may raise :class:`StoreUnavailable` when the backend is
    down. Methods taking an id treat a string that is not a 24-hex id like an
    id that does not exist.
    """

    #: returns "now" as naive UTC; tests replace it on an instance to travel in time
    clock: Callable[[], datetime] = staticmethod(utcnow)

    # -- lifecycle ---------------------------------------------------------

    @abc.abstractmethod
    def setup(self) -> None:
        """Create tables, collections and indexes; safe to call repeatedly."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release this process's connection; the next call reconnects."""

    @abc.abstractmethod
    def after_fork(self) -> None:
        """Drop the connection inherited from the parent process.

        Stores also notice a changed process id by themselves; this hook makes
        it explicit (e.g. gunicorn's ``post_fork``).
        """

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the backend answers."""

    def now(self) -> datetime:
        """Return the current time from :attr:`clock`, normalized."""
        return to_naive_utc(self.clock())

    # -- roles and users ---------------------------------------------------

    @abc.abstractmethod
    def role_insert(self, doc: dict[str, Any]) -> None:
        """Insert a role document (``_id``, ``etag`` and ``name`` required).

        Raises :class:`DuplicateKey` when ``_id``, the name (compared
        case-insensitively) or the email (likewise) is taken.
        """

    def role_get(self, _id: str) -> dict[str, Any] | None:
        """Return the role document with this id, or None."""
        docs = self.role_get_many([_id])
        return docs[0] if docs else None

    @abc.abstractmethod
    def role_get_many(self, ids: list[str]) -> list[dict[str, Any]]:
        """Return the documents of ``ids`` in that order; unknown ids are left out."""

    @abc.abstractmethod
    def role_by_name(self, name: str) -> dict[str, Any] | None:
        """Return the role whose name equals ``name`` ignoring case (never a regex)."""

    @abc.abstractmethod
    def role_by_email(self, email: str) -> dict[str, Any] | None:
        """Return the role whose email equals ``email`` ignoring case."""

    def role_find(
        self,
        query: dict[str, Any] | None = None,
        *,
        sort: str = "_id",
        order: int = 1,
        skip: int = 0,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Return the roles matching ``query`` (see :mod:`.query`).

        Sorted by ``sort`` (``order`` 1 or -1, missing values first when
        ascending, ties by ``_id``); ``limit`` None or 0 means no limit.
        Raises :class:`~.query.QueryError` for a query outside the safe subset.
        """
        criteria = validate_query(query)
        sort, order = validate_sort(sort, order)
        skip, limit = validate_page(skip, limit)
        return self._role_find(criteria, sort, order, skip, limit)

    @abc.abstractmethod
    def _role_find(
        self, criteria: dict[str, Any], sort: str, order: int, skip: int, limit: int | None
    ) -> list[dict[str, Any]]:
        """Do :meth:`role_find` with a validated query, sort and page (limit None: all)."""

    def role_count(self, query: dict[str, Any] | None = None) -> int:
        """Return how many roles match ``query``."""
        return self._role_count(validate_query(query))

    @abc.abstractmethod
    def _role_count(self, criteria: dict[str, Any]) -> int:
        """Do :meth:`role_count` with a validated query."""

    @abc.abstractmethod
    def role_update(self, _id: str, etag: str, fields: dict[str, Any], unset: Iterable[str] = ()) -> bool:
        """Set ``fields`` and remove ``unset`` if the stored etag equals ``etag``.

        Returns False when the role is missing or its etag differs. The store
        does not create a new etag: pass one in ``fields``.
        Raises :class:`DuplicateKey` when the new name or email is taken.
        """

    @abc.abstractmethod
    def role_touch(self, _id: str, fields: dict[str, Any]) -> None:
        """Set ``fields`` without an etag check (last_login, password rehash)."""

    @abc.abstractmethod
    def role_delete(self, _id: str, etag: str) -> bool:
        """Delete the role if its etag equals ``etag``.

        On success the id is also pulled from every other document's ``role``
        list, which leaves their etags unchanged.
        """

    @abc.abstractmethod
    def role_distinct_names(self) -> list[str]:
        """Return all role names, sorted by code point."""

    # -- per-user settings -------------------------------------------------

    @abc.abstractmethod
    def setting_get(self, user_id: str) -> dict[str, Any] | None:
        """Return the settings document of a user (without ``_id``), or None."""

    @abc.abstractmethod
    def setting_put(self, user_id: str, doc: dict[str, Any]) -> None:
        """Replace the settings document of a user."""

    @abc.abstractmethod
    def setting_delete(self, user_id: str) -> bool:
        """Delete the settings document of a user; False if there was none."""

    # -- core4's cross-user store (sys.store) ------------------------------

    def store_doc_get(self, path: str) -> dict[str, Any] | None:
        """Return the document stored at ``path`` (without ``_id``), or None."""
        return self.store_doc_get_many([path]).get(path)

    @abc.abstractmethod
    def store_doc_get_many(self, paths: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return ``{path: document}`` for those of ``paths`` that hold a document.

        Documents come without ``_id``. Raises ValueError for a malformed
        path (see :func:`check_store_path`).
        """

    @abc.abstractmethod
    def store_doc_put(self, path: str, doc: dict[str, Any]) -> None:
        """Create or replace the document at ``path``.

        ``doc`` is JSON-like data: string keys (none ``_id``, none starting
        with ``$`` or holding a ``.``), values as JSON has them.
        """

    @abc.abstractmethod
    def store_doc_delete(self, paths: Iterable[str]) -> list[str]:
        """Delete the documents at ``paths``; return the paths that held one, sorted."""

    @abc.abstractmethod
    def store_doc_paths_below(self, path: str) -> list[str]:
        """Return the sorted paths of all documents below ``path`` (not ``path`` itself).

        Below ``/`` is every document but the root one; below ``/a`` are
        ``/a/b`` and ``/a/b/c``, never ``/ab``.
        """

    # -- avatars -------------------------------------------------------------

    @abc.abstractmethod
    def avatar_get(self, user_id: str) -> bytes | None:
        """Return the avatar image of a user as stored, or None."""

    @abc.abstractmethod
    def avatar_put(self, user_id: str, data: bytes) -> bool:
        """Keep ``data`` as the user's avatar; False when there is no such role.

        The role document's etag does not change (as in core4, which keeps
        the image in ``sys.role``). Deleting the role removes its avatar.
        """

    # -- key-value namespaces ----------------------------------------------

    @abc.abstractmethod
    def kv_get(self, ns: str, key: str) -> Any | None:
        """Return the value stored under ``ns``/``key`` unless missing or expired."""

    @abc.abstractmethod
    def kv_set(self, ns: str, key: str, value: Any, *, expires: datetime | None = None) -> None:
        """Store ``value`` (JSON-like data, datetimes allowed) and stamp the change."""

    @abc.abstractmethod
    def kv_set_if_absent(self, ns: str, key: str, value: Any) -> Any:
        """Store ``value`` unless a live value exists; return the value now stored.

        Atomic: when processes race, all of them get the same winning value.
        """

    @abc.abstractmethod
    def kv_delete(self, ns: str, key: str) -> None:
        """Remove ``ns``/``key`` if present."""

    @abc.abstractmethod
    def kv_changed_since(self, ns: str, since: datetime | None) -> list[tuple[str, Any, datetime]]:
        """Return ``(key, value, changed_at)`` of live entries changed after ``since``.

        All entries when ``since`` is None; oldest first, ties by key. Change
        times come from the writers' clocks at millisecond precision, so a
        poller should ask again with a small overlap and ignore repeats.
        """

    @abc.abstractmethod
    def kv_purge_expired(self, now: datetime | None = None) -> int:
        """Delete entries that expired at ``now`` (default: :meth:`now`); return how many."""

    # -- failed-login throttling -------------------------------------------

    @abc.abstractmethod
    def throttle_hit(self, key: str, window: float) -> int:
        """Record one failure for ``key`` now; return failures in the last ``window`` s.

        Unconditional: a login throttle uses :meth:`throttle_reserve`, which
        counts an attempt before its password is checked.
        """

    @abc.abstractmethod
    def throttle_reserve(self, key: str, window: float, limit: int) -> str | None:
        """Record one attempt for ``key`` unless ``limit`` are recorded in the last ``window`` s.

        Returns the id of the recorded attempt, or None (nothing recorded)
        when the limit is reached. Atomic across threads, processes and
        servers: however many callers race, at most ``limit`` attempts are
        recorded within any window (until :meth:`throttle_clear`).
        """

    @abc.abstractmethod
    def throttle_release(self, key: str, attempt: str) -> None:
        """Forget one attempt recorded by :meth:`throttle_reserve` (no-op if gone)."""

    @abc.abstractmethod
    def throttle_count(self, key: str, window: float) -> int:
        """Return the failures recorded for ``key`` in the last ``window`` seconds."""

    @abc.abstractmethod
    def throttle_clear(self, key: str) -> None:
        """Forget every failure recorded for ``key``."""

    # -- registry of serving processes -------------------------------------

    @abc.abstractmethod
    def registry_publish(self, server_id: str, server: dict[str, Any], handlers: list[dict[str, Any]]) -> None:
        """Replace the entry and handler documents of ``server_id``; beat its heart.

        Each handler document needs an ``rsc_id``; the first publication of an
        ``rsc_id`` is remembered for :meth:`registry_first_seen`.
        """

    @abc.abstractmethod
    def registry_heartbeat(self, server_id: str) -> None:
        """Mark ``server_id`` as alive now (no-op for an unknown server)."""

    @abc.abstractmethod
    def registry_remove(self, server_id: str) -> None:
        """Remove the entry and handler documents of ``server_id`` only."""

    @abc.abstractmethod
    def registry_live(self, timeout: float) -> list[dict[str, Any]]:
        """Return servers whose heartbeat is younger than ``timeout`` seconds.

        Each item is ``{"server_id", "server", "heartbeat", "handlers"}``,
        sorted by ``server_id``; handlers keep their published order.
        """

    @abc.abstractmethod
    def registry_purge(self, timeout: float) -> int:
        """Remove servers silent for ``timeout`` seconds or more; return how many."""

    def registry_first_seen(self, rsc_id: str) -> datetime | None:
        """Return when ``rsc_id`` was first published (for NEW badges), or None."""
        value = self.kv_get(FIRST_SEEN_NS, rsc_id)
        return value if isinstance(value, datetime) else None
