"""``serve()``: run containers on gevent's WSGI server, in one or more processes.

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
    server = WSGIServer(sock, app, log=None, error_log=log, handler_class=_raw_uri_handler())
    _run(app, server, children)


def _raw_uri_handler() -> type:
    """gevent's request handler, telling the application the path as sent
    (``RAW_URI``, as gunicorn does): rules match it before it is decoded."""
    from gevent.pywsgi import WSGIHandler

    class RawUriHandler(WSGIHandler):
        def get_environ(self) -> dict[str, Any]:
            environ = super().get_environ()
            environ["RAW_URI"] = self.path
            return environ

    return RawUriHandler


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
