"""Request arguments: query string, form fields and JSON body, merged.

``get_argument`` reads one merged multi-dict in which the JSON body wins over
form fields and form fields over the query string; within one source the last
repeated key wins. ``as_type`` converts with core4's rules. JSON is read as
core4's ``json.loads`` reads it, but no deeper than ``api.max_json_depth``
levels (a body or an ``as_type=dict/list`` argument nested deeper is a 400
naming the limit). A body too large or unreadable is an error response; a
malformed one just adds no arguments.

Layer: the request core (a mixin of the handler, below errors, above the
state); it knows nothing of authentication or the features.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from typing import Any, TypeAlias

import orjson
from dateutil import parser as date_parser
from dateutil import tz
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .deadline import body_timed_out
from .exceptions import ArgumentParsingError, HTTPError, MissingArgumentError, status_of
from .state import RequestState

#: What ``as_type`` may be: a type or any callable converting one value.
Converter: TypeAlias = type[Any] | Callable[[Any], Any]
#: ``dict_decode``: json.loads' ``object_hook``, called with every decoded JSON object.
ObjectHook: TypeAlias = Callable[[dict[str, Any]], Any]

#: Sentinel for "no default: the argument is required".
REQUIRED: Any = object()
#: How deeply JSON may nest (arrays and objects) when ``api.max_json_depth`` is not set.
DEFAULT_MAX_JSON_DEPTH = 64

TRUE_WORDS = frozenset({"yes", "y", "on", "1", "true", "t"})
FALSE_WORDS = frozenset({"no", "n", "off", "0", "false", "f"})

#: Zone abbreviations as fixed UTC offsets in hours. dateutil knows only those
#: that happen to name a zone file (and reads CET in July as CEST); the rest it
#: would drop, leaving a wrong naive time. Ambiguous ones (IST, AST, ...) are
#: left out and answer 400. CST and friends are the US zones, as in RFC 5322.
ZONE_ABBREVIATIONS: dict[str, float] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1,
    "CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10, "NST": -3.5, "NDT": -2.5,
    "JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "AWST": 8, "ACST": 9.5, "ACDT": 10.5,
    "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip

_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: 19 digits in a row may be an integer beyond 64 bits, which orjson would round to a float
_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")


def parse_boolean(value: Any, name: str = "value") -> bool:
    """Convert yes/y/on/1/true/t and no/n/off/0/false/f (any case) to bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ArgumentParsingError(f"parameter [{name}] expected as_type [bool]")


def parse_datetime(value: Any, name: str = "value") -> datetime.datetime:
    """Parse with dateutil; zone-aware input becomes naive UTC.

    Unknown zone names, offsets of a day or more and times that leave the
    datetime range once in UTC are a 400, like any failed conversion.
    """
    try:
        if isinstance(value, datetime.datetime):
            parsed = value
        elif isinstance(value, str):
            parsed = date_parser.parse(value, tzinfos=_zone)
        else:
            raise TypeError(type(value).__name__)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, TypeError):
        raise ArgumentParsingError(f"parameter [{name}] expected as_type [datetime]") from None
    return parsed


def _zone(name: str | None, offset: int | None) -> Any:
    """dateutil's ``tzinfos`` hook: the zone of a parsed name and/or offset."""
    if offset is not None:
        return tz.tzoffset(name, offset)
    if name is None:
        return None  # naive stays naive (gettz(None) would be the server's zone)
    hours = ZONE_ABBREVIATIONS.get(name)
    if hours is not None:
        return tz.tzoffset(name, round(hours * 3600))
    zone = tz.gettz(name)
    if zone is None:
        raise ValueError(f"unknown time zone [{name}]")
    return zone


def json_loads(data: str | bytes, object_hook: ObjectHook | None = None) -> Any:
    """Parse JSON exactly as core4's ``json.loads`` does (UTF-8 only).

    orjson is the fast path where it gives the same result; ``NaN``,
    ``Infinity``, lone surrogates and integers beyond 64 bits go to json.loads.
    Raises ValueError (also for invalid UTF-8) or RecursionError.
    """
    long_digits = _LONG_DIGITS_BYTES if isinstance(data, bytes) else _LONG_DIGITS
    if object_hook is None and not long_digits.search(data):  # type: ignore[arg-type]
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # not JSON, or JSON only json.loads accepts: it decides
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return json.loads(text, object_hook=object_hook)


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in ``value`` nest more than ``limit`` levels."""
    # level by level, with the scalars filtered out in comprehensions: about
    # twice as fast as a node-by-node walk over a large body
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for node in level:
            children = node.values() if type(node) is dict else node
            below.extend([child for child in children if type(child) is dict or type(child) is list])
        level = below
    return False


def too_deep(what: str, limit: int) -> HTTPError:
    """The 400 for JSON nested deeper than the configured limit."""
    return HTTPError(400, f"{what} nests deeper than {limit} levels (api.max_json_depth)")


def bounded_json_loads(data: str | bytes, limit: int, what: str, object_hook: ObjectHook | None = None) -> Any:
    """:func:`json_loads`, refusing JSON nested deeper than ``limit`` levels.

    Raises the 400 of :func:`too_deep` for deeper JSON (also where the
    parser itself would give up), ValueError for anything not JSON.
    """
    brackets = b"[{" if isinstance(data, bytes) else "[{"
    # fewer brackets than the limit cannot nest deeper: no walk for most bodies
    shallow = data.count(brackets[0:1]) + data.count(brackets[1:2]) <= limit  # type: ignore[arg-type]
    try:
        parsed = json_loads(data, object_hook)
    except RecursionError:
        raise too_deep(what, limit) from None
    if not shallow and nested_deeper_than(parsed, limit):
        raise too_deep(what, limit)
    return parsed


def _parse_json(value: Any, kind: type, object_hook: ObjectHook | None, name: str, max_depth: int) -> Any:
    if isinstance(value, kind):
        return value
    if not isinstance(value, str):
        raise TypeError(type(value).__name__)
    if value == "":
        return None
    parsed = bounded_json_loads(value, max_depth, f"parameter [{name}]", object_hook)
    # with a hook, it decides what a JSON object becomes (core4 checks nothing)
    if object_hook is None and not isinstance(parsed, kind):
        raise TypeError(type(parsed).__name__)
    return parsed


def convert(
    value: Any,
    as_type: Converter,
    name: str,
    dict_decode: ObjectHook | None = None,
    max_depth: int = DEFAULT_MAX_JSON_DEPTH,
) -> Any:
    """Convert one argument value; any failure is a 400 naming the argument.

    ``dict_decode`` is the ``object_hook`` for decoding ``as_type=dict`` strings;
    ``as_type=dict/list`` strings may nest ``max_depth`` levels.
    """
    if value is None:
        return None
    try:
        return _convert(value, as_type, name, dict_decode, max_depth)
    except Exception as exc:  # noqa: BLE001 - core4: whatever a converter raises is the client's error
        if status_of(exc) != 500:
            raise  # it answers for itself: an HTTPError, or the store being down
        type_name = getattr(as_type, "__name__", type(as_type).__name__)
        raise ArgumentParsingError(f"parameter [{name}] expected as_type [{type_name}]") from None


def _convert(value: Any, as_type: Converter, name: str, dict_decode: ObjectHook | None, max_depth: int) -> Any:
    kind: object = as_type
    if kind is bool:
        return parse_boolean(value, name)
    if kind is datetime.datetime:
        return parse_datetime(value, name)
    if kind is dict:
        return _parse_json(value, dict, dict_decode, name, max_depth)
    if kind is list:
        return _parse_json(value, list, None, name, max_depth)
    if kind is str and not isinstance(value, str):
        if isinstance(value, dict | list):
            return orjson.dumps(value).decode()
        return str(value)
    return as_type(value)


def clean_string(value: str) -> str:
    """Replace control characters by spaces, as core4 does."""
    return _CONTROL.sub(" ", value) if _CONTROL.search(value) else value


def merged_arguments(request: Any, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> dict[str, list[Any]]:
    """Build the merged multi-dict of a request (query < form < JSON body).

    A body that is too large (413), cannot be read (400) or is JSON nested
    deeper than ``max_depth`` levels (400) is an error: the request never
    goes on with only the query string. A body that was read but is
    malformed simply adds nothing.
    """
    merged: dict[str, list[Any]] = {}
    for key, values in request.args.lists():
        merged[key] = [clean_string(v) for v in values]
    if request.mimetype in _FORM_TYPES:
        try:
            _check_urlencoded_size(request)
            form = request.form
        except (HTTPException, OSError) as exc:  # too large, or the client went away mid-body
            raise body_error(request, exc) from exc
        except Exception:  # noqa: BLE001 - werkzeug drops malformed content itself; this is a safety net
            return merged
        for key, values in form.lists():
            merged.setdefault(key, []).extend(clean_string(v) for v in values)
        return merged
    body = json_body(request, max_depth)
    if isinstance(body, dict):
        for key, value in body.items():
            merged.setdefault(key, []).append(value)
    return merged


def _check_urlencoded_size(request: Any) -> None:
    """Hold a URL-encoded form to ``max_form_memory_size``, as multipart text is.

    werkzeug 3.1.9 stopped applying that limit to URL-encoded bodies, which it
    reads into memory whole: in an application without ``MAX_CONTENT_LENGTH``
    (a host app using ``Core4(app)``) nothing would bound them any more.
    """
    limit = request.max_form_memory_size
    length = request.content_length
    if limit is not None and length is not None and length > limit and request.mimetype == _FORM_TYPES[0]:
        raise RequestEntityTooLarge()


def json_body(request: Any, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> Any:
    """The request body parsed as JSON, or None when it is not JSON.

    Raises the 413/400 of :func:`body_error` when the body cannot be read,
    and a 400 naming the limit for JSON nested deeper than ``max_depth``.
    """
    if request.content_length == 0:
        return None
    try:
        raw = request.get_data(cache=True)
    except Exception as exc:  # noqa: BLE001 - reading fails only for a too large or broken body
        raise body_error(request, exc) from exc
    if not raw:
        return None
    try:
        return bounded_json_loads(raw, max_depth, "the JSON body")
    except ValueError:
        return None


def body_error(request: Any, exc: BaseException) -> HTTPError:
    """The error for a body that could not be read: 413 naming the limits, 408
    past ``api.body_timeout``, else 400."""
    timed_out = body_timed_out(exc)
    if timed_out is not None:
        return HTTPError(408, timed_out.strerror)
    if isinstance(exc, RequestEntityTooLarge):
        limits = [
            f"{label} {limit} bytes"
            for label, limit in (
                ("body", request.max_content_length),
                ("form field", request.max_form_memory_size),
            )
            if limit is not None
        ]
        detail = f" (limits: {', '.join(limits)})" if limits else ""
        return HTTPError(413, f"request body too large{detail}")
    return HTTPError(400, f"request body could not be read: {type(exc).__name__}")


class ArgumentsMixin:
    """``get_argument`` and friends for request handlers.

    The merged arguments are read once and kept in the request's state, where
    error rendering finds the ``content_type`` argument.
    """

    request: Any
    state: RequestState

    @property
    def arguments(self) -> dict[str, list[Any]]:
        """All merged request arguments, name → list of values."""
        arguments = self.state.arguments
        if arguments is None:
            arguments = self.state.arguments = merged_arguments(self.request, self.max_json_depth())
        return arguments

    def max_json_depth(self) -> int:
        """How deeply JSON arguments may nest (``api.max_json_depth``)."""
        config = getattr(self, "config", None)
        limit = config.get_path("api.max_json_depth", None) if config is not None else None
        return int(limit) if limit else DEFAULT_MAX_JSON_DEPTH

    def get_argument(
        self,
        name: str,
        as_type: Converter | None = None,
        default: Any = REQUIRED,
        remove: bool = False,
        dict_decode: ObjectHook | None = None,
    ) -> Any:
        """Return the last value of argument ``name``, converted by ``as_type``.

        Without ``default`` a missing argument answers 400 naming it. The
        default is converted too (``default="5", as_type=int`` gives 5).
        ``dict_decode`` is the ``object_hook`` for ``as_type=dict`` strings.
        """
        values = self.arguments.get(name)
        if values:
            value = values[-1]
            if remove:
                del self.arguments[name]
        elif default is REQUIRED:
            raise MissingArgumentError(name)
        else:
            value = default
        if as_type is None or value is None:
            return value
        return convert(value, as_type, name, dict_decode, self.max_json_depth())

    def get_arguments(self, name: str) -> list[Any]:
        """Every value given for ``name``, in order."""
        return list(self.arguments.get(name, ()))
