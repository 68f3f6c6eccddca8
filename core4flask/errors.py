"""The one place where any exception becomes a response.

Handlers raise :class:`HTTPError` (or let anything else escape); routing
raises werkzeug's HTTP exceptions; the store raises
:class:`~core4flask.store.base.StoreUnavailable`. :func:`error_response`
turns each of them into the JSON envelope, an HTML page for browsers or a
plain-text page for text clients. It reads the request's public state
(:mod:`core4flask.state`: the ``_id``, flash messages, headers set so far,
the ``content_type`` argument), never a handler.

The exceptions themselves live in :mod:`core4flask.exceptions` (below the
argument parser, which raises them) and are imported from here.

Layer: the request core (below the handler, above the argument parser and the
request state); it knows nothing of authentication or the features.
"""

from __future__ import annotations

import logging
import traceback

from flask import Response, current_app, got_request_exception, has_request_context, redirect, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from .arguments import merged_arguments
from .envelope import build_envelope, dumps, reason, valid_status
from .exceptions import ArgumentParsingError as ArgumentParsingError
from .exceptions import HTTPError as HTTPError
from .exceptions import MissingArgumentError as MissingArgumentError
from .exceptions import PlainHTTPError as PlainHTTPError
from .exceptions import Redirect as Redirect
from .exceptions import status_of as status_of
from .negotiation import wanted_error_type
from .state import RequestState, state_of

log = logging.getLogger("core4flask")


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


def error_response(exc: BaseException, state: RequestState | None = None) -> WerkzeugResponse:
    """Turn any exception into the error response the client asked for.

    ``state`` is the state of the request being answered; by default the
    current request's (a new one for a request no handler took).
    """
    if state is None:
        state = current_state()
    if isinstance(exc, Redirect):
        response = redirect(exc.location, exc.code)
        _keep_headers(state, response)
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
    response = render_error(code, text, state)
    _keep_headers(state, response)
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


def current_state() -> RequestState:
    """The state of the request in context (a new one outside a request)."""
    if not has_request_context():
        return RequestState()
    return state_of(request._get_current_object())  # type: ignore[attr-defined]


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
KEPT_HEADERS = frozenset(("token", "set-cookie"))


def kept_headers(state: RequestState) -> list[tuple[str, str]]:
    """The headers set so far that an error response keeps (see :data:`KEPT_HEADERS`)."""
    return [(key, value) for key, value in state.headers or () if key.lower() in KEPT_HEADERS]


def _keep_headers(state: RequestState, response: WerkzeugResponse) -> None:
    for key, value in kept_headers(state):
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


def render_error(code: int, text: str | None, state: RequestState | None = None) -> Response:
    """Render an error status with an optional error text for this client."""
    if state is None:
        state = current_state()
    identifier = state.identifier
    kind = wanted_error_type(request.environ.get("HTTP_ACCEPT", ""), content_type_argument(state))
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
        envelope = build_envelope(identifier, code, state.started_at, error=text, flash=state.flash, is_error=True)
        response = Response(dumps(envelope), code, content_type="application/json; charset=UTF-8")
    return response


def content_type_argument(state: RequestState) -> str | None:
    """The ``content_type`` argument as ``reply()`` reads it (query, form, JSON body)."""
    try:
        arguments = state.arguments if state.arguments is not None else merged_arguments(request)
    except Exception:  # noqa: BLE001 - a broken query string or body must not break the error page
        return None
    values = arguments.get("content_type")
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
