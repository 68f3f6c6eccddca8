"""Real servers for end-to-end tests: gunicorn, ``serve()`` and ``coco``.

Servers listen on 127.0.0.1 on a free port, get a throw-away instance
folder, and are stopped by their own PID.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "hans"
TOKEN_SECRET = "e2e-secret-0d3c8f1d9a7b4e2f8c6a5b3d1e9f7a2c-9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(instance: Path, port: int, **options: str) -> dict[str, str]:
    """Environment of a test server: its instance folder, admin password, secret."""
    env = dict(os.environ)
    env.update(
        {
            "CORE4_INSTANCE_PATH": str(instance),
            "CORE4_OPTION_api__port": str(port),
            "CORE4_OPTION_api__admin_password": ADMIN_PASSWORD,
            "CORE4_OPTION_api__token__secret": TOKEN_SECRET,
            "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("CORE4_CONFIG", None)
    for key, value in options.items():
        env[f"CORE4_OPTION_{key}"] = value
    return env


@dataclass
class LiveServer:
    """A server process started for a test."""

    url: str
    process: subprocess.Popen
    log: Path
    port: int
    instance: Path
    extra: dict = field(default_factory=dict)

    def get(self, path: str, **kwargs) -> requests.Response:
        """GET a path of this server."""
        kwargs.setdefault("timeout", 10)
        return requests.get(self.url + path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        """POST to a path of this server."""
        kwargs.setdefault("timeout", 10)
        return requests.post(self.url + path, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Any request to a path of this server."""
        kwargs.setdefault("timeout", 10)
        return requests.request(method, self.url + path, **kwargs)

    def output(self) -> str:
        """Everything the server wrote so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def output_with(self, text: str, timeout: float = 5.0) -> str:
        """The output once it contains ``text`` (a gevent worker writes access lines
        in batches, up to 0.1 s after the response); what there is after ``timeout`` otherwise."""
        deadline = time.monotonic() + timeout
        output = self.output()
        while text not in output and time.monotonic() < deadline:
            time.sleep(0.02)
            output = self.output()
        return output

    def stop(self) -> None:
        """Stop the server by its PID (TERM, then KILL after 10 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start(
    command: list[str],
    tmp: Path,
    *,
    port: int | None = None,
    ready: str = "/",
    timeout: float = 30,
    env: dict[str, str] | None = None,
    **options: str,
) -> LiveServer:
    """Start ``command`` and wait until it answers HTTP on its port."""
    port = port or free_port()
    instance = tmp / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    log = tmp / f"server-{port}.log"
    extra = env or {}
    env = server_env(instance, port, **options)
    env["CORE4_BIND"] = f"127.0.0.1:{port}"
    for key, value in extra.items():
        env[key] = value + os.pathsep + env[key] if key == "PYTHONPATH" else value
    command = [part.replace("{port}", str(port)) for part in command]
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", process, log, port, instance)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.output()}")
        try:
            requests.get(server.url + ready, timeout=1)
            return server
        except requests.RequestException:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not answer within {timeout}s:\n{server.output()}")


def gunicorn(tmp: Path, app: str = "wsgi:app", workers: int = 2, **options: str) -> LiveServer:
    """gunicorn with gevent workers, configured by gunicorn.conf.py (as the README serves)."""
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", str(workers), app]
    return start(command, tmp, **options)


def python_script(tmp: Path, script: Path, *args: str, **options) -> LiveServer:
    """A Python script that calls ``serve()``."""
    return start([sys.executable, str(script), *args], tmp, **options)


def login(server: LiveServer, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    """Log in and return the token."""
    response = server.get("/core4/api/v1/login", params={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["data"]["token"]
