"""One access-log line per request, with credentials redacted.

``<_id> <user> <METHOD> <path?query> <status> <ms>ms``; the values of
``password``, ``passwd``, ``current_passwd`` and ``token`` query arguments
are replaced by ``***``.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

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
    return f"{identifier or '-'} {user or '-'} {method} {target} {status} {millis:.1f}ms"


def configure(enabled: bool) -> None:
    """Send access lines to stderr unless the application configured logging."""
    if not enabled:
        log.disabled = True
        return
    log.disabled = False
    log.setLevel(logging.INFO)
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.propagate = False


def log_request(request: Any, state: Any, status: int, started: float | None) -> None:
    """Write the access line of a finished request."""
    if log.disabled or not log.isEnabledFor(logging.INFO):
        return
    millis = (time.perf_counter() - started) * 1000.0 if started else 0.0
    identifier = getattr(state, "identifier", None)
    user = getattr(state, "current_user", None)
    query = request.query_string.decode("latin-1") if request.query_string else ""
    log.info(access_line(identifier, user, request.method, request.path, query, status, millis))
