"""Per-request cost without a server: direct WSGI calls, bare Flask vs core4flask.

    python bench/inprocess.py [--calls 10000] [--rounds 5]

Each round calls every application's WSGI entry point ``--calls`` times
(the DataFrame scenarios a hundredth of that)
with a prepared environ and prints the median microseconds per call. No
sockets and no gunicorn: what remains is the Python work of the frameworks,
which is what the hot-path work in core4flask targets. The access log goes
to /dev/null, as in ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apps import create_bare_app, create_core4_app  # noqa: E402

SECRET = "inprocess-benchmark-secret-" + "0" * 40


def environ(path: str, authorization: str | None = None) -> dict[str, Any]:
    """A minimal GET environ for ``path``."""
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5001",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:5001",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if authorization:
        env["HTTP_AUTHORIZATION"] = authorization
    return env


def _start_response(status: str, headers: list, exc_info: Any = None) -> None:
    return None


def per_call(
    app: Callable, path: str, calls: int, authorization: str | None = None, accept: str | None = None
) -> float:
    """Microseconds per WSGI call of ``app`` for ``path``."""

    def request() -> dict[str, Any]:
        env = environ(path, authorization)
        if accept:
            env["HTTP_ACCEPT"] = accept
        return env

    for _ in range(min(calls, 1000)):
        b"".join(app(request(), _start_response))
    started = time.perf_counter()
    for _ in range(calls):
        b"".join(app(request(), _start_response))
    return (time.perf_counter() - started) / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    """Print the median cost per call of each scenario."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    bare = create_bare_app()
    core = create_core4_app(
        instance_path=tempfile.mkdtemp(prefix="core4flask-inprocess-"),
        config={"api": {"admin_password": "hans", "token": {"secret": SECRET}}},
    )
    access = logging.getLogger("core4flask.access")
    for handler in access.handlers:
        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    login = core.test_client().get("/core4/api/v1/login", query_string={"username": "admin", "password": "hans"})
    bearer = "Bearer " + login.json["data"]["token"]
    frame_calls = max(args.calls // 100, 10)

    scenarios: list[tuple[str, Callable[[], float]]] = [
        ("bare Flask jsonify", lambda: per_call(bare, "/bench/hello", args.calls)),
        ("core4flask hello world", lambda: per_call(core, "/bench/hello", args.calls)),
        ("core4flask hello world, no access log", lambda: _without_log(access, core, args.calls)),
        ("core4flask protected hello world", lambda: per_call(core, "/bench/protected", args.calls, bearer)),
        # the frames: pandas' writers against core4flask's replies (100 times fewer calls)
        ("bare Flask DataFrame to_json", lambda: per_call(bare, "/bench/frame", frame_calls)),
        ("core4flask DataFrame as JSON", lambda: per_call(core, "/bench/frame", frame_calls)),
        ("bare Flask DataFrame to_csv", lambda: per_call(bare, "/bench/frame.csv", frame_calls)),
        ("core4flask DataFrame as CSV", lambda: per_call(core, "/bench/frame", frame_calls, accept="text/csv")),
    ]
    results: dict[str, list[float]] = {name: [] for name, _ in scenarios}
    for _ in range(args.rounds):
        for name, measure in scenarios:
            results[name].append(measure())
    print(f"{'scenario':40} {'µs/call':>9} {'bare/this':>9}")
    baseline = 0.0
    for name, values in results.items():
        median = statistics.median(values)
        if name.startswith("bare"):
            baseline = median  # each bare line is the baseline of the lines below it
        print(f"{name:40} {median:9.1f} {baseline / median:9.2f}")
    return 0


def _without_log(access: logging.Logger, core: Callable, calls: int) -> float:
    access.disabled = True
    try:
        return per_call(core, "/bench/hello", calls)
    finally:
        access.disabled = False


if __name__ == "__main__":
    raise SystemExit(main())
