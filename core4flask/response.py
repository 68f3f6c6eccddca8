"""Building the response of a handler: ``reply()``, ``write()``, flashing.

A handler collects status, headers and at most one body; the dispatcher turns
that into a werkzeug response when the method returns.

Layer: the request core (a mixin of the handler, above pagination); it knows
nothing of authentication or the features.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import flask
from werkzeug.datastructures import Headers
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response as WerkzeugResponse

from .envelope import build_envelope, dumps, dumps_with_raw, reason, valid_status
from .exceptions import HTTPError
from .negotiation import SHORT_NAMES, dataframe_records_json, is_dataframe, render_dataframe, wanted_type
from .pagination import PageResult
from .state import RequestState

JSON_TYPE = "application/json; charset=UTF-8"
#: characters that would end (or corrupt) the Location header of a redirect
_UNSAFE_IN_LOCATION = re.compile(r"[\x00-\x1f\x7f]")


class Core4Response(flask.Response):
    """The response of a core4flask handler.

    Two things make it cheaper than a plain ``flask.Response`` on the hot
    path, without changing what it is to Flask and to ``after_request``
    hooks (status, headers and body are the usual attributes):

    * :meth:`finished` builds a response around a complete body without
      werkzeug's per-header validation and mimetype handling;
    * when it is sent, and nothing that werkzeug's WSGI preparation cares
      about changed since (body, status class, Location headers, HEAD,
      close callbacks), its header list goes out as it is, with
      :attr:`extra_headers` (the extension's CORS headers) appended.
      Anything else takes werkzeug's own path.
    """

    #: (name, value) pairs appended to the headers sent
    extra_headers: tuple[tuple[str, str], ...] = ()
    #: the body list :meth:`finished` made; sent directly while still in place
    _finished_body: list[bytes] | None = None
    #: True while the only headers are the type and length :meth:`finished` set
    entity_headers_only: bool = False

    @classmethod
    def finished(cls, body: bytes | str, status: int, content_type: str) -> Core4Response:
        """A response with a complete body, its type and its length."""
        if type(body) is str:
            body = body.encode("utf-8")  # as werkzeug's set_data does
        if not _FAST_BUILD or type(body) is not bytes:
            return cls(body, status, content_type=content_type)
        response = cls.__new__(cls)
        headers = Headers()
        headers._list = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        response.headers = headers
        response._status, response._status_code = _status_line(status)
        response.direct_passthrough = False
        response._on_close = []
        response.response = response._finished_body = [body]
        response.entity_headers_only = True
        return response

    def __call__(self, environ: Any, start_response: Any) -> Any:
        body = self._finished_body
        if (
            body is None
            or self.response is not body
            or self._on_close
            or not 200 <= self._status_code < 300
            or self._status_code == 204
            or environ.get("REQUEST_METHOD") == "HEAD"
        ):
            return super().__call__(environ, start_response)
        headers = self.headers._list
        extra = self.extra_headers
        for name, _ in headers:
            if len(name) >= 8:
                lowered = name.lower()
                if lowered in _PREPARED_HEADERS:
                    return super().__call__(environ, start_response)
                if lowered == _ORIGIN:
                    extra = ()  # an after_request hook (flask-cors) answered CORS itself
        start_response(self._status, [*headers, *extra] if extra else list(headers))
        return body

    def get_wsgi_response(self, environ: Any) -> tuple[Any, str, list[tuple[str, str]]]:
        """Werkzeug's WSGI triple with :attr:`extra_headers` appended."""
        app_iter, status, headers = super().get_wsgi_response(environ)
        if self.extra_headers and not any(name.lower() == _ORIGIN for name, _ in headers):
            headers = [*headers, *self.extra_headers]
        return app_iter, status, headers


#: headers werkzeug rewrites (or whose absence it repairs) when it sends a response
_PREPARED_HEADERS = frozenset(("location", "content-location"))
#: set by the application itself, it replaces :attr:`Core4Response.extra_headers`
_ORIGIN = "access-control-allow-origin"


@functools.lru_cache(maxsize=128)
def _status_line(status: int) -> tuple[str, int]:
    """Werkzeug's status line and code for ``status``."""
    reference = WerkzeugResponse(status=status)
    return reference._status, reference._status_code


def _fast_build_matches() -> bool:
    """Whether :meth:`Core4Response.finished` yields what werkzeug would build.

    It sets werkzeug's attributes itself; should a werkzeug release change
    them, this is False and responses are built the ordinary way.
    """
    try:
        ordinary = Core4Response(b"{}", 200, content_type=JSON_TYPE)
        probe = Core4Response.__new__(Core4Response)
        headers = Headers()
        if getattr(headers, "_list", None) != []:
            return False
        headers._list = [("Content-Type", JSON_TYPE), ("Content-Length", "2")]
        probe.headers = headers
        probe._status, probe._status_code = _status_line(200)
        probe.direct_passthrough = False
        probe._on_close = []
        probe.response = [b"{}"]
    except Exception:  # noqa: BLE001 - any surprise means: do it the ordinary way
        return False
    return (
        set(vars(ordinary)) == set(vars(probe))
        and ordinary.headers == probe.headers
        and ordinary.status == probe.status
        and ordinary.get_data() == probe.get_data()
    )


FLASH_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ResponseMixin:
    """Status, headers, body and flash messages of one request.

    Headers and flash messages are kept in the request's state, so an error
    response finds them there.
    """

    request: Any
    state: RequestState
    _status: int = 200
    _body: Any = None
    _content_type: str | None = None
    _chunks: list[bytes] | None = None
    _response: WerkzeugResponse | None = None
    #: quote CSV cells a spreadsheet would run as formulas (None: as ``api.csv.neutralise`` says)
    csv_injection_guard: bool | None = None

    # -- status and headers -------------------------------------------------
    def set_status(self, status_code: int, reason: str | None = None) -> None:
        """Set the HTTP status of the response (200-599)."""
        code = int(status_code)
        if not valid_status(code):
            raise ValueError(f"invalid HTTP status [{status_code}]")
        self._status = code

    def get_status(self) -> int:
        """The HTTP status set so far."""
        return self._status

    def set_header(self, name: str, value: Any) -> None:
        """Set a response header, replacing earlier values."""
        lowered = name.lower()
        headers = [(k, v) for k, v in self.state.headers or () if k.lower() != lowered]
        headers.append((name, str(value)))
        self.state.headers = headers

    def add_header(self, name: str, value: Any) -> None:
        """Add a response header, keeping earlier values."""
        headers = self.state.headers
        if headers is None:
            headers = self.state.headers = []
        headers.append((name, str(value)))

    def clear_header(self, name: str) -> None:
        """Remove a response header."""
        lowered = name.lower()
        self.state.headers = [(k, v) for k, v in self.state.headers or () if k.lower() != lowered]

    # -- flashing ---------------------------------------------------------------
    def flash(self, level: str, message: Any, *args: Any) -> None:
        """Add a message to the ``flash`` list of every JSON envelope."""
        level = str(level).strip().upper()
        if level not in FLASH_LEVELS:
            raise ValueError(f"flash level must be one of {FLASH_LEVELS}, not [{level}]")
        if isinstance(message, dict):
            self.state.flash.append({"level": level, "data": message})
        else:
            text = str(message) % args if args else str(message)
            self.state.flash.append({"level": level, "message": text})

    def flash_debug(self, message: Any, *args: Any) -> None:
        """Flash a DEBUG message."""
        self.flash("DEBUG", message, *args)

    def flash_info(self, message: Any, *args: Any) -> None:
        """Flash an INFO message."""
        self.flash("INFO", message, *args)

    def flash_warning(self, message: Any, *args: Any) -> None:
        """Flash a WARNING message."""
        self.flash("WARNING", message, *args)

    def flash_error(self, message: Any, *args: Any) -> None:
        """Flash an ERROR message."""
        self.flash("ERROR", message, *args)

    # -- content negotiation ---------------------------------------------------------
    def wanted_type(self) -> str:
        """``json``, ``html``, ``text`` or ``csv``, from the ``content_type``
        argument or the Accept header."""
        argument = self.get_argument("content_type", default=None)  # type: ignore[attr-defined]
        if argument is not None and not isinstance(argument, str):
            argument = None
        return wanted_type(self.request.environ.get("HTTP_ACCEPT", ""), argument)

    def neutralises_csv(self) -> bool:
        """Whether CSV answers quote formula cells: the handler's
        ``csv_injection_guard``, else ``api.csv.neutralise`` (default true)."""
        if self.csv_injection_guard is not None:
            return bool(self.csv_injection_guard)
        config = getattr(self, "config", None)
        setting = config.get_path("api.csv.neutralise", True) if config is not None else True
        return setting is not False

    def wants_json(self) -> bool:
        """True when the client wants JSON."""
        return self.wanted_type() == "json"

    def wants_html(self) -> bool:
        """True when the client wants HTML."""
        return self.wanted_type() == "html"

    def wants_csv(self) -> bool:
        """True when the client wants CSV."""
        return self.wanted_type() == "csv"

    def wants_text(self) -> bool:
        """True when the client wants plain text."""
        return self.wanted_type() == "text"

    # -- bodies -------------------------------------------------------------------------
    def envelope(self, data: Any = None, **extra: Any) -> dict[str, Any]:
        """The success envelope around ``data`` with the current status."""
        state = self.state
        return build_envelope(
            state.identifier, self._status, state.started_at, data=data, flash=state.flash, extra=extra
        )

    def reply(self, chunk: Any) -> None:
        """Answer with ``chunk``: the JSON envelope, or a DataFrame rendered
        as the client asked (JSON records, HTML table, CSV, text table)."""
        if is_dataframe(chunk):
            kind = self.wanted_type()
            if kind in SHORT_NAMES and kind != "json":
                body, content_type = render_dataframe(chunk, kind, neutralise=self.neutralises_csv())
                self.finish_body(body, content_type)
                return
            payload = dumps_with_raw(self.envelope(), "data", dataframe_records_json(chunk))
        elif isinstance(chunk, PageResult):
            if is_dataframe(chunk.body):
                records = dataframe_records_json(chunk.body)
                payload = dumps_with_raw(self.envelope(None, **chunk.paging()), "data", records)
            else:
                payload = dumps(self.envelope(chunk.body, **chunk.paging()))
        else:
            payload = dumps(self.envelope(chunk))
        self.finish_body(payload, JSON_TYPE)

    def write(self, chunk: Any) -> None:
        """Append to the response body (a dict is written as JSON)."""
        if self._chunks is None:
            self._chunks = []
        if isinstance(chunk, dict | list):
            chunk = dumps(chunk)
            self._content_type = self._content_type or JSON_TYPE
        elif isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        self._chunks.append(chunk)

    def finish(self, chunk: Any = None) -> None:
        """Finish the response, optionally writing a last chunk."""
        if chunk is not None:
            self.write(chunk)
        self.finish_body(b"".join(self._chunks or ()), self._content_type or "text/html; charset=UTF-8")

    def finish_body(self, body: Any, content_type: str) -> None:
        """Set the complete body of the response."""
        self._body = body
        self._content_type = content_type
        self._chunks = None

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        """Answer with a redirect to ``url``.

        A target with control characters (CR/LF would start a header of the
        client's choosing) is a 400; other characters are percent-encoded.
        """
        if _UNSAFE_IN_LOCATION.search(url):
            raise HTTPError(400, "the redirect target contains control characters")
        code = status or (301 if permanent else 302)
        self._response = flask.redirect(iri_to_uri(url), code)

    # -- the final response -----------------------------------------------------------
    def make_response(self, result: Any = None) -> WerkzeugResponse:
        """Turn what the handler did (or returned) into a response."""
        if isinstance(result, WerkzeugResponse):
            response = result
        else:
            if result is not None and self._body is None and self._response is None:
                self.reply(result)
            made = self._response
            if made is None:
                if self._body is None and self._chunks is not None:
                    self.finish()
                body = self._body if self._body is not None else b""
                made = Core4Response.finished(body, self._status, self._content_type or JSON_TYPE)
            response = made
        headers = self.state.headers
        if headers:
            if isinstance(response, Core4Response):
                response.entity_headers_only = False
            for key, value in headers:
                if key.lower() == "set-cookie":
                    response.headers.add(key, value)
                else:
                    response.headers[key] = value
        return response

    @staticmethod
    def reason(code: int) -> str:
        """The reason phrase of a status code."""
        return reason(code)


#: whether Core4Response.finished may skip werkzeug's constructor
_FAST_BUILD = _fast_build_matches()
