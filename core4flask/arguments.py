"""Request arguments: query string, form fields and JSON body, merged.

``get_argument`` reads one merged multi-dict in which the JSON body wins over
form fields and form fields over the query string; within one source the last
repeated key wins. ``as_type`` converts with core4's rules.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import orjson
from dateutil import parser as date_parser
from dateutil import tz

from .errors import ArgumentParsingError, MissingArgumentError

#: Sentinel for "no default: the argument is required".
REQUIRED: Any = object()

TRUE_WORDS = frozenset({"yes", "y", "on", "1", "true", "t"})
FALSE_WORDS = frozenset({"no", "n", "off", "0", "false", "f"})

_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


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
    """Parse with dateutil; zone-aware input becomes naive UTC."""
    if isinstance(value, datetime.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = date_parser.parse(value, tzinfos=_zone)
        except (ValueError, OverflowError, TypeError):
            raise ArgumentParsingError(f"parameter [{name}] expected as_type [datetime]") from None
    else:
        raise ArgumentParsingError(f"parameter [{name}] expected as_type [datetime]")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
    return parsed


def _zone(name: str, offset: int | None) -> Any:
    if offset is not None:
        return tz.tzoffset(name, offset)
    return tz.gettz(name)


def _parse_json(value: Any, name: str, kind: type) -> Any:
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        if value == "":
            return None
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ArgumentParsingError(f"parameter [{name}] expected as_type [{kind.__name__}]") from None
        if isinstance(parsed, kind):
            return parsed
    raise ArgumentParsingError(f"parameter [{name}] expected as_type [{kind.__name__}]")


def convert(value: Any, as_type: Callable[[Any], Any] | type, name: str) -> Any:
    """Convert one argument value; failures raise a 400 naming the argument."""
    if value is None:
        return None
    if as_type is bool:
        return parse_boolean(value, name)
    if as_type is datetime.datetime:
        return parse_datetime(value, name)
    if as_type is dict or as_type is list:
        return _parse_json(value, name, as_type)  # type: ignore[arg-type]
    if as_type is str and not isinstance(value, str):
        if isinstance(value, dict | list):
            return orjson.dumps(value).decode()
        return str(value)
    try:
        return as_type(value)
    except (ValueError, TypeError, ArithmeticError):
        type_name = getattr(as_type, "__name__", str(as_type))
        raise ArgumentParsingError(f"parameter [{name}] expected as_type [{type_name}]") from None
    except Exception as exc:  # noqa: BLE001 - converters such as ObjectId raise their own errors
        if type(exc).__name__ in ("InvalidId",):
            type_name = getattr(as_type, "__name__", str(as_type))
            raise ArgumentParsingError(f"parameter [{name}] expected as_type [{type_name}]") from None
        raise


def clean_string(value: str) -> str:
    """Replace control characters by spaces, as core4 does."""
    return _CONTROL.sub(" ", value) if _CONTROL.search(value) else value


def merged_arguments(request: Any) -> dict[str, list[Any]]:
    """Build the merged multi-dict of a request (query < form < JSON body)."""
    merged: dict[str, list[Any]] = {}
    for key, values in request.args.lists():
        merged[key] = [clean_string(v) for v in values]
    mimetype = request.mimetype
    if mimetype in _FORM_TYPES:
        try:
            form = request.form
        except Exception:  # noqa: BLE001 - a malformed form body must not become a 500
            form = None
        if form:
            for key, values in form.lists():
                merged.setdefault(key, []).extend(clean_string(v) for v in values)
        return merged
    body = json_body(request)
    if isinstance(body, dict):
        for key, value in body.items():
            merged.setdefault(key, []).append(value)
    return merged


def json_body(request: Any) -> Any:
    """The request body parsed as JSON, or None when it is not JSON."""
    if request.content_length == 0:
        return None
    try:
        raw = request.get_data(cache=True)
    except Exception:  # noqa: BLE001 - a broken body is ignored like invalid JSON
        return None
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


class ArgumentsMixin:
    """``get_argument`` and friends for request handlers."""

    request: Any
    _arguments: dict[str, list[Any]] | None = None

    @property
    def arguments(self) -> dict[str, list[Any]]:
        """All merged request arguments, name → list of values."""
        if self._arguments is None:
            self._arguments = merged_arguments(self.request)
        return self._arguments

    def get_argument(
        self,
        name: str,
        as_type: Callable[[Any], Any] | type | None = None,
        default: Any = REQUIRED,
        remove: bool = False,
    ) -> Any:
        """Return the last value of argument ``name``, converted by ``as_type``.

        Without ``default`` a missing argument answers 400 naming it. The
        default is converted too (``default="5", as_type=int`` gives 5).
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
        return convert(value, as_type, name)

    def get_arguments(self, name: str) -> list[Any]:
        """Every value given for ``name``, in order."""
        return list(self.arguments.get(name, ()))
