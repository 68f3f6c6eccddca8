"""gunicorn settings for core4flask: gevent workers, one per CPU by default.

    gunicorn -c gunicorn.conf.py wsgi:app

Environment: ``CORE4_BIND`` (default 127.0.0.1:5001), ``CORE4_WORKERS``
(default: the CPU count), ``CORE4_WORKER_CONNECTIONS`` (default 1000).
"""

import os

bind = os.environ.get("CORE4_BIND", "127.0.0.1:5001")
workers = int(os.environ.get("CORE4_WORKERS") or os.cpu_count() or 1)
worker_class = "gevent"
worker_connections = int(os.environ.get("CORE4_WORKER_CONNECTIONS", "1000"))
# every worker imports the application itself: database clients, the
# registry heartbeat and the gevent hub are created after the fork
preload_app = False
keepalive = 5
timeout = 30
graceful_timeout = 10
accesslog = None  # core4flask writes its own access line, credentials redacted


def post_request(worker, req, environ, resp):
    """Yield to the gevent loop after every request: a client that keeps a
    connection busy with back-to-back requests cannot starve the others."""
    import gevent

    gevent.sleep(0)


def post_worker_init(worker):
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


def worker_exit(server, worker):
    """Remove this worker's registry entries."""
    ext = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("core4flask")
    if ext is not None:
        ext.stop_serving()
