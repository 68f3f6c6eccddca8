"""The App Manager's calls over real HTTP (gunicorn with gevent workers): branding,
avatars, placeholder credentials next to the cookie, the profile page as a
browser frames it, and core4's pseudo-methods."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
import requests

from tests import live
from tests.fixtures.store_apps import AXIOS_ACCEPT, IMG_ACCEPT, PAGE_ACCEPT, USER_PASSWORD
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


def signed_in_user(server: live.LiveServer, name: str) -> requests.Session:
    """A new standard user, signed in as core4flask's login page does it (the cookie only)."""
    created = requests.post(
        server.url + API + "/roles",
        json={"name": name, "email": f"{name}@example.com", "passwd": USER_PASSWORD, "role": ["standard_user"]},
        auth=("admin", live.ADMIN_PASSWORD),
        timeout=10,
    )
    assert created.status_code == 200, created.text
    session = requests.Session()
    response = session.post(server.url + API + "/login", json={"username": name, "password": USER_PASSWORD}, timeout=10)
    assert response.status_code == 200 and "token" in session.cookies
    return session


def test_cards_with_bearer_undefined_and_the_cookie(server: live.LiveServer) -> None:
    session = signed_in_user(server, "carla")
    placeholder = {"Accept": AXIOS_ACCEPT, "Authorization": "Bearer undefined"}
    store = session.put(server.url + API + "/store", headers=placeholder, timeout=10)
    assert store.status_code == 200 and store.json()["data"]["parents"] == ["/"]
    entries = session.get(server.url + API + "/_info?per_page=6&page=0", headers=placeholder, timeout=10).json()["data"]
    assert entries
    for entry in entries:
        # the widgets' own axios instance: Accept application/json, Bearer undefined, the cookie
        card = session.get(
            f"{entry['endpoint'][0]}/_info/card/{entry['rsc_id']}",
            headers={"Accept": "application/json", "Authorization": "Bearer undefined"},
            timeout=10,
        )
        assert card.status_code == 200 and card.json()["rsc_id"] == entry["rsc_id"]
    for bearer in ("Bearer null", "Bearer "):
        profile = session.get(server.url + API + "/profile", headers={"Authorization": bearer}, timeout=10)
        assert profile.status_code == 200 and profile.json()["data"]["name"] == "carla"
    forged = session.get(server.url + API + "/profile", headers={"Authorization": "Bearer a.b.c"}, timeout=10)
    assert forged.status_code == 401
    assert requests.get(server.url + API + "/profile", headers=placeholder, timeout=10).status_code == 401


def test_the_avatar_with_token_minus_one_and_the_cookie(server: live.LiveServer) -> None:
    session = signed_in_user(server, "dora")
    upload = session.post(
        server.url + API + "/avatar?token=-1",
        files={"file": ("blob.png", png(), "image/png")},
        headers={"Accept": "*/*"},
        timeout=10,
    )
    assert upload.status_code == 200 and upload.json()["data"] == "Successfully set an avatar."
    image = session.get(server.url + API + "/avatar?token=-1", headers={"Accept": IMG_ACCEPT}, timeout=10)
    assert image.status_code == 200 and image.content == png()
    assert requests.get(server.url + API + "/avatar?token=-1", timeout=10).status_code == 401


def test_the_profile_page_as_the_app_manager_frames_it(server: live.LiveServer) -> None:
    session = signed_in_user(server, "emil")
    url = server.url + API + "/profile?dark=true&themeDark=primary=%23D70F14xyzaccent=%231D4161&themeLight=x"
    page = session.get(url, headers={"Accept": PAGE_ACCEPT}, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert '<strong id="profile-name">emil</strong>' in page.text and "theme-dark" in page.text
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    etag = re.search(r'name="etag" value="([0-9a-f]{24})"', page.text).group(1)
    saved = session.post(
        server.url + API + "/profile?dark=true",
        data={"etag": etag, "realname": "Emil E", "email": "emil@example.com", "passwd": "", "current_passwd": ""},
        headers={"Accept": PAGE_ACCEPT},
        allow_redirects=False,
        timeout=10,
    )
    assert saved.status_code == 303 and saved.headers["Location"] == API + "/profile?dark=true&status=saved"
    assert session.get(server.url + API + "/profile", timeout=10).json()["data"]["realname"] == "Emil E"


@pytest.mark.parametrize(("method", "page"), [("XCARD", "card"), ("XHELP", "help"), ("XENTER", "enter")])
def test_pseudo_methods_answer_like_get(server: live.LiveServer, method: str, page: str) -> None:
    token = live.login(server)
    auth = {"Authorization": f"bearer {token}"}  # core4's test client spells the scheme in lower case
    entries = server.get(API + "/_info?search=!&per_page=100", headers=auth).json()["data"]
    entry = next(e for e in entries if e["qual_name"] == "demo.seed.TestHandler")
    url = f"/test-server/_info/{page}/{entry['rsc_id']}"
    pseudo, got = server.request(method, url, headers=auth), server.get(url, headers=auth)
    assert pseudo.status_code == got.status_code == 200
    assert pseudo.headers["Content-Type"] == got.headers["Content-Type"]
    on_handler = server.request(method, "/test-server/test", headers=auth)
    assert on_handler.status_code == 200 and on_handler.headers["Content-Type"] == got.headers["Content-Type"]
    if page == "enter":
        assert pseudo.json()["data"] == got.json()["data"] == on_handler.json()["data"] == "hello world"
    elif page == "card":
        assert pseudo.json()["rsc_id"] == on_handler.json()["rsc_id"] == entry["rsc_id"]
    else:
        assert pseudo.json()["data"]["qual_name"] == on_handler.json()["data"]["qual_name"] == "demo.seed.TestHandler"
