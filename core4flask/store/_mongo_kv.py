"""Key-value namespaces and failed-login counters in MongoDB (``sys.kv``, ``sys.throttle``).

Both collections carry an ``expires`` field under a TTL index, so MongoDB
removes old documents by itself; its TTL monitor runs about once a minute,
so reads judge by time and never count on the removal.

Layer: the store, a helper below the request core; a part of the MongoDB
backend.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import bson
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ._mongo_base import KV, THROTTLE, MongoBase, guarded
from .base import StoreUnavailable, check_namespace


def _roundtrip(value: Any) -> Any:
    """The value as MongoDB returns it after storing it."""
    return bson.decode(bson.encode({"v": value}))["v"]


class MongoKeyValue(MongoBase):
    """The key-value namespaces of :class:`~.base.Store`, one document per entry."""

    @guarded
    def kv_get(self, ns: str, key: str) -> Any | None:
        """Return a live value or None."""
        check_namespace(ns)
        doc = self._db()[KV].find_one({"_id": f"{ns}/{key}"})
        if doc is None or (doc.get("expires") and doc["expires"] <= self.now()):
            return None
        return doc.get("value")

    @guarded
    def kv_set(self, ns: str, key: str, value: Any, *, expires: datetime | None = None) -> None:
        """Store a value and stamp the change time."""
        check_namespace(ns)
        entry = {"ns": ns, "key": key, "value": value, "changed": self.now(), "expires": expires}
        self._db()[KV].update_one({"_id": f"{ns}/{key}"}, {"$set": entry}, upsert=True)

    @guarded
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

    @guarded
    def kv_delete(self, ns: str, key: str) -> None:
        """Remove one entry."""
        check_namespace(ns)
        self._db()[KV].delete_one({"_id": f"{ns}/{key}"})

    @guarded
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

    @guarded
    def kv_purge_expired(self, now: datetime | None = None) -> int:
        """Delete expired entries; return how many."""
        cutoff = now if now is not None else self.now()
        result = self._db()[KV].delete_many({"expires": {"$ne": None, "$lte": cutoff}})
        return result.deleted_count


class MongoThrottle(MongoBase):
    """The failed-login counters of :class:`~.base.Store`, one document per failure."""

    @guarded
    def throttle_hit(self, key: str, window: float) -> int:
        """Record a failure and count those within ``window`` seconds."""
        now = self.now()
        span = timedelta(seconds=window)
        collection = self._db()[THROTTLE]
        collection.delete_many({"expires": {"$lte": now}})
        collection.insert_one({"key": key, "at": now, "expires": now + span})
        return collection.count_documents({"key": key, "at": {"$gt": now - span}})

    @guarded
    def throttle_reserve(self, key: str, window: float, limit: int) -> str | None:
        """Record an attempt unless ``limit`` are recorded within ``window`` seconds.

        Insert first, count second, withdraw when over the limit: of the
        attempts that stay, the last to count saw all the others, so however
        callers interleave no more than ``limit`` stay (a race may refuse
        more than needed, never fewer). One document per attempt keeps the
        window sliding, as :meth:`throttle_hit` does.
        """
        now = self.now()
        span = timedelta(seconds=window)
        collection = self._db()[THROTTLE]
        collection.delete_many({"expires": {"$lte": now}})
        attempt = collection.insert_one({"key": key, "at": now, "expires": now + span}).inserted_id
        if collection.count_documents({"key": key, "at": {"$gt": now - span}}) <= limit:
            return str(attempt)
        collection.delete_one({"_id": attempt})
        return None

    @guarded
    def throttle_release(self, key: str, attempt: str) -> None:
        """Forget one recorded attempt."""
        if bson.ObjectId.is_valid(attempt):
            self._db()[THROTTLE].delete_one({"_id": bson.ObjectId(attempt), "key": key})

    @guarded
    def throttle_count(self, key: str, window: float) -> int:
        """Count failures of ``key`` within ``window`` seconds."""
        cutoff = self.now() - timedelta(seconds=window)
        return self._db()[THROTTLE].count_documents({"key": key, "at": {"$gt": cutoff}})

    @guarded
    def throttle_clear(self, key: str) -> None:
        """Forget the failures of ``key``."""
        self._db()[THROTTLE].delete_many({"key": key})
