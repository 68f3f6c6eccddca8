"""Values as every backend keeps them: ids, times and role documents.

Ids are 24-hex strings (ObjectIds in MongoDB); datetimes are naive UTC with
millisecond precision, the precision MongoDB keeps. A role document holds
core4's ``sys.role`` fields and no others.

Layer: the store, a helper below the request core; its bottom.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

#: the fields of a ``sys.role`` document; core4 rejects any other field
ROLE_FIELDS = frozenset("_id name realname email password perm role is_active etag created updated last_login".split())

_ID_PATTERN = re.compile(r"[0-9a-fA-F]{24}")


def utcnow() -> datetime:
    """Return the current time as naive UTC, truncated to milliseconds."""
    return to_naive_utc(datetime.now(UTC))


def to_naive_utc(value: datetime) -> datetime:
    """Convert ``value`` to naive UTC with millisecond precision.

    Naive input is taken to be UTC already. MongoDB keeps milliseconds only,
    so every backend truncates to them to return identical values.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def new_id() -> str:
    """Return a fresh id (an ObjectId as 24 lower-case hex digits)."""
    return str(ObjectId())


def normalize_id(value: Any) -> str | None:
    """Return ``value`` as a lower-case 24-hex id, or None if it is not one."""
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, str) and _ID_PATTERN.fullmatch(value):
        return value.lower()
    return None


def _require_id(field: str, value: Any) -> str:
    normalized = normalize_id(value)
    if normalized is None:
        raise ValueError(f"role field [{field}] must be a 24-hex id, got {value!r}")
    return normalized


def _normalize_role_value(field: str, value: Any) -> Any:
    if field in ("_id", "etag"):
        return _require_id(field, value)
    if field == "role":
        if not isinstance(value, list | tuple):
            raise ValueError("role field [role] must be a list of ids")
        return [_require_id("role", item) for item in value]
    if isinstance(value, datetime):
        return to_naive_utc(value)
    return value


def _check_role_types(fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - ROLE_FIELDS
    if unknown:
        raise ValueError(f"unknown role field(s) {sorted(unknown)}")
    if "name" in fields and not isinstance(fields["name"], str):
        raise ValueError("role field [name] must be a string")
    email = fields.get("email")
    if email is not None and not isinstance(email, str):
        raise ValueError("role field [email] must be a string")


def check_role_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a role document for insertion and return a normalized copy.

    ``_id``, ``etag`` and ``name`` are required; unknown fields raise
    ValueError. An ``email`` of None means "no email" and is left out, so the
    partial unique index on email never sees it.
    """
    if not isinstance(doc, Mapping):
        raise ValueError("a role document must be a dict")
    for required in ("_id", "etag", "name"):
        if doc.get(required) is None:
            raise ValueError(f"role field [{required}] is required")
    _check_role_types(doc)
    return {
        key: _normalize_role_value(key, value) for key, value in doc.items() if not (key == "email" and value is None)
    }


def check_role_fields(fields: Mapping[str, Any], unset: Iterable[str] = ()) -> tuple[dict[str, Any], list[str]]:
    """Validate the fields and the unset list of a role update.

    Returns normalized copies; ``email: None`` moves to the unset list.
    """
    removed = list(dict.fromkeys(unset))
    _check_role_types(fields)
    if set(removed) - ROLE_FIELDS:
        raise ValueError(f"unknown role field(s) {sorted(set(removed) - ROLE_FIELDS)}")
    if "_id" in fields:
        raise ValueError("role field [_id] cannot be changed")
    if {"_id", "etag", "name"} & set(removed):
        raise ValueError("role fields [_id], [etag] and [name] cannot be removed")
    both = set(fields) & set(removed)
    if both:
        raise ValueError(f"role field(s) {sorted(both)} both set and removed")
    normalized: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "email" and value is None:
            removed.append("email")
        else:
            normalized[key] = _normalize_role_value(key, value)
    return normalized, removed
