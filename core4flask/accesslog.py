"""One access-log line per request, with credentials redacted.

``<_id> <user> <METHOD> <path?query> <status> <ms>ms``; the values of
``password``, ``passwd``, ``current_passwd`` and ``token`` query arguments
are replaced by ``***``.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any, TextIO

log = logging.getLogger("core4flask.access")

#: Query argument names whose values never reach a log.
SECRET_ARGUMENTS = ("password", "passwd", "current_passwd", "token", "secret")
_SECRET = re.compile(
    r"(^|&)((?:" + "|".join(re.escape(name) for name in SECRET_ARGUMENTS) + r")=)[^&]*",
    re.IGNORECASE,
)


def redact_query(query: str) -> str:
    """Replace the values of credential arguments in a query string."""
    if not query:
        return query
    return _SECRET.sub(r"\1\2***", query)


def access_line(
    identifier: str | None, user: str | None, method: str, path: str, query: str, status: int, millis: float
) -> str:
    """Format one access-log line."""
    target = f"{path}?{redact_query(query)}" if query else path
    return f"{identifier or '-'} {user or '-'} {method} {target} {status} {millis:.2f}ms"


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

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self.default_formatter = logging.Formatter(self.FORMAT)
        self.setFormatter(self.default_formatter)
        self._second: int | None = None
        self._stamp = ""
        self._pending: list[str] = []
        self._timer: Any = None

    def takes_lines(self) -> bool:
        """True while ``write_line`` gives the same output as ``emit`` would."""
        return self.formatter is self.default_formatter and not self.filters and self.level <= logging.INFO

    def write_line(self, message: str) -> None:
        """Write ``<asctime> <message>`` as the default formatter would."""
        now = time.time()
        second = int(now)
        if second != self._second:
            formatter = self.default_formatter
            self._stamp = time.strftime(formatter.default_time_format, formatter.converter(second))
            self._second = second
        text = f"{self._stamp},{int((now - second) * 1000):03d} {message}{self.terminator}"
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


def configure(enabled: bool) -> None:
    """Send access lines to stderr unless the application configured logging."""
    if not enabled:
        log.disabled = True
        return
    log.disabled = False
    log.setLevel(logging.INFO)
    if not log.handlers:
        log.addHandler(AccessHandler(sys.stderr))
        log.propagate = False


def _direct_handler() -> AccessHandler | None:
    """Our own handler when it is the only place access lines go."""
    handlers = log.handlers
    if len(handlers) != 1 or log.propagate or log.filters:
        return None
    handler = handlers[0]
    if type(handler) is not AccessHandler or not handler.takes_lines():
        return None
    return handler


def log_request(request: Any, state: Any, status: int, started: float | None) -> None:
    """Write the access line of a finished request."""
    if log.disabled or not log.isEnabledFor(logging.INFO):
        return
    millis = (time.perf_counter() - started) * 1000.0 if started else 0.0
    identifier = getattr(state, "identifier", None)
    user = getattr(state, "current_user", None)
    query = request.query_string.decode("latin-1") if request.query_string else ""
    line = access_line(identifier, user, request.method, request.path, query, status, millis)
    handler = _direct_handler()
    if handler is not None:
        handler.write_line(line)
    else:
        log.info(line)
