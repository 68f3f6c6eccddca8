"""Users' avatar images in MongoDB: the ``avatar`` field of ``sys.role``, as core4 keeps it.

Role reads never load the field (see :mod:`.mongo`); only these methods do.

Layer: the store, a helper below the request core; a part of the MongoDB
backend.
"""

from __future__ import annotations

from bson import ObjectId

from ._mongo_base import ROLE, MongoBase, guarded
from .base import normalize_id


class MongoAvatars(MongoBase):
    """The ``avatar_*`` methods of :class:`~.base.Store`."""

    @guarded
    def avatar_get(self, user_id: str) -> bytes | None:
        """Return a user's avatar image, or None."""
        _id = normalize_id(user_id)
        if _id is None:
            return None
        doc = self._db()[ROLE].find_one({"_id": ObjectId(_id)}, {"_id": False, "avatar": True})
        data = (doc or {}).get("avatar")
        return bytes(data) if isinstance(data, bytes | bytearray) else None

    @guarded
    def avatar_put(self, user_id: str, data: bytes) -> bool:
        """Keep ``data`` as the avatar of an existing role (its etag stays)."""
        _id = normalize_id(user_id)
        if _id is None:
            return False
        result = self._db()[ROLE].update_one({"_id": ObjectId(_id)}, {"$set": {"avatar": bytes(data)}})
        return result.matched_count == 1
