"""gunicorn settings for core4flask: gevent workers, one per CPU by default.

An installed package serves any application with them::

    gunicorn -c python:core4flask.gunicorn_conf myapp:app

(the repository's ``gunicorn.conf.py`` is this module). Environment:

* ``CORE4_BIND`` (default ``127.0.0.1:5001``);
* ``CORE4_WORKERS``, else ``WEB_CONCURRENCY`` (as gunicorn's own default
  reads it, and as platforms such as Heroku set it), else the CPU count;
* ``CORE4_WORKER_CONNECTIONS`` (default 1000).

Command-line options (``-w 4``, ``-b 0.0.0.0:8000``) win over all of them.
The worker class is :class:`GeventWorker`: gunicorn's gevent worker with
core4flask's bounds on slow clients (``api.header_timeout``,
``api.body_timeout``, see :mod:`core4flask.deadline`).

Layer: entry point (gunicorn's configuration module); it uses helpers only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker as _GunicornGeventWorker

from .config import load_config
from .deadline import DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DeadlineReader, timeouts_of

# what ``from core4flask.gunicorn_conf import *`` gives a gunicorn.conf.py:
# gunicorn's settings and server hooks
__all__ = [
    "accesslog",
    "bind",
    "graceful_timeout",
    "keepalive",
    "post_request",
    "post_worker_init",
    "preload_app",
    "timeout",
    "worker_class",
    "worker_connections",
    "worker_exit",
    "workers",
]


def worker_count(environ: Mapping[str, str], cpus: int | None = None) -> int:
    """Worker processes: ``CORE4_WORKERS``, else ``WEB_CONCURRENCY``, else the CPU count."""
    for name in ("CORE4_WORKERS", "WEB_CONCURRENCY"):
        value = (environ.get(name) or "").strip()
        if value:
            try:
                count = int(value)
            except ValueError:
                raise SystemExit(f"{name} must be a whole number of workers, not [{value}]") from None
            if count < 1:
                raise SystemExit(f"{name} must be at least 1, not [{value}]")
            return count
    return cpus if cpus is not None else (os.cpu_count() or 1)


class GeventWorker(_GunicornGeventWorker):
    """gunicorn's gevent worker, bounding how long a client may take to send a request.

    The headers must arrive within ``api.header_timeout`` (or gunicorn's
    ``keepalive``, when smaller: gunicorn applies one timeout to waiting for
    a request and reading its headers); the body within ``api.body_timeout``
    after them. A body that takes longer answers 408 (when the application
    reads it) and the connection is closed.
    """

    #: seconds, from the application's configuration once it is loaded
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT

    def load_wsgi(self) -> None:
        """Load the application, then read its bounds."""
        super().load_wsgi()
        ext = getattr(self.wsgi, "extensions", {}).get("core4flask")
        if ext is not None:
            config: Any = ext.config
        else:  # an application wrapped in middleware: the layered configuration
            config = load_config()
        self.header_timeout, self.body_timeout = timeouts_of(config)

    def timeout_ctx(self) -> gevent.Timeout:
        """The bound of waiting for a request and reading its headers."""
        keepalive = self.cfg.keepalive
        return gevent.Timeout(min(keepalive, self.header_timeout) if keepalive else self.header_timeout, False)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        """Serve one request with its body read under the deadline."""
        body = req.body = DeadlineReader(req.body, self.body_timeout)
        served = super().handle_request(listener_name, req, sock, addr)
        if body.timed_out:
            raise StopIteration  # the rest of the body is unknown: close the connection
        return served


bind = os.environ.get("CORE4_BIND", "127.0.0.1:5001")
workers = worker_count(os.environ)
worker_class = "core4flask.gunicorn_conf.GeventWorker"
worker_connections = int(os.environ.get("CORE4_WORKER_CONNECTIONS", "1000"))
# every worker imports the application itself: database clients, the
# registry heartbeat and the gevent hub are created after the fork
preload_app = False
keepalive = 5
timeout = 30
graceful_timeout = 10
accesslog = None  # core4flask writes its own access line, credentials redacted


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """Yield to the gevent loop after every request: a client that keeps a
    connection busy with back-to-back requests cannot starve the others."""
    gevent.sleep(0)


def post_worker_init(worker: Any) -> None:
    """Start the per-process parts (registry heartbeat) once the worker serves."""
    import gc

    ext = getattr(worker.wsgi, "extensions", {}).get("core4flask")
    if ext is not None:
        # first start: the admin user (its generated password is printed once
        # by the worker that creates it) and the token secret
        ext.prepare_serving()
        names = [sock.getsockname() for sock in worker.sockets]
        port = next((name[1] for name in names if isinstance(name, tuple)), None)
        ext.start_serving(port)
    # the application's objects live as long as the worker: keep them out of
    # every garbage collection from now on
    gc.freeze()


def worker_exit(server: Any, worker: Any) -> None:
    """Remove this worker's registry entries."""
    ext = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("core4flask")
    if ext is not None:
        ext.stop_serving()
