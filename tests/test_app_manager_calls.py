"""The App Manager's branding and avatar calls over real HTTP (gunicorn with gevent workers)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
import requests

from tests import live
from tests.fixtures.store_apps import AXIOS_ACCEPT, IMG_ACCEPT
from tests.test_avatar import GIF, png

pytestmark = pytest.mark.e2e

API = "/core4/api/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live.LiveServer]:
    running = live.gunicorn(tmp_path_factory.mktemp("app-manager-calls"), workers=2)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def browser(server: live.LiveServer) -> requests.Session:
    """A session signed in as core4flask's login page does it: the cookie only."""
    session = requests.Session()
    response = session.post(server.url + API + "/login", json={"username": "admin", "password": live.ADMIN_PASSWORD})
    assert response.status_code == 200 and "token" in session.cookies
    return session


def test_branding_and_avatar_as_the_app_manager_asks_for_them(server: live.LiveServer, browser: requests.Session):
    store = browser.put(server.url + API + "/store", headers={"Accept": AXIOS_ACCEPT}, timeout=10)
    assert store.status_code == 200 and store.json()["data"]["parents"] == ["/"]
    assert store.request.headers.get("Content-Type") is None
    assert store.json()["data"]["doc"]["theme"]["light"]["primary"]

    none = browser.get(server.url + API + "/avatar", headers={"Accept": AXIOS_ACCEPT}, timeout=10)
    assert none.json()["data"] == "No avatar set yet."
    upload = browser.post(
        server.url + API + "/avatar",
        files={"file": ("portrait.jpg", png(), "image/png")},
        headers={"Accept": "*/*"},
        timeout=10,
    )
    assert upload.status_code == 200 and upload.json()["data"] == "Successfully set an avatar."
    image = browser.get(server.url + API + "/avatar", headers={"Accept": IMG_ACCEPT}, timeout=10)
    assert image.status_code == 200 and image.content == png()
    assert image.headers["Content-Type"] == "image/png" and image.headers["X-Content-Type-Options"] == "nosniff"


def test_readme_example_sets_the_contact_with_basic_auth_and_json(server: live.LiveServer, browser: requests.Session):
    posted = requests.post(
        server.url + API + "/store",
        auth=("admin", live.ADMIN_PASSWORD),
        data='{"contact": "it@example.org"}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert posted.status_code == 200, posted.text
    doc = browser.put(server.url + API + "/store", timeout=10).json()["data"]["doc"]
    assert doc["contact"] == "it@example.org" and doc["_id"] == "/"


def read_response(sock: socket.socket) -> bytes:
    """One HTTP response (head and Content-Length body) from ``sock``; the server may keep it open."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        assert chunk, answer
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, answer
        body += chunk
    return head + b"\r\n\r\n" + body


def test_an_oversized_upload_is_refused_before_its_body_is_sent(server: live.LiveServer, browser: requests.Session):
    cookie = browser.cookies["token"]
    head = (
        f"POST {API}/avatar HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nCookie: token={cookie}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {64 * 1024 * 1024}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"larger than 16 MiB" in answer
    still = browser.post(
        server.url + API + "/avatar", files={"file": ("a.gif", GIF, "image/gif")}, headers={"Accept": "*/*"}, timeout=10
    )
    assert still.status_code == 200
