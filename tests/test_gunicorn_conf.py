"""``core4flask.gunicorn_conf``: the serving settings of an installed package."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core4flask.gunicorn_conf import worker_count
from tests import live


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, 7),
        ({"WEB_CONCURRENCY": "3"}, 3),
        ({"WEB_CONCURRENCY": " 3 "}, 3),
        ({"CORE4_WORKERS": "2", "WEB_CONCURRENCY": "3"}, 2),
        ({"CORE4_WORKERS": "", "WEB_CONCURRENCY": "4"}, 4),
    ],
)
def test_worker_count(environ, expected):
    assert worker_count(environ, cpus=7) == expected


@pytest.mark.parametrize("value", ["many", "0", "-1", "2.5"])
def test_a_bad_worker_count_stops_with_its_name(value):
    with pytest.raises(SystemExit, match=f"WEB_CONCURRENCY .*{value}"):
        worker_count({"WEB_CONCURRENCY": value}, cpus=7)


def resolved_settings(config: str, cwd, **environ: str) -> dict[str, str]:
    """The settings gunicorn resolves (``--print-config``), as text by name."""
    env = {k: v for k, v in os.environ.items() if k not in ("CORE4_WORKERS", "WEB_CONCURRENCY", "CORE4_BIND")}
    env.update(environ)
    env["PYTHONPATH"] = str(live.ROOT)
    command = [sys.executable, "-m", "gunicorn", "--print-config", "-c", config, "wsgi:app"]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=True)
    settings = {}
    for line in done.stdout.splitlines():
        name, _, value = line.partition("=")
        settings[name.strip()] = value.strip()
    return settings


@pytest.mark.parametrize("config", ["python:core4flask.gunicorn_conf", "gunicorn.conf.py"])
def test_gunicorn_reads_the_packaged_settings(config, tmp_path):
    # the packaged module works from any folder; the repository's file from its own
    cwd = live.ROOT if config.endswith(".py") else tmp_path
    settings = resolved_settings(config, cwd, WEB_CONCURRENCY="3", CORE4_BIND="127.0.0.1:5099")
    assert settings["workers"] == "3"
    assert settings["worker_class"] == "core4flask.gunicorn_conf.GeventWorker"
    assert settings["bind"] == "['127.0.0.1:5099']"
    assert settings["keepalive"] == "5" and settings["preload_app"] == "False"
    assert settings["post_worker_init"].startswith("<post_worker_init")
    assert resolved_settings(config, cwd, WEB_CONCURRENCY="3", CORE4_WORKERS="2")["workers"] == "2"


def test_the_settings_module_leaves_the_application_unimported():
    """gunicorn's master imports the settings before a gevent worker patches
    the standard library: pymongo and PyJWT keep direct ``ssl`` references
    that the patch would miss if they were loaded there."""
    probe = (
        "import sys, core4flask.gunicorn_conf\n"
        "print(sorted(m for m in ('pymongo', 'jwt', 'flask', 'pandas', 'core4flask.app') if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=live.ROOT)
    assert loaded.stdout.strip() == "[]"


def test_the_package_face_gives_the_public_api():
    import core4flask
    from core4flask.handler import CoreRequestHandler

    assert core4flask.CoreRequestHandler is CoreRequestHandler
    assert set(core4flask.__all__) <= set(dir(core4flask))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        core4flask.nothing  # noqa: B018
