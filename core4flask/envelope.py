"""The JSON envelope every reply travels in, and its encoder.

``{"_id", "code", "message", "timestamp", "data" | "error", ["flash"]}`` plus
the paging keys of a :class:`~core4flask.pagination.PageResult`. Pure
functions over plain data; the Flask glue lives in :mod:`core4flask.response`.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import math
import uuid
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson

#: orjson options: NaN and infinities become null, numpy values are native,
#: non-string dict keys are stringified.
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS

#: Marker spliced into a serialised envelope where pre-rendered JSON goes
#: (only when orjson cannot embed it as a ``Fragment``).
_RAW_MARKER = "\x00core4flask-raw\x00"

#: orjson >= 3.10 writes pre-serialised JSON wrapped in this verbatim.
_FRAGMENT = getattr(orjson, "Fragment", None)


#: Reason phrases by status code (looked up on every reply).
_REASONS = {status.value: status.phrase for status in HTTPStatus}


def reason(code: int) -> str:
    """Return the standard reason phrase of an HTTP status code."""
    try:
        return _REASONS.get(code, "Unknown")
    except TypeError:  # unhashable
        return "Unknown"


def valid_status(code: Any) -> bool:
    """Whether ``code`` can be the status of a final response (200-599).

    Servers refuse anything else (gunicorn answers ``1000`` with its own bare
    500 page) or take it for an interim answer (``100``), so the envelope
    would never reach the client.
    """
    return type(code) is int and 200 <= code <= 599


def utc_timestamp(moment: datetime.datetime | float) -> str:
    """Format a naive UTC datetime, or epoch seconds, as core4 does (ISO-8601, no zone).

    Epoch seconds give what ``utc_datetime(moment).isoformat()`` gives, with
    the date and time of day formatted once per second.
    """
    if isinstance(moment, datetime.datetime):
        return moment.isoformat()
    second = int(moment // 1)
    micro = round((moment - second) * 1e6)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    text = _second_text(second)
    return f"{text}.{micro:06d}" if micro else text


@functools.lru_cache(maxsize=4)
def _second_text(second: int) -> str:
    return utc_datetime(second).isoformat()


def utc_datetime(epoch: float) -> datetime.datetime:
    """Epoch seconds as a naive UTC datetime."""
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).replace(tzinfo=None)


def build_envelope(
    identifier: str | None,
    code: int,
    timestamp: datetime.datetime | float,
    *,
    data: Any = None,
    error: str | None = None,
    flash: Sequence[Mapping[str, Any]] = (),
    extra: Mapping[str, Any] | None = None,
    is_error: bool = False,
) -> dict[str, Any]:
    """Build the envelope dict; error envelopes carry ``error`` instead of ``data``."""
    envelope: dict[str, Any] = {
        "_id": identifier,
        "code": code,
        "message": reason(code),
        "timestamp": utc_timestamp(timestamp),
    }
    if is_error:
        if error is not None:
            envelope["error"] = error
    else:
        envelope["data"] = data
    if flash:
        envelope["flash"] = list(flash)
    if extra:
        envelope.update(extra)
    return envelope


def dumps(value: Any) -> bytes:
    """Serialise to JSON bytes: NaN/inf → null, datetimes ISO, ObjectIds hex."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        # integers beyond 64 bit and other rare values orjson refuses
        import json

        return json.dumps(_plain(value), default=_default_str, allow_nan=False).encode()


def dumps_with_raw(envelope: Mapping[str, Any], key: str, raw_json: str | bytes) -> bytes:
    """Serialise an envelope whose ``key`` holds already-serialised JSON.

    Used for DataFrames: pandas renders the records itself (fast, NaN-safe)
    and the result goes in without being parsed again. orjson copies it
    straight into its output (a ``Fragment``), so a megabyte of records is
    copied once, as when a bare view encodes pandas' string itself.
    """
    body = dict(envelope)
    if _FRAGMENT is not None:
        body[key] = _FRAGMENT(raw_json)
        try:
            return orjson.dumps(body, default=_default, option=_OPTIONS)
        except (TypeError, orjson.JSONEncodeError):
            pass  # an envelope value only the slow path of dumps() takes
    body[key] = _RAW_MARKER
    head, _, tail = dumps(body).partition(dumps(_RAW_MARKER))
    raw = raw_json.encode() if isinstance(raw_json, str) else raw_json
    return b"".join((head, raw, tail))


def _default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        if value != value:  # pandas NaT
            return None
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return None if not value.is_finite() else float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    type_name = type(value).__name__
    if type_name == "ObjectId":
        return str(value)
    if type_name in ("NaTType", "NAType"):
        return None
    if type_name in ("Timestamp", "datetime64"):
        return str(value)
    if getattr(value, "ndim", 0) and hasattr(value, "tolist"):
        # arrays orjson does not take natively (object dtype, Series, Index);
        # their ``item()`` only works for a single element
        return value.tolist()
    if hasattr(value, "item"):  # numpy scalar not covered by orjson
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"Object of type {type_name} is not JSON serializable")


def _default_str(value: Any) -> Any:
    try:
        return _default(value)
    except TypeError:
        return str(value)


def _plain(value: Any) -> Any:
    """``value`` as data the json module writes by the rules of :func:`dumps`.

    Used when orjson refuses the value (integers beyond 64 bit), so it must
    reach into everything orjson would have converted itself: numpy arrays
    and scalars included, NaN and infinities anywhere become None.
    """
    if value is None or isinstance(value, str | int):  # bool is an int
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {_plain_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    try:
        converted = _default(value)
    except (TypeError, ValueError):
        return str(value)
    if type(converted) is type(value):  # a conversion that gets nowhere
        return str(value)
    return _plain(converted)


def _plain_key(key: Any) -> Any:
    """A dict key the json module writes as orjson's ``OPT_NON_STR_KEYS`` does."""
    if key is None or isinstance(key, str | int):
        return key
    if isinstance(key, float) and math.isfinite(key):
        return key
    plain = _plain(key)
    if plain is None:  # NaN, NaT
        return "null"
    return plain if isinstance(plain, str) else str(plain)
