"""``serve()``: run containers on gevent's WSGI server, in one or more processes.

The server bounds how long a client may take to send its request (see
:mod:`core4flask.deadline`) and refuses requests whose framing a proxy could
read differently (request smuggling).

Layer: entry point; it may use every layer below (see the README's Layout).
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping
from typing import Any

from .app import create_app
from .deadline import DeadlineReader, HeaderTimeout, timeouts_of

log = logging.getLogger("core4flask")


def resolve_container(spec: Any) -> Any:
    """A container class, or one named by a dotted ``module.Class`` string."""
    if not isinstance(spec, str):
        return spec
    module_name, _, attribute = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"container [{spec}] is not a dotted module.Class path")
    return getattr(importlib.import_module(module_name), attribute)


def patch_gevent() -> None:
    """Make the standard library cooperative (once, before serving)."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            monkey.patch_all()


def listen(address: str, port: int, *, reuse_port: bool = True, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket; with ``reuse_port`` several processes may share the port."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port and hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((address, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def serve(
    *containers: Any,
    port: int | None = None,
    address: str | None = None,
    workers: int = 1,
    reuse_port: bool = True,
    config: Mapping[str, Any] | None = None,
    instance_path: str | None = None,
    **_ignored: Any,
) -> None:
    """Serve ``containers`` (plus the standard container) until stopped.

    ``workers`` > 1 forks that many processes sharing the listening socket.
    """
    patch_gevent()
    from gevent.pywsgi import WSGIServer

    app = create_app(*[resolve_container(c) for c in containers], config=config, instance_path=instance_path)
    ext = app.extensions["core4flask"]
    port = int(port if port is not None else ext.config.api.port)
    address = address or ext.config.api.address or "127.0.0.1"
    sock = listen(address, port, reuse_port=reuse_port)
    ext.prepare_serving()
    print(f"core4flask serving on http://{address}:{port} (pid {os.getpid()}, {workers} worker(s))", flush=True)
    children: list[int] = []
    for _ in range(max(1, int(workers)) - 1):
        pid = os.fork()
        if pid == 0:
            children.clear()
            break
        children.append(pid)
    header_timeout, body_timeout = timeouts_of(ext.config)
    handler = _request_handler(header_timeout, body_timeout)
    server = WSGIServer(sock, app, log=None, error_log=log, handler_class=handler)
    _run(app, server, children)


def _request_handler(header_timeout: float, body_timeout: float) -> type:
    """gevent's request handler with what ``serve()`` adds to it.

    * The application sees the path as sent (``RAW_URI``, as under gunicorn):
      rules match it before it is decoded.
    * A connection waits at most ``header_timeout`` seconds for the request
      line and headers (which also ends idle keep-alive connections), and a
      body must arrive within ``body_timeout`` seconds after them (see
      :mod:`core4flask.deadline`).
    * A request with two ``Content-Length`` headers, or with both
      ``Content-Length`` and ``Transfer-Encoding``, or with a transfer coding
      other than ``chunked``, is refused with 400: a proxy in front of the
      server could read its body differently and smuggle a second request.
    """
    import errno

    import gevent
    from gevent.pywsgi import WSGIHandler

    class GuardedHandler(WSGIHandler):
        # a timed-out read ends the connection quietly, as a reset does
        ignored_socket_errors = (*WSGIHandler.ignored_socket_errors, errno.ETIMEDOUT)

        def handle_one_request(self) -> Any:
            self._header_timer = gevent.Timeout.start_new(header_timeout, HeaderTimeout(header_timeout))
            try:
                return super().handle_one_request()
            finally:
                self._header_timer.close()

        def MessageClass(self, *args: Any) -> Any:  # noqa: N802 - gevent's name
            headers = super().MessageClass(*args)
            # gevent drops Content-Length of a chunked request: keep what came
            headers.received_lengths = headers.get_all("Content-Length") or []
            return headers

        def read_request(self, raw_requestline: str) -> bool:
            try:
                framed = super().read_request(raw_requestline)
                refusal = smuggling_refusal(self.headers.received_lengths, self.headers)
            finally:
                self._header_timer.close()
            if refusal:
                raise ValueError(refusal)
            return framed

        def get_environ(self) -> dict[str, Any]:
            environ = super().get_environ()
            environ["RAW_URI"] = self.path
            body = getattr(self, "wsgi_input", None)
            if body is not None:
                body.rfile = DeadlineReader(body.rfile, body_timeout)
            return environ

    return GuardedHandler


def smuggling_refusal(lengths: Any, headers: Any) -> str | None:
    """Why a request's framing headers are refused, or None when they are fine.

    ``lengths`` are the ``Content-Length`` values as received (gevent drops
    that header of a chunked request before the application sees it).
    """
    codings = headers.get_all("Transfer-Encoding") or ()
    if len(lengths) > 1:
        return "more than one Content-Length header"
    if codings and lengths:
        return "both Content-Length and Transfer-Encoding"
    if len(codings) > 1 or (codings and codings[0].strip().lower() != "chunked"):
        return "a Transfer-Encoding other than chunked"
    return None


def _run(app: Any, server: Any, children: list[int]) -> None:
    import gevent

    ext = app.extensions["core4flask"]

    def stop(*_args: Any) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        server.stop(timeout=5)

    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    ext.start_serving(server.server_port)
    try:
        server.serve_forever()
    finally:
        ext.stop_serving()
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        sys.stdout.flush()
