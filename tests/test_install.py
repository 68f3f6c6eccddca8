"""End-to-end: the wheel, installed in a new virtual environment, serves a
project of its own and keeps its users when the environment is rebuilt."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from tests import live

pytestmark = pytest.mark.e2e

API = textwrap.dedent(
    """
    from core4flask import CoreApiContainer, CoreRequestHandler


    class SalesHandler(CoreRequestHandler):
        author = "ops"
        title = "sales"

        def get(self):
            self.reply({"user": self.current_user})


    class SalesServer(CoreApiContainer):
        root = "/sales"
        rules = [(r"/report", SalesHandler)]
    """
)
WSGI = "from core4flask import create_app\nfrom salesapp.api import SalesServer\n\napp = create_app(SalesServer)\n"


def run(command: list[str], **kwargs) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(folder), str(live.ROOT)])
    (found,) = folder.glob("core4flask-*.whl")
    return found


def make_venv(folder: Path, wheel: Path) -> Path:
    """A new virtual environment (no system site-packages) with the wheel installed."""
    run([sys.executable, "-m", "venv", str(folder)])
    python = folder / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", "-c", str(live.ROOT / "constraints.txt"), str(wheel)])
    return folder


def serve(venv: Path, project: Path, port: int, log: Path) -> subprocess.Popen:
    """The project's app under gunicorn with the installed package's settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CORE4_", "PYTHON"))}
    env.update({"CORE4_BIND": f"127.0.0.1:{port}", "CORE4_OPTION_api__admin_password": live.ADMIN_PASSWORD})
    command = [str(venv / "bin" / "gunicorn"), "-c", "python:core4flask.gunicorn_conf", "-w", "1", "salesapp.wsgi:app"]
    with open(log, "ab") as sink:
        process = subprocess.Popen(command, cwd=project, env=env, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            requests.get(f"http://127.0.0.1:{port}/core4/api/v1/health", timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.2)
    stop(process)
    raise AssertionError(f"no answer within 60 s:\n{log.read_text(errors='replace')}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def test_wheel_serves_a_project_and_keeps_its_users_across_a_venv_rebuild(tmp_path, wheel):
    project = tmp_path / "project"
    (project / "salesapp").mkdir(parents=True)
    (project / "salesapp" / "__init__.py").write_text("", encoding="utf-8")
    (project / "salesapp" / "api.py").write_text(API, encoding="utf-8")
    (project / "salesapp" / "wsgi.py").write_text(WSGI, encoding="utf-8")
    venv = make_venv(tmp_path / "venv", wheel)
    port = live.free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"

    process = serve(venv, project, port, log)
    try:
        assert requests.get(url + "/core4/api/v1/health", timeout=5).json()["data"] == {"status": "alive"}
        assert requests.get(url + "/core4/api/v1/ready", timeout=5).status_code == 200
        admin = {"Authorization": "Bearer " + login(url, "admin", live.ADMIN_PASSWORD)}
        created = requests.post(
            url + "/core4/api/v1/roles",
            json={"name": "carla", "email": "carla@example.org", "passwd": "a-long-passphrase-7", "perm": ["cop"]},
            headers=admin,
            timeout=10,
        )
        assert created.status_code == 200, created.text
        token = login(url, "carla", "a-long-passphrase-7")
    finally:
        stop(process)

    store = project / "instance" / "core4flask.sqlite3"
    assert store.is_file(), "the store lives in the project's own instance folder"
    assert not list(venv.rglob("core4flask.sqlite3")), "nothing of the store inside the environment"
    assert f"core4flask store: SQLite at {store}" in log.read_text(errors="replace")

    shutil.rmtree(venv)
    make_venv(venv, wheel)
    process = serve(venv, project, port, log)
    try:
        assert login(url, "carla", "a-long-passphrase-7")
        # the generated token secret was kept too: a token from before the rebuild still works
        report = requests.get(url + "/sales/report", headers={"Authorization": "Bearer " + token}, timeout=5)
        assert report.status_code == 200 and report.json()["data"] == {"user": "carla"}
        assert requests.get(url + "/core4/api/v1/ready", timeout=5).status_code == 200
    finally:
        stop(process)


def login(url: str, username: str, password: str) -> str:
    response = requests.get(url + "/core4/api/v1/login", auth=(username, password), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]["token"]
