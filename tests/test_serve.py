"""End-to-end: ``serve()`` and ``coco`` processes answering over HTTP."""

from __future__ import annotations

import concurrent.futures
import sys
import time

import pytest
import requests

from tests import live

pytestmark = pytest.mark.e2e  # every test here talks to a real server

SERVERS = live.ROOT / "tests" / "servers"


@pytest.fixture
def two_workers(tmp_path):
    server = live.python_script(tmp_path, SERVERS / "two_containers.py", "2", ready="/one/hello")
    yield server
    server.stop()


def test_serve_mounts_several_containers(two_workers):
    for root in ("/one", "/two"):
        response = two_workers.get(root + "/hello")
        assert response.status_code == 200
        body = response.json()
        assert body["code"] == 200 and isinstance(body["data"]["pid"], int)
    assert two_workers.get("/three/hello").status_code == 404


def test_serve_matches_rules_against_the_path_as_sent(two_workers):
    response = two_workers.get("/one/echo/a%2Fb/M%C3%BCnchen")
    assert response.status_code == 200
    assert response.json()["data"] == ["a/b", "München"]


def test_serve_workers_share_the_port(two_workers):
    pids = set()
    deadline = time.monotonic() + 10
    while len(pids) < 2 and time.monotonic() < deadline:
        with requests.Session() as session:
            pids.add(session.get(two_workers.url + "/one/hello", timeout=5).json()["data"]["pid"])
    assert len(pids) == 2, "two worker processes should answer on one port"


def test_serve_handles_requests_concurrently(two_workers):
    # ten one-second requests on gevent: a worker sleeps several of them at once
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: two_workers.get("/one/sleep?s=1"), range(10)))
    assert [response.status_code for response in responses] == [200] * 10
    peaks = [response.json()["data"]["peak"] for response in responses]
    assert max(peaks) >= 3, peaks


def test_serve_stops_on_sigterm(tmp_path):
    server = live.python_script(tmp_path, SERVERS / "two_containers.py", ready="/one/hello")
    server.stop()
    assert server.process.returncode is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/one/hello", timeout=2)


def test_coco_serves_containers_by_qual_name_prefix(tmp_path):
    command = [
        sys.executable,
        "-m",
        "core4flask.cli",
        "--application",
        "--filter",
        "tests.servers.two_containers.One",
        "--port",
        "{port}",
        "--address",
        "127.0.0.1",
        "--reuse-port",
    ]
    server = live.start(command, tmp_path, ready="/one/hello")
    try:
        assert server.get("/one/hello").status_code == 200
        assert server.get("/two/hello").status_code == 404
    finally:
        server.stop()
