"""The MongoDB store, sharing ``sys.role`` and ``sys.setting`` with core4.

``sys.role`` documents keep core4's schema exactly: ObjectIds for ``_id``,
``etag`` and the ``role`` list, no extra fields, and core4's indexes
``unique_name`` and ``unique_email`` (partial: documents having an email).
Those indexes are case-sensitive, as in core4; case-insensitive uniqueness
of names and emails is checked before every insert and update (a narrow race
remains between the check and the write, which the indexes close for exact
duplicates). The API speaks 24-hex strings; conversion happens here.

Other collections: ``sys.handler`` and ``sys.worker`` (the registry, marked
``kind: "core4flask"`` so core4's own readers ignore it), ``sys.kv`` and
``sys.throttle``. One client per process, created lazily and again after a
fork; short timeouts make a dead server raise :class:`StoreUnavailable`
quickly, and the driver reconnects by itself when the server is back.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import bson
from bson import ObjectId
from pymongo import ASCENDING, MongoClient, ReturnDocument
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    OperationFailure,
    WTimeoutError,
)

from .base import (
    FIRST_SEEN_NS,
    DuplicateKey,
    Store,
    StoreUnavailable,
    check_namespace,
    check_role_doc,
    check_role_fields,
    new_id,
    normalize_id,
    order_by_ids,
)
from .query import to_mongo_query, validate_page, validate_query, validate_sort

#: the database used when neither the URL nor the caller names one
DEFAULT_DATABASE = "core4"
#: marks this package's documents in the shared ``sys.worker`` collection
WORKER_KIND = "core4flask"

ROLE = "sys.role"
SETTING = "sys.setting"
HANDLER = "sys.handler"
WORKER = "sys.worker"
KV = "sys.kv"
THROTTLE = "sys.throttle"

# core4 stores an avatar in sys.role but never loads it with the role
_ROLE_PROJECTION = {"avatar": False}
# Unauthorized, AuthenticationFailed: the server cannot serve us at all
_UNAVAILABLE_CODES = frozenset((13, 18))

# Clients inherited through fork() must not be used or closed in the child.
_INHERITED: list[Any] = []
_STORES: weakref.WeakSet[MongoStore] = weakref.WeakSet()

_T = TypeVar("_T")


def _guarded(method: Callable[..., _T]) -> Callable[..., _T]:
    """Turn driver failures that mean "server unavailable" into StoreUnavailable."""

    @functools.wraps(method)
    def wrapper(self: MongoStore, *args: Any, **kwargs: Any) -> _T:
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


def _oid(value: Any) -> Any:
    """An id string as ObjectId; anything else unchanged."""
    normalized = normalize_id(value) if isinstance(value, str) else None
    return ObjectId(normalized) if normalized else value


def _to_mongo_role(doc: dict) -> dict:
    converted = dict(doc)
    for field in ("_id", "etag"):
        if field in converted:
            converted[field] = ObjectId(converted[field])
    if "role" in converted:
        converted["role"] = [ObjectId(ref) for ref in converted["role"]]
    return converted


def _from_mongo(value: Any) -> Any:
    """Replace ObjectIds by their hex strings, recursively."""
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, dict):
        return {key: _from_mongo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_mongo(item) for item in value]
    return value


def _roundtrip(value: Any) -> Any:
    """The value as MongoDB returns it after storing it."""
    return bson.decode(bson.encode({"v": value}))["v"]


def _exact_ci(field: str, value: str) -> dict:
    return {field: {"$regex": f"^{re.escape(value)}$", "$options": "i"}}


class MongoStore(Store):
    """The store in a MongoDB database."""

    def __init__(
        self,
        url: str,
        database: str | None = None,
        client_factory: Callable[..., Any] | None = None,
        timeout_ms: int = 1000,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mongodb", "mongodb+srv"):
            raise ValueError("a MongoDB URL starts with mongodb:// or mongodb+srv://")
        #: the connection URL
        self.url = url
        #: the database name: from the URL path, else ``database``, else core4
        self.database = unquote(parts.path.lstrip("/")) or database or DEFAULT_DATABASE
        #: seconds-scale timeouts given to the driver unless the URL sets them
        self.timeout_ms = timeout_ms
        self._factory = client_factory
        self._url_options = {key.lower() for key, _ in parse_qsl(parts.query)}
        self._client: Any = None
        self._pid = os.getpid()
        _STORES.add(self)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        parts = urlsplit(self.url)
        host = parts.netloc.rpartition("@")[2]
        return f"MongoStore('{parts.scheme}://{host}', database={self.database!r})"

    # -- connection handling -------------------------------------------------

    def _client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"tz_aware": False}
        for name, value in (
            ("serverSelectionTimeoutMS", self.timeout_ms),
            ("connectTimeoutMS", self.timeout_ms),
            ("socketTimeoutMS", max(10 * self.timeout_ms, 10000)),
        ):
            if name.lower() not in self._url_options:
                options[name] = value
        return options

    def _db(self) -> Any:
        if os.getpid() != self._pid:
            self.after_fork()
        with self._lock:
            if self._client is None:
                factory = self._factory or MongoClient
                self._client = factory(self.url, **self._client_options())
            return self._client[self.database]

    @_guarded
    def setup(self) -> None:
        """Create core4's role indexes and the indexes of the other collections."""
        db = self._db()
        role = db[ROLE]
        existing = role.index_information()
        if "unique_name" not in existing:
            role.create_index([("name", ASCENDING)], unique=True, name="unique_name")
        if "unique_email" not in existing:
            role.create_index(
                [("email", ASCENDING)],
                unique=True,
                name="unique_email",
                partialFilterExpression={"email": {"$exists": True}},
            )
        db[KV].create_index([("ns", ASCENDING), ("changed", ASCENDING)], name="ns_changed")
        db[KV].create_index("expires", name="ttl", expireAfterSeconds=0)
        db[THROTTLE].create_index([("key", ASCENDING), ("at", ASCENDING)], name="key_at")
        db[THROTTLE].create_index("expires", name="ttl", expireAfterSeconds=0)
        db[HANDLER].create_index([("server_id", ASCENDING), ("seq", ASCENDING)], name="server_seq")

    def close(self) -> None:
        """Close this process's client."""
        with self._lock:
            if self._client is not None and os.getpid() == self._pid:
                self._client.close()
            self._client = None

    def after_fork(self) -> None:
        """Forget the parent's client; a new one is made on next use."""
        if os.getpid() == self._pid:
            self.close()
            return
        if self._client is not None:
            _INHERITED.append(self._client)
        self._client = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    @_guarded
    def ping(self) -> None:
        """Ask the server for a ping."""
        self._db().command("ping")

    # -- roles ---------------------------------------------------------------

    def _role_conflict(self, doc: dict, exclude: ObjectId | None = None) -> str | None:
        """Which of name/email another role already holds, ignoring case."""
        for field in ("name", "email"):
            value = doc.get(field)
            if not isinstance(value, str):
                continue
            found = self._role_by(field, value)
            if found is not None and found["_id"] != exclude:
                return field
        return None

    def _role_by(self, field: str, value: str) -> dict | None:
        if not isinstance(value, str):
            return None
        cursor = self._db()[ROLE].find(_exact_ci(field, value), _ROLE_PROJECTION)
        for doc in cursor:
            if isinstance(doc.get(field), str) and doc[field].lower() == value.lower():
                return doc
        return None

    def _duplicate(self, exc: DuplicateKeyError, doc: dict) -> DuplicateKey:
        pattern = (exc.details or {}).get("keyPattern") or {}
        text = str(exc)
        for field, index in (("name", "unique_name"), ("email", "unique_email")):
            if field in pattern or index in text:
                return DuplicateKey(field)
        return DuplicateKey(self._role_conflict(doc) or "_id")

    @_guarded
    def role_insert(self, doc: dict) -> None:
        """Insert a role; see :meth:`Store.role_insert`."""
        doc = _to_mongo_role(check_role_doc(doc))
        conflict = self._role_conflict(doc)
        if conflict:
            raise DuplicateKey(conflict)
        try:
            self._db()[ROLE].insert_one(doc)
        except DuplicateKeyError as exc:
            raise self._duplicate(exc, doc) from None

    @_guarded
    def role_get_many(self, ids: list[str]) -> list[dict]:
        """Return roles by id, in the order of ``ids``."""
        wanted = [i for i in map(normalize_id, ids) if i is not None]
        if not wanted:
            return []
        found = self._db()[ROLE].find(
            {"_id": {"$in": [ObjectId(i) for i in dict.fromkeys(wanted)]}},
            _ROLE_PROJECTION,
        )
        return order_by_ids(map(_from_mongo, found), wanted)

    @_guarded
    def role_by_name(self, name: str) -> dict | None:
        """Return the role named ``name``, ignoring case."""
        return _from_mongo(self._role_by("name", name))

    @_guarded
    def role_by_email(self, email: str) -> dict | None:
        """Return the role with this email, ignoring case."""
        return _from_mongo(self._role_by("email", email))

    @_guarded
    def role_find(
        self,
        query: dict | None = None,
        *,
        sort: str = "_id",
        order: int = 1,
        skip: int = 0,
        limit: int | None = None,
    ) -> list[dict]:
        """Return matching roles; MongoDB filters, sorts and slices."""
        criteria = to_mongo_query(validate_query(query))
        sort, order = validate_sort(sort, order)
        skip, limit = validate_page(skip, limit)
        keys = [(sort, order)] if sort == "_id" else [(sort, order), ("_id", ASCENDING)]
        cursor = self._db()[ROLE].find(criteria, _ROLE_PROJECTION).sort(keys).skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return [_from_mongo(doc) for doc in cursor]

    @_guarded
    def role_count(self, query: dict | None = None) -> int:
        """Return how many roles match ``query``."""
        return self._db()[ROLE].count_documents(to_mongo_query(validate_query(query)))

    def _role_change(self, _id: str, etag: str | None, fields: dict, unset: Iterable[str]) -> bool:
        fields, removed = check_role_fields(fields, unset)
        fields = _to_mongo_role(fields)
        if normalize_id(_id) is None or (etag is not None and normalize_id(etag) is None):
            return False
        selector: dict[str, Any] = {"_id": ObjectId(normalize_id(_id))}
        if etag is not None:
            selector["etag"] = ObjectId(normalize_id(etag))
        conflict = self._role_conflict(fields, exclude=selector["_id"])
        if conflict:
            raise DuplicateKey(conflict)
        update: dict[str, Any] = {}
        if fields:
            update["$set"] = fields
        if removed:
            update["$unset"] = dict.fromkeys(removed, "")
        collection = self._db()[ROLE]
        if not update:
            return collection.count_documents(selector, limit=1) == 1
        try:
            return collection.update_one(selector, update).matched_count == 1
        except DuplicateKeyError as exc:
            raise self._duplicate(exc, fields) from None

    @_guarded
    def role_update(self, _id: str, etag: str, fields: dict, unset: Iterable[str] = ()) -> bool:
        """Compare-and-set update on the etag; see :meth:`Store.role_update`."""
        if normalize_id(etag) is None:
            check_role_fields(fields, unset)
            return False
        return self._role_change(_id, etag, fields, unset)

    @_guarded
    def role_touch(self, _id: str, fields: dict) -> None:
        """Set ``fields`` without an etag check."""
        self._role_change(_id, None, fields, ())

    @_guarded
    def role_delete(self, _id: str, etag: str) -> bool:
        """Delete on a matching etag, then pull the id from other roles."""
        _id, etag = normalize_id(_id), normalize_id(etag)
        if _id is None or etag is None:
            return False
        oid = ObjectId(_id)
        collection = self._db()[ROLE]
        result = collection.delete_one({"_id": oid, "etag": ObjectId(etag)})
        if result.deleted_count != 1:
            return False
        collection.update_many({"role": oid}, {"$pull": {"role": oid}})
        return True

    @_guarded
    def role_distinct_names(self) -> list[str]:
        """Return all role names sorted by code point."""
        names = self._db()[ROLE].distinct("name")
        return sorted(name for name in names if isinstance(name, str))

    # -- settings ------------------------------------------------------------

    @_guarded
    def setting_get(self, user_id: str) -> dict | None:
        """Return a user's settings document."""
        doc = self._db()[SETTING].find_one({"_id": _oid(user_id)}, {"_id": False})
        return doc

    @_guarded
    def setting_put(self, user_id: str, doc: dict) -> None:
        """Replace a user's settings document."""
        key = _oid(user_id)
        body = {"_id": key, **{k: v for k, v in doc.items() if k != "_id"}}
        self._db()[SETTING].replace_one({"_id": key}, body, upsert=True)

    @_guarded
    def setting_delete(self, user_id: str) -> bool:
        """Delete a user's settings document."""
        return self._db()[SETTING].delete_one({"_id": _oid(user_id)}).deleted_count > 0

    # -- key-value namespaces ------------------------------------------------

    @_guarded
    def kv_get(self, ns: str, key: str) -> Any | None:
        """Return a live value or None."""
        check_namespace(ns)
        doc = self._db()[KV].find_one({"_id": f"{ns}/{key}"})
        if doc is None or (doc.get("expires") and doc["expires"] <= self.now()):
            return None
        return doc.get("value")

    @_guarded
    def kv_set(self, ns: str, key: str, value: Any, *, expires: datetime | None = None) -> None:
        """Store a value and stamp the change time."""
        check_namespace(ns)
        entry = {"ns": ns, "key": key, "value": value, "changed": self.now(), "expires": expires}
        self._db()[KV].update_one({"_id": f"{ns}/{key}"}, {"$set": entry}, upsert=True)

    @_guarded
    def kv_set_if_absent(self, ns: str, key: str, value: Any) -> Any:
        """Store ``value`` unless a live one exists; return the stored value."""
        check_namespace(ns)
        collection = self._db()[KV]
        _id = f"{ns}/{key}"
        for _attempt in range(5):
            now = self.now()
            entry = {"ns": ns, "key": key, "value": value, "changed": now, "expires": None}
            try:
                collection.insert_one({"_id": _id, **entry})
                return _roundtrip(value)
            except DuplicateKeyError:
                pass
            current = collection.find_one_and_update(
                {"_id": _id, "expires": {"$lte": now}},
                {"$set": entry},
                return_document=ReturnDocument.AFTER,
            )
            if current is None:
                current = collection.find_one({"_id": _id})
            if current is not None and not (current.get("expires") and current["expires"] <= now):
                return current.get("value")
        raise StoreUnavailable(f"key [{_id}] kept changing; try again")

    @_guarded
    def kv_delete(self, ns: str, key: str) -> None:
        """Remove one entry."""
        check_namespace(ns)
        self._db()[KV].delete_one({"_id": f"{ns}/{key}"})

    @_guarded
    def kv_changed_since(self, ns: str, since: datetime | None) -> list[tuple[str, Any, datetime]]:
        """Return live entries changed after ``since``, oldest first."""
        check_namespace(ns)
        criteria: dict[str, Any] = {"ns": ns}
        if since is not None:
            criteria["changed"] = {"$gt": since}
        now = self.now()
        cursor = self._db()[KV].find(criteria).sort([("changed", 1), ("key", 1)])
        return [
            (doc["key"], doc.get("value"), doc["changed"])
            for doc in cursor
            if not (doc.get("expires") and doc["expires"] <= now)
        ]

    @_guarded
    def kv_purge_expired(self, now: datetime | None = None) -> int:
        """Delete expired entries; return how many."""
        cutoff = now if now is not None else self.now()
        result = self._db()[KV].delete_many({"expires": {"$ne": None, "$lte": cutoff}})
        return result.deleted_count

    # -- throttling ----------------------------------------------------------

    @_guarded
    def throttle_hit(self, key: str, window: float) -> int:
        """Record a failure and count those within ``window`` seconds."""
        now = self.now()
        span = timedelta(seconds=window)
        collection = self._db()[THROTTLE]
        collection.delete_many({"expires": {"$lte": now}})
        collection.insert_one({"key": key, "at": now, "expires": now + span})
        return collection.count_documents({"key": key, "at": {"$gt": now - span}})

    @_guarded
    def throttle_count(self, key: str, window: float) -> int:
        """Count failures of ``key`` within ``window`` seconds."""
        cutoff = self.now() - timedelta(seconds=window)
        return self._db()[THROTTLE].count_documents({"key": key, "at": {"$gt": cutoff}})

    @_guarded
    def throttle_clear(self, key: str) -> None:
        """Forget the failures of ``key``."""
        self._db()[THROTTLE].delete_many({"key": key})

    # -- registry ------------------------------------------------------------

    @_guarded
    def registry_publish(self, server_id: str, server: dict, handlers: list[dict]) -> None:
        """Replace this server's entry and handlers.

        New handler documents carry a fresh generation id; readers take only
        the generation the server entry names, so they never see a half
        replaced set.
        """
        db = self._db()
        now = self.now()
        generation = new_id()
        docs = [
            {"server_id": server_id, "gen": generation, "seq": seq, "handler": handler}
            for seq, handler in enumerate(handlers)
        ]
        if docs:
            db[HANDLER].insert_many(docs)
        db[WORKER].replace_one(
            {"_id": server_id},
            {"_id": server_id, "kind": WORKER_KIND, "gen": generation, "server": server, "heartbeat": now},
            upsert=True,
        )
        db[HANDLER].delete_many({"server_id": server_id, "gen": {"$ne": generation}})
        self._remember_first_seen([handler["rsc_id"] for handler in handlers], now)

    def _remember_first_seen(self, rsc_ids: list[str], now: datetime) -> None:
        for rsc_id in dict.fromkeys(rsc_ids):
            entry = {"ns": FIRST_SEEN_NS, "key": rsc_id, "value": now, "changed": now, "expires": None}
            try:
                self._db()[KV].update_one({"_id": f"{FIRST_SEEN_NS}/{rsc_id}"}, {"$setOnInsert": entry}, upsert=True)
            except DuplicateKeyError:  # another process was first: fine
                pass

    @_guarded
    def registry_heartbeat(self, server_id: str) -> None:
        """Mark a server alive now."""
        self._db()[WORKER].update_one({"_id": server_id, "kind": WORKER_KIND}, {"$set": {"heartbeat": self.now()}})

    @_guarded
    def registry_remove(self, server_id: str) -> None:
        """Remove one server's entry and handlers."""
        db = self._db()
        db[WORKER].delete_one({"_id": server_id, "kind": WORKER_KIND})
        db[HANDLER].delete_many({"server_id": server_id})

    @_guarded
    def registry_live(self, timeout: float) -> list[dict]:
        """Return live servers with their handlers."""
        db = self._db()
        cutoff = self.now() - timedelta(seconds=timeout)
        workers = list(db[WORKER].find({"kind": WORKER_KIND, "heartbeat": {"$gt": cutoff}}).sort("_id", ASCENDING))
        generation = {worker["_id"]: worker.get("gen") for worker in workers}
        handlers: dict[str, list[dict]] = {server_id: [] for server_id in generation}
        cursor = db[HANDLER].find({"server_id": {"$in": list(generation)}})
        for doc in cursor.sort([("server_id", ASCENDING), ("seq", ASCENDING)]):
            if doc.get("gen") == generation.get(doc["server_id"]):
                handlers[doc["server_id"]].append(doc["handler"])
        return [
            {
                "server_id": worker["_id"],
                "server": worker.get("server", {}),
                "heartbeat": worker["heartbeat"],
                "handlers": handlers[worker["_id"]],
            }
            for worker in workers
        ]

    @_guarded
    def registry_purge(self, timeout: float) -> int:
        """Remove servers silent for ``timeout`` seconds or more."""
        db = self._db()
        cutoff = self.now() - timedelta(seconds=timeout)
        dead = [
            doc["_id"] for doc in db[WORKER].find({"kind": WORKER_KIND, "heartbeat": {"$lte": cutoff}}, {"_id": True})
        ]
        if not dead:
            return 0
        db[HANDLER].delete_many({"server_id": {"$in": dead}})
        return db[WORKER].delete_many({"_id": {"$in": dead}}).deleted_count


def _after_fork_in_child() -> None:
    # even stores the application dropped in the child must not close the
    # parent's connection when they are garbage-collected
    for store in list(_STORES):
        store.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
