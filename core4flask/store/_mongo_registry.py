"""The registry of serving processes in MongoDB (``sys.worker``, ``sys.handler``).

Worker documents are marked ``kind: "core4flask"`` so core4's own readers of
``sys.worker`` pass them by.

Layer: the store, a helper below the request core; a part of the MongoDB
backend.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from ._mongo_base import HANDLER, KV, WORKER, WORKER_KIND, MongoBase, guarded
from .base import FIRST_SEEN_NS, new_id


class MongoRegistry(MongoBase):
    """The registry of :class:`~.base.Store`: a worker document per server, one per handler."""

    @guarded
    def registry_publish(self, server_id: str, server: dict[str, Any], handlers: list[dict[str, Any]]) -> None:
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

    @guarded
    def registry_heartbeat(self, server_id: str) -> None:
        """Mark a server alive now."""
        self._db()[WORKER].update_one({"_id": server_id, "kind": WORKER_KIND}, {"$set": {"heartbeat": self.now()}})

    @guarded
    def registry_remove(self, server_id: str) -> None:
        """Remove one server's entry and handlers."""
        db = self._db()
        db[WORKER].delete_one({"_id": server_id, "kind": WORKER_KIND})
        db[HANDLER].delete_many({"server_id": server_id})

    @guarded
    def registry_live(self, timeout: float) -> list[dict[str, Any]]:
        """Return live servers with their handlers."""
        db = self._db()
        cutoff = self.now() - timedelta(seconds=timeout)
        workers = list(db[WORKER].find({"kind": WORKER_KIND, "heartbeat": {"$gt": cutoff}}).sort("_id", ASCENDING))
        generation = {worker["_id"]: worker.get("gen") for worker in workers}
        handlers: dict[str, list[dict[str, Any]]] = {server_id: [] for server_id in generation}
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

    @guarded
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
