"""The exceptions handlers raise, and the HTTP status each answers with.

The bottom of the request core: handlers raise :class:`HTTPError` (or let
anything else escape), argument parsing raises its two subclasses, and
:mod:`core4flask.errors` turns every exception into a response. These
classes are imported from :mod:`core4flask.errors` (and ``HTTPError`` from
the package), and that is the module they name: an error envelope reads
``core4flask.errors.HTTPError: HTTP 409: Conflict (...)`` as it always has.
"""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import HTTPException

from .envelope import reason

__all__ = [
    "ArgumentParsingError",
    "HTTPError",
    "MissingArgumentError",
    "PlainHTTPError",
    "Redirect",
    "status_of",
]

#: The module users import these classes from, and error texts name.
PUBLIC_MODULE = "core4flask.errors"


class HTTPError(Exception):
    """Raise to answer with an error status: ``raise HTTPError(409, "stale")``."""

    __module__ = PUBLIC_MODULE

    def __init__(self, status_code: int = 500, message: str | None = None, *args: Any, **kwargs: Any) -> None:
        self.status_code = int(status_code)
        self.message = message % args if message and args else message
        #: extra response headers, e.g. ``{"Retry-After": "60"}``
        self.headers: dict[str, str] = dict(kwargs.get("headers") or {})
        super().__init__(self.status_code, self.message)

    def __str__(self) -> str:
        text = f"HTTP {self.status_code}: {reason(self.status_code)}"
        return f"{text} ({self.message})" if self.message else text


class PlainHTTPError(HTTPError):
    """An :class:`HTTPError` whose envelope ``error`` is its message alone.

    core4's own endpoints (e.g. settings) answer ``"error": "Invalid resource
    name"`` rather than the exception summary, never with a traceback; front
    ends compare that text. ``str()`` is the usual ``HTTP 400: ...`` summary.
    """

    __module__ = PUBLIC_MODULE


class Redirect(Exception):
    """Answer with a redirect from deep inside the dispatch flow."""

    __module__ = PUBLIC_MODULE

    def __init__(self, location: str, code: int = 302) -> None:
        super().__init__(location)
        self.location = location
        self.code = code


class MissingArgumentError(HTTPError):
    """A required request argument is absent."""

    __module__ = PUBLIC_MODULE

    def __init__(self, name: str) -> None:
        super().__init__(400, f"Missing argument {name}")
        self.argument = name


class ArgumentParsingError(HTTPError):
    """A request argument cannot be converted to the requested type."""

    __module__ = PUBLIC_MODULE

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


def status_of(exc: BaseException) -> int:
    """The HTTP status an exception answers with."""
    if isinstance(exc, HTTPError):
        return exc.status_code
    if isinstance(exc, HTTPException):
        return exc.code or 500
    if type(exc).__name__ == "StoreUnavailable":
        return 503
    return 500
