r"""One access-log line per request, with credentials redacted.

Text (the default, ``api.log_format: text``)::

    <asctime> <_id> <user> <METHOD> <path?query> <status> <ms>ms [cid=<X-Request-ID>]

JSON lines (``api.log_format: json``), one object per line::

    {"time": "...Z", "_id": ..., "user": ..., "method": ..., "path": ...,
     "status": ..., "ms": ..., "pid": ..., "correlation_id": ...}

The values of ``password``, ``passwd``, ``current_passwd``, ``token`` and
``secret`` query arguments are replaced by ``***``; argument names are
compared once percent-decoded (``pass%77ord`` is ``password``), as the
application reads them. Control characters (and backslashes, and spaces in
the text format) in every field are escaped as ``\xNN``: a ``%0a`` in a path
cannot start a forged line. A well-formed ``X-Request-ID`` sent by the client
is logged as a correlation id; the request's own ``_id`` is always ours.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

import datetime
import logging
import re
import sys
import time
import traceback
from typing import Any, TextIO
from urllib.parse import unquote_plus

import orjson

from ._pid import current_pid
from .config import ConfigError

log = logging.getLogger("core4flask.access")

#: Query argument names whose values never reach a log.
SECRET_ARGUMENTS = frozenset(("password", "passwd", "current_passwd", "token", "secret"))
#: The formats ``api.log_format`` may name.
LOG_FORMATS = ("text", "json")
#: What an incoming ``X-Request-ID`` must look like to be logged as a correlation id.
CORRELATION_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")

# C0 and C1 controls, DEL, the Unicode line and paragraph separators and the
# backslash (so that an escape in the log always means one)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")
_UNSAFE_OR_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029\\]")


def _escape_match(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(value: str, *, spaces: bool = False) -> str:
    """``value`` with control characters (and, with ``spaces``, blanks) escaped."""
    pattern = _UNSAFE_OR_SPACE if spaces else _UNSAFE
    return pattern.sub(_escape_match, value) if pattern.search(value) else value


def redact_query(query: str) -> str:
    """Replace the values of credential arguments in a query string.

    A name counts as the application reads it: percent-decoded, ``+`` as a
    space, any case.
    """
    if not query:
        return query
    parts = query.split("&")
    for index, part in enumerate(parts):
        name, equals, _ = part.partition("=")
        if equals and _argument_name(name) in SECRET_ARGUMENTS:
            parts[index] = f"{name}=***"
    return "&".join(parts)


def _argument_name(raw: str) -> str:
    return (unquote_plus(raw, errors="replace") if "%" in raw or "+" in raw else raw).lower()


def correlation_id(value: str | None) -> str | None:
    """An incoming ``X-Request-ID`` when it is well-formed, else None."""
    if value and CORRELATION_ID.fullmatch(value):
        return value
    return None


def access_line(
    identifier: str | None,
    user: str | None,
    method: str,
    path: str,
    query: str,
    status: int,
    millis: float,
    correlation: str | None = None,
) -> str:
    """Format one access-log line of the text format."""
    target = f"{path}?{redact_query(query)}" if query else path
    line = (
        f"{identifier or '-'} {escape(user, spaces=True) if user else '-'} {escape(method, spaces=True)} "
        f"{escape(target, spaces=True)} {status} {millis:.2f}ms"
    )
    return f"{line} cid={correlation}" if correlation else line


def access_json(
    identifier: str | None,
    user: str | None,
    method: str,
    path: str,
    query: str,
    status: int,
    millis: float,
    correlation: str | None = None,
    *,
    now: float | None = None,
) -> str:
    """Format one access-log line of the JSON format (no line break)."""
    target = f"{path}?{redact_query(query)}" if query else path
    record: dict[str, Any] = {
        "time": _iso_time(time.time() if now is None else now),
        "_id": identifier,
        "user": escape(user) if user else None,
        "method": escape(method),
        "path": escape(target),
        "status": status,
        "ms": round(millis, 2),
        "pid": current_pid(),
    }
    if correlation:
        record["correlation_id"] = correlation
    return orjson.dumps(record).decode()


def _iso_time(epoch: float) -> str:
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """Log records as JSON lines: time, level, logger, message, pid (and the
    traceback as ``exc_info``), for the error log in the JSON format."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON object, control characters escaped by JSON itself."""
        data: dict[str, Any] = {
            "time": _iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        identifier = _request_identifier()
        if identifier is not None:
            data["_id"] = identifier
        if record.exc_info:
            data["exc_info"] = "".join(traceback.format_exception(*record.exc_info))
        return orjson.dumps(data, default=str).decode()


def _request_identifier() -> str | None:
    """The ``_id`` of the request being served, if any."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_request_context():
        return None
    state = getattr(flask.request._get_current_object(), "core4_state", None)
    return getattr(state, "identifier", None)


class AccessHandler(logging.StreamHandler[TextIO]):
    """The stream handler :func:`configure` installs.

    Besides ordinary records it takes finished lines through
    :meth:`write_line`, which writes exactly what ``emit`` would write for the
    same message without building a ``LogRecord`` (a noticeable part of a
    small request's cost).

    In a gevent worker, lines are collected and go out together at most
    :attr:`BATCH_SECONDS` after the first of them (or once :attr:`BATCH_LINES`
    are waiting): one locked write for hundreds of requests instead of one
    each, which under load cost as much as the rest of the line. Elsewhere
    every line is written at once. :meth:`flush` (also run by ``logging`` at
    exit, and by a stopping worker) writes what is pending.
    """

    #: longest a line waits in a gevent worker, seconds
    BATCH_SECONDS = 0.1
    #: lines that are written at once, however young
    BATCH_LINES = 512

    #: the format ``emit`` uses; ``write_line`` reproduces it
    FORMAT = "%(asctime)s %(message)s"

    def __init__(self, stream: Any = None, *, stamped: bool = True) -> None:
        super().__init__(stream)
        #: lines start with the time (text); JSON lines carry it inside
        self.stamped = stamped
        self.default_formatter = logging.Formatter(self.FORMAT if stamped else "%(message)s")
        self.setFormatter(self.default_formatter)
        self._second: int | None = None
        self._stamp = ""
        self._pending: list[str] = []
        self._timer: Any = None

    def takes_lines(self) -> bool:
        """True while ``write_line`` gives the same output as ``emit`` would."""
        return self.formatter is self.default_formatter and not self.filters and self.level <= logging.INFO

    def write_line(self, message: str) -> None:
        """Write ``<asctime> <message>`` (or the bare message) as the default formatter would."""
        if self.stamped:
            now = time.time()
            second = int(now)
            if second != self._second:
                formatter = self.default_formatter
                self._stamp = time.strftime(formatter.default_time_format, formatter.converter(second))
                self._second = second
            text = f"{self._stamp},{int((now - second) * 1000):03d} {message}{self.terminator}"
        else:
            text = message + self.terminator
        loop = _gevent_loop()
        if loop is None:
            self._write(text)
            return
        pending = self._pending
        pending.append(text)
        if len(pending) == 1:
            self._timer = timer = loop.timer(self.BATCH_SECONDS)
            timer.start(self._write_pending)
        elif len(pending) >= self.BATCH_LINES:
            self._write_pending()

    def emit(self, record: logging.LogRecord) -> None:
        """Write an ordinary record, after the lines still pending."""
        self._write_pending()
        super().emit(record)

    def flush(self) -> None:
        """Write the pending lines and flush the stream."""
        self._write_pending()
        super().flush()

    def _write_pending(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.close()
        pending = self._pending
        if pending:
            self._pending = []
            self._write("".join(pending))

    def _write(self, text: str) -> None:
        self.acquire()
        try:
            stream = self.stream
            stream.write(text)
            if hasattr(stream, "flush"):
                stream.flush()
        except Exception:  # noqa: BLE001 - report like logging does, never fail the request
            self.handleError(log.makeRecord(log.name, logging.INFO, __file__, 0, text, (), None))
        finally:
            self.release()


def _gevent_loop() -> Any:
    """The event loop running the current greenlet, if this is a gevent greenlet."""
    gevent = sys.modules.get("gevent")
    if gevent is None or not isinstance(gevent.getcurrent(), gevent.Greenlet):
        return None
    return gevent.get_hub().loop


def flush() -> None:
    """Write every pending access line (a worker calls it when it stops)."""
    for handler in log.handlers:
        if isinstance(handler, AccessHandler):
            handler.flush()


def configure(enabled: bool, log_format: str = "text") -> None:
    """Send access lines to stderr unless the application configured logging.

    With ``log_format="json"`` access lines are JSON objects, and so are the
    records of the ``core4flask`` logger (errors) unless the application gave
    that logger a handler of its own.
    """
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"config key [api.log_format] expects one of {', '.join(LOG_FORMATS)}, got [{log_format}]")
    if not enabled:
        log.disabled = True
        return
    log.disabled = False
    log.setLevel(logging.INFO)
    stamped = log_format == "text"
    own = [h for h in log.handlers if type(h) is AccessHandler]
    if own and own[0].stamped != stamped:
        for handler in own:
            handler.flush()
            log.removeHandler(handler)
    if not log.handlers:
        log.addHandler(AccessHandler(sys.stderr, stamped=stamped))
        log.propagate = False
    _configure_error_log(json_lines=not stamped)


#: the handler :func:`configure` gave the ``core4flask`` logger for JSON errors
_error_handler: logging.Handler | None = None


def _configure_error_log(*, json_lines: bool) -> None:
    global _error_handler
    errors = logging.getLogger("core4flask")
    if _error_handler is not None and not json_lines:
        errors.removeHandler(_error_handler)
        errors.propagate = True
        _error_handler = None
    elif json_lines and _error_handler is None and not errors.handlers:
        _error_handler = logging.StreamHandler(sys.stderr)
        _error_handler.setFormatter(JsonFormatter())
        errors.addHandler(_error_handler)
        errors.propagate = False


def _direct_handler() -> AccessHandler | None:
    """Our own handler when it is the only place access lines go."""
    handlers = log.handlers
    if len(handlers) != 1 or log.propagate or log.filters:
        return None
    handler = handlers[0]
    if type(handler) is not AccessHandler or not handler.takes_lines():
        return None
    return handler


def log_request(request: Any, state: Any, status: int, started: float | None, *, json_lines: bool = False) -> None:
    """Write the access line of a finished request."""
    if log.disabled or not log.isEnabledFor(logging.INFO):
        return
    millis = (time.perf_counter() - started) * 1000.0 if started else 0.0
    identifier = getattr(state, "identifier", None)
    user = getattr(state, "current_user", None)
    query = request.query_string.decode("latin-1") if request.query_string else ""
    environ = request.environ
    correlation = correlation_id(environ.get("HTTP_X_REQUEST_ID")) if "HTTP_X_REQUEST_ID" in environ else None
    format_line = access_json if json_lines else access_line
    line = format_line(identifier, user, request.method, request.path, query, status, millis, correlation)
    handler = _direct_handler()
    if handler is not None:
        handler.write_line(line)
    else:
        log.info(line)
