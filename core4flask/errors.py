"""Exceptions and the one place where any exception becomes a response.

Handlers raise :class:`HTTPError` (or let anything else escape); routing
raises werkzeug's HTTP exceptions; the store raises
:class:`~core4flask.store.base.StoreUnavailable`. :func:`error_response`
turns each of them into the JSON envelope, an HTML page for browsers or a
plain-text page for text clients.
"""

from __future__ import annotations

import datetime
import logging
import time
import traceback
from typing import TYPE_CHECKING, Any

from flask import Response, current_app, got_request_exception, has_request_context, redirect, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from .envelope import build_envelope, dumps, reason, utc_datetime, valid_status
from .negotiation import wanted_error_type

if TYPE_CHECKING:
    from .handler import CoreRequestHandler

log = logging.getLogger("core4flask")


class HTTPError(Exception):
    """Raise to answer with an error status: ``raise HTTPError(409, "stale")``."""

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


class Redirect(Exception):
    """Answer with a redirect from deep inside the dispatch flow."""

    def __init__(self, location: str, code: int = 302) -> None:
        super().__init__(location)
        self.location = location
        self.code = code


class MissingArgumentError(HTTPError):
    """A required request argument is absent."""

    def __init__(self, name: str) -> None:
        super().__init__(400, f"Missing argument {name}")
        self.argument = name


class ArgumentParsingError(HTTPError):
    """A request argument cannot be converted to the requested type."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


def error_text(exc: BaseException, *, debug: bool) -> str:
    """The ``error`` text of an envelope: ``module.Class: message``."""
    kind = type(exc)
    module = kind.__module__
    name = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
    text = f"{name}: {exc}" if str(exc) else name
    if debug:
        frames = traceback.format_exception(kind, exc, exc.__traceback__)
        text = text + "\n" + "".join(frames)
    return text


def status_of(exc: BaseException) -> int:
    """The HTTP status an exception answers with."""
    if isinstance(exc, HTTPError):
        return exc.status_code
    if isinstance(exc, HTTPException):
        return exc.code or 500
    if type(exc).__name__ == "StoreUnavailable":
        return 503
    return 500


def error_response(exc: BaseException, handler: CoreRequestHandler | None = None) -> Response:
    """Turn any exception into the error response the client asked for."""
    if isinstance(exc, Redirect):
        response = redirect(exc.location, exc.code)
        _keep_handler_headers(handler, response)
        return response
    code = status_of(exc)
    text = _error_text_of(exc, code)
    if not valid_status(code):
        # the server would refuse the status line (or take it for an interim
        # answer) and the client would never see an envelope
        text = f"invalid HTTP status [{code}]: {text}"
        code = 500
    if code >= 500 and code != 503:
        log.error("request failed", exc_info=(type(exc), exc, exc.__traceback__))
        _signal_failure(exc)
    response = render_error(code, text, handler)
    _keep_handler_headers(handler, response)
    if isinstance(exc, HTTPError):
        for key, value in exc.headers.items():
            response.headers[key] = value
    elif isinstance(exc, HTTPException):
        for key, value in exc.get_headers():
            if key.lower() != "content-type":
                response.headers[key] = value
    if code == 503:
        response.headers.setdefault("Retry-After", "5")
    return response


def _signal_failure(exc: BaseException) -> None:
    """Tell Flask's ``got_request_exception`` receivers (error trackers such as
    Sentry) about a failure core4flask answers itself, as Flask would."""
    if has_request_context() and not isinstance(exc, HTTPError | HTTPException):
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        got_request_exception.send(app, _async_wrapper=app.ensure_sync, exception=exc)


#: Headers a handler set that its error response still carries: a refreshed
#: token is promised on every response, and cookies survive Tornado's
#: ``send_error`` too. Anything else belonged to the reply that failed and is
#: dropped, as Tornado's ``clear()`` drops it.
_KEPT_HEADERS = frozenset(("token", "set-cookie"))


def _keep_handler_headers(handler: CoreRequestHandler | None, response: Response) -> None:
    for key, value in getattr(handler, "_headers", None) or ():
        if key.lower() in _KEPT_HEADERS:
            response.headers.add(key, value)


def _error_text_of(exc: BaseException, code: int) -> str:
    """The ``error`` text for an exception (traceback only in debug mode)."""
    if type(exc).__name__ == "StoreUnavailable":
        return "the user and role store is not reachable, try again shortly"
    if isinstance(exc, PlainHTTPError):
        return exc.message or reason(code)
    if isinstance(exc, HTTPException):
        if code == 404:
            return f"{request.method} {request.path} not found"
        return f"HTTP {code}: {reason(code)}" + (f" ({exc.description})" if exc.description else "")
    return error_text(exc, debug=_debug())


def render_error(code: int, text: str | None, handler: CoreRequestHandler | None = None) -> Response:
    """Render an error status with an optional error text for this client."""
    identifier, started, flash = _request_state(handler)
    kind = wanted_error_type(request.environ.get("HTTP_ACCEPT", ""), _content_type_argument(handler))
    if kind == "html":
        body = _HTML.format(
            code=code,
            message=escape(reason(code)),
            error=f"<pre>{escape(text)}</pre>" if text else "",
            identifier=escape(identifier or ""),
        )
        response = Response(body, code, content_type="text/html; charset=UTF-8")
    elif kind in ("text", "csv"):
        lines = [f"{code}: {reason(code)}", "-" * 79]
        if text:
            lines.append(text)
        lines.append(f"request_id {identifier}")
        response = Response("\n".join(lines) + "\n", code, content_type="text/plain; charset=UTF-8")
    else:
        envelope = build_envelope(identifier, code, started, error=text, flash=flash, is_error=True)
        response = Response(dumps(envelope), code, content_type="application/json; charset=UTF-8")
    return response


def _request_state(handler: CoreRequestHandler | None) -> tuple[str | None, float, list]:
    if handler is not None:
        return handler.identifier, handler.started_at, handler._flash
    current = request._get_current_object() if has_request_context() else None  # type: ignore[attr-defined]
    state = getattr(current, "core4_state", None)
    if state is None:
        from .handler import new_identifier

        now = time.time()
        state = RequestState(new_identifier(now), now)
        if current is not None:
            current.core4_state = state
    return state.identifier, state.started_at, state._flash


class RequestState:
    """Identity of a request that no handler served (e.g. an unknown path)."""

    __slots__ = ("identifier", "started_at", "_flash", "current_user")

    def __init__(self, identifier: str, started_at: float) -> None:
        self.identifier = identifier
        #: epoch seconds
        self.started_at = started_at
        self._flash: list = []
        self.current_user = None

    @property
    def started(self) -> datetime.datetime:
        """When the request started, as naive UTC."""
        return utc_datetime(self.started_at)


def _content_type_argument(handler: CoreRequestHandler | None) -> str | None:
    """The ``content_type`` argument as ``reply()`` reads it (query, form, JSON body)."""
    try:
        if handler is not None:
            values = handler.arguments.get("content_type")
        else:
            from .arguments import merged_arguments  # that module imports this one

            values = merged_arguments(request).get("content_type")
    except Exception:  # noqa: BLE001 - a broken query string or body must not break the error page
        return None
    value = values[-1] if values else None
    return value if isinstance(value, str) else None


def _debug() -> bool:
    try:
        return bool(current_app.extensions["core4flask"].config.api.setting.debug)
    except (KeyError, AttributeError, RuntimeError):
        return False


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{code}: {message}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}}
pre{{white-space:pre-wrap;background:#f3f4f6;padding:1rem;border-radius:.5rem}}
footer{{color:#4b5563;font-size:.875rem}}</style></head>
<body><main><h1>{code}: {message}</h1>{error}
<p>Sorry, the request could not be completed.</p></main>
<footer>request_id {identifier}</footer></body></html>
"""
