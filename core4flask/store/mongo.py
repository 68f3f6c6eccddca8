"""The MongoDB store, sharing ``sys.role`` and ``sys.setting`` with core4.

``sys.role`` documents keep core4's schema exactly: ObjectIds for ``_id``,
``etag`` and the ``role`` list, no extra fields, and core4's indexes
``unique_name`` and ``unique_email`` (partial: documents having an email).
Those indexes are case-sensitive, as in core4; case-insensitive uniqueness
of names and emails is checked before every insert and update (a narrow race
remains between the check and the write, which the indexes close for exact
duplicates). The API speaks 24-hex strings; conversion happens here.

Other collections: ``sys.store`` (core4's cross-user store, shared with
core4), ``sys.handler`` and ``sys.worker`` (the registry, marked
``kind: "core4flask"`` so core4's own readers ignore it), ``sys.kv`` and
``sys.throttle``. Avatars live in ``sys.role`` as core4 keeps them (field
``avatar``, never loaded with the role). One client per process, created lazily and again after a
fork; short timeouts make a dead server raise :class:`StoreUnavailable`
quickly, and the driver reconnects by itself when the server is back.

Layer: the store, a helper below the request core; a backend: it builds on
base.py and its _mongo_* parts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from bson import ObjectId
from pymongo import ASCENDING, MongoClient
from pymongo.errors import DuplicateKeyError, ExecutionTimeout

from ._mongo_avatar import MongoAvatars
from ._mongo_base import HANDLER as HANDLER
from ._mongo_base import KV as KV
from ._mongo_base import ROLE as ROLE
from ._mongo_base import SETTING as SETTING
from ._mongo_base import STORE as STORE
from ._mongo_base import THROTTLE as THROTTLE
from ._mongo_base import WORKER as WORKER
from ._mongo_base import WORKER_KIND as WORKER_KIND
from ._mongo_base import MongoDatabase, guarded
from ._mongo_kv import MongoKeyValue, MongoThrottle
from ._mongo_registry import MongoRegistry
from ._mongo_store_docs import MongoStoreDocs
from ._process import ProcessHandle
from .base import DuplicateKey, check_role_doc, check_role_fields, normalize_id, order_by_ids
from .query import REGEX_TIME_LIMIT, QueryError, to_mongo_query, uses_regex

#: the database used when neither the URL nor the caller names one
DEFAULT_DATABASE = "core4"

# core4 stores an avatar in sys.role but never loads it with the role
_ROLE_PROJECTION = {"avatar": False}


def _oid(value: Any) -> Any:
    """An id string as ObjectId; anything else unchanged."""
    normalized = normalize_id(value) if isinstance(value, str) else None
    return ObjectId(normalized) if normalized else value


def _to_mongo_role(doc: dict[str, Any]) -> dict[str, Any]:
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


@contextmanager
def _regex_time_limit(criteria: dict[str, Any]) -> Iterator[int | None]:
    """The server time (ms) a role query with client regexes may take, None without.

    MongoDB runs the regexes itself, out of reach of :func:`.query.match`'s
    deadline; running over is the query's fault (400), not the server's (503).
    """
    if not uses_regex(criteria):
        yield None
        return
    try:
        yield math.ceil(REGEX_TIME_LIMIT * 1000)
    except ExecutionTimeout:
        raise QueryError(f"the filter's regular expressions took too long (over {REGEX_TIME_LIMIT} s)") from None


def _exact_ci(field: str, value: str) -> dict[str, Any]:
    return {field: {"$regex": f"^{re.escape(value)}$", "$options": "i"}}


class MongoStore(MongoKeyValue, MongoThrottle, MongoRegistry, MongoStoreDocs, MongoAvatars):
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
        self._client: ProcessHandle[Any] = ProcessHandle()

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

    def _connect(self) -> Any:
        factory = self._factory or MongoClient
        return factory(self.url, **self._client_options())

    def _db(self) -> MongoDatabase:
        with self._client.hold(self._connect) as client:
            database: MongoDatabase = client[self.database]
            return database

    @guarded
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
        self._client.close()

    def after_fork(self) -> None:
        """Forget the parent's client; a new one is made on next use."""
        self._client.after_fork()

    @guarded
    def ping(self) -> None:
        """Ask the server for a ping."""
        self._db().command("ping")

    # -- roles ---------------------------------------------------------------

    def _role_conflict(self, doc: dict[str, Any], exclude: ObjectId | None = None) -> str | None:
        """Which of name/email another role already holds, ignoring case."""
        for field in ("name", "email"):
            value = doc.get(field)
            if not isinstance(value, str):
                continue
            found = self._role_by(field, value)
            if found is not None and found["_id"] != exclude:
                return field
        return None

    def _role_by(self, field: str, value: str) -> dict[str, Any] | None:
        if not isinstance(value, str):
            return None
        cursor = self._db()[ROLE].find(_exact_ci(field, value), _ROLE_PROJECTION)
        for doc in cursor:
            if isinstance(doc.get(field), str) and doc[field].lower() == value.lower():
                return doc
        return None

    def _duplicate(self, exc: DuplicateKeyError, doc: dict[str, Any]) -> DuplicateKey:
        pattern = (exc.details or {}).get("keyPattern") or {}
        text = str(exc)
        for field, index in (("name", "unique_name"), ("email", "unique_email")):
            if field in pattern or index in text:
                return DuplicateKey(field)
        return DuplicateKey(self._role_conflict(doc) or "_id")

    @guarded
    def role_insert(self, doc: dict[str, Any]) -> None:
        """Insert a role; see :meth:`Store.role_insert`."""
        doc = _to_mongo_role(check_role_doc(doc))
        conflict = self._role_conflict(doc)
        if conflict:
            raise DuplicateKey(conflict)
        try:
            self._db()[ROLE].insert_one(doc)
        except DuplicateKeyError as exc:
            raise self._duplicate(exc, doc) from None

    @guarded
    def role_get_many(self, ids: list[str]) -> list[dict[str, Any]]:
        """Return roles by id, in the order of ``ids``."""
        wanted = [i for i in map(normalize_id, ids) if i is not None]
        if not wanted:
            return []
        found = self._db()[ROLE].find(
            {"_id": {"$in": [ObjectId(i) for i in dict.fromkeys(wanted)]}},
            _ROLE_PROJECTION,
        )
        return order_by_ids(map(_from_mongo, found), wanted)

    @guarded
    def role_by_name(self, name: str) -> dict[str, Any] | None:
        """Return the role named ``name``, ignoring case."""
        found: dict[str, Any] | None = _from_mongo(self._role_by("name", name))
        return found

    @guarded
    def role_by_email(self, email: str) -> dict[str, Any] | None:
        """Return the role with this email, ignoring case."""
        found: dict[str, Any] | None = _from_mongo(self._role_by("email", email))
        return found

    @guarded
    def _role_find(
        self, criteria: dict[str, Any], sort: str, order: int, skip: int, limit: int | None
    ) -> list[dict[str, Any]]:
        """Return matching roles; MongoDB filters, sorts and slices."""
        keys = [(sort, order)] if sort == "_id" else [(sort, order), ("_id", ASCENDING)]
        cursor = self._db()[ROLE].find(to_mongo_query(criteria), _ROLE_PROJECTION).sort(keys).skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        with _regex_time_limit(criteria) as max_time_ms:
            if max_time_ms:
                cursor = cursor.max_time_ms(max_time_ms)
            return [_from_mongo(doc) for doc in cursor]

    @guarded
    def _role_count(self, criteria: dict[str, Any]) -> int:
        """Return how many roles match a validated query."""
        with _regex_time_limit(criteria) as max_time_ms:
            options: dict[str, Any] = {"maxTimeMS": max_time_ms} if max_time_ms else {}
            return self._db()[ROLE].count_documents(to_mongo_query(criteria), **options)

    def _role_change(self, _id: str, etag: str | None, fields: dict[str, Any], unset: Iterable[str]) -> bool:
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

    @guarded
    def role_update(self, _id: str, etag: str, fields: dict[str, Any], unset: Iterable[str] = ()) -> bool:
        """Compare-and-set update on the etag; see :meth:`Store.role_update`."""
        if normalize_id(etag) is None:
            check_role_fields(fields, unset)
            return False
        return self._role_change(_id, etag, fields, unset)

    @guarded
    def role_touch(self, _id: str, fields: dict[str, Any]) -> None:
        """Set ``fields`` without an etag check."""
        self._role_change(_id, None, fields, ())

    @guarded
    def role_delete(self, _id: str, etag: str) -> bool:
        """Delete on a matching etag, then pull the id from other roles."""
        role_id, current = normalize_id(_id), normalize_id(etag)
        if role_id is None or current is None:
            return False
        oid = ObjectId(role_id)
        collection = self._db()[ROLE]
        result = collection.delete_one({"_id": oid, "etag": ObjectId(current)})
        if result.deleted_count != 1:
            return False
        collection.update_many({"role": oid}, {"$pull": {"role": oid}})
        return True

    @guarded
    def role_distinct_names(self) -> list[str]:
        """Return all role names sorted by code point."""
        names = self._db()[ROLE].distinct("name")
        return sorted(name for name in names if isinstance(name, str))

    # -- settings ------------------------------------------------------------

    @guarded
    def setting_get(self, user_id: str) -> dict[str, Any] | None:
        """Return a user's settings document."""
        doc = self._db()[SETTING].find_one({"_id": _oid(user_id)}, {"_id": False})
        return doc

    @guarded
    def setting_put(self, user_id: str, doc: dict[str, Any]) -> None:
        """Replace a user's settings document."""
        key = _oid(user_id)
        body = {"_id": key, **{k: v for k, v in doc.items() if k != "_id"}}
        self._db()[SETTING].replace_one({"_id": key}, body, upsert=True)

    @guarded
    def setting_delete(self, user_id: str) -> bool:
        """Delete a user's settings document."""
        return self._db()[SETTING].delete_one({"_id": _oid(user_id)}).deleted_count > 0
