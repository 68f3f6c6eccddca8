"""The two applications the benchmark compares, path for path.

``create_bare_app()`` is plain Flask doing the least a JSON service can do;
``create_core4_app()`` is core4flask with its standard container and the
access log on as configured by default. They answer the same paths:

``/bench/hello``
    ``jsonify({"data": "hello world"})`` / the envelope around ``"hello world"``
``/bench/frame``
    the benchmark DataFrame as JSON records (core4flask: inside the envelope,
    or as CSV when the client sends ``Accept: text/csv``)
``/bench/frame.csv``
    bare Flask only: the DataFrame as CSV (``df.to_csv()``)
``/bench/protected``
    core4flask only: the hello world of a protected handler

Serve them from the repository root with gunicorn's factory syntax::

    gunicorn -c gunicorn.conf.py 'bench.apps:create_bare_app()'
    gunicorn -c gunicorn.conf.py 'bench.apps:create_core4_app()'

Only the core4flask factory imports core4flask, so the memory of a bare
worker is Flask, pandas and this module.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

import flask
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from core4flask import CoreApiContainer

#: Rows of the benchmark DataFrame (it has 5 columns).
FRAME_ROWS = 10_000
#: Seed of the random data, so every process builds the same frame.
FRAME_SEED = 4
#: What pandas is told so that its records are exactly those core4flask sends
#: for this frame (whole-second datetimes; floats with at most four decimals,
#: which pandas' ten-decimal rounding leaves alone).
RECORDS_OPTIONS = {"orient": "records", "date_format": "iso", "date_unit": "s"}
#: Paths below the root both applications serve.
ROOT = "/bench"


def make_frame(rows: int = FRAME_ROWS, seed: int = FRAME_SEED) -> pd.DataFrame:
    """A deterministic frame: int, float with NaN, str, datetime and float columns."""
    rng = np.random.default_rng(seed)
    value = rng.normal(100.0, 25.0, rows).round(4)
    value[rng.random(rows) < 0.1] = np.nan
    start = pd.Timestamp("2024-01-01 08:00:00")
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "value": value,
            "name": [f"item-{i % 997:04d}" for i in range(rows)],
            "created": start + pd.to_timedelta(rng.integers(0, 86_400 * 365, rows), unit="s"),
            "score": rng.integers(-1000, 1000, rows).astype("float64") / 8,
        }
    )


#: The DataFrame every frame path answers (built once per process).
FRAME = make_frame()


def create_bare_app() -> flask.Flask:
    """Plain Flask: ``jsonify`` and pandas' own writers, nothing else."""
    app = flask.Flask("bench_bare")

    @app.get(f"{ROOT}/hello")
    def hello() -> flask.Response:
        return flask.jsonify({"data": "hello world"})

    @app.get(f"{ROOT}/frame")
    def frame_json() -> flask.Response:
        return flask.Response(FRAME.to_json(**RECORDS_OPTIONS), mimetype="application/json")

    @app.get(f"{ROOT}/frame.csv")
    def frame_csv() -> flask.Response:
        return flask.Response(FRAME.to_csv(), mimetype="text/csv")

    return app


def bench_container() -> type[CoreApiContainer]:
    """The core4flask container with the handlers under test.

    The classes are made here so that only core4flask workers import
    core4flask; their qualified names are set as if they were module-level
    (``bench.apps.HelloHandler``), which is what permissions match.
    """
    from core4flask import CoreApiContainer, CoreRequestHandler

    class HelloHandler(CoreRequestHandler):
        """The hello world of a public handler."""

        __qualname__ = "HelloHandler"
        protected = False

        def get(self) -> None:
            self.reply("hello world")

    class ProtectedHelloHandler(CoreRequestHandler):
        """The hello world of a protected handler: token and permission checked."""

        __qualname__ = "ProtectedHelloHandler"

        def get(self) -> None:
            self.reply("hello world")

    class FrameHandler(CoreRequestHandler):
        """The benchmark frame, rendered as the client asks."""

        __qualname__ = "FrameHandler"
        protected = False

        def get(self) -> None:
            self.reply(FRAME)

    class BenchContainer(CoreApiContainer):
        """The handlers under test."""

        __qualname__ = "BenchContainer"
        root = ROOT
        rules = (
            (r"/hello", HelloHandler),
            (r"/frame", FrameHandler),
            (r"/protected", ProtectedHelloHandler),
        )

    return BenchContainer


def create_core4_app(instance_path: str | None = None, config: dict[str, Any] | None = None) -> flask.Flask:
    """core4flask with the benchmark container and the standard container.

    The store lives in ``instance_path``, else ``CORE4_INSTANCE_PATH``, else
    a new temporary folder; ``config`` is passed to ``create_app``.
    """
    from core4flask import create_app

    instance_path = instance_path or os.environ.get("CORE4_INSTANCE_PATH")
    if not instance_path:
        instance_path = tempfile.mkdtemp(prefix="core4flask-bench-")
    return create_app(bench_container(), config=config, instance_path=instance_path)
