"""Every example of the seed document, run on core4flask over real HTTP.

The handlers in ``tests/servers/seed_project/handlers.py`` are the
document's code with only the import lines changed; ``serve()`` runs them
in a separate process, and these tests make the document's requests.
"""

from __future__ import annotations

import datetime
import re
import sys

import pytest
import requests
from requests import get, post

from tests import live

pytestmark = pytest.mark.e2e  # every test here talks to a real server

SERVERS = live.ROOT / "tests" / "servers"
QUAL = "seed_project.handlers"


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seed")
    server = live.python_script(tmp, SERVERS / "seed_serve_all.py", ready="/test-server/public")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seed_with_config(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seed-config")
    config = tmp / "local.yaml"
    # the document's "config overwrite" example, for this project's MyHandler
    config.write_text(
        f"seed_project:\n  handlers:\n    MyHandler:\n      template_path: {SERVERS / 'custom_templates'}\n"
    )
    env_server = live.python_script(
        tmp, SERVERS / "seed_serve_all.py", ready="/test-server/public", env={"CORE4_CONFIG": str(config)}
    )
    yield env_server
    env_server.stop()


@pytest.fixture(scope="module")
def signin(seed):
    return get(seed.url + "/core4/api/v1/login?username=admin&password=hans", timeout=10)


def envelope_ok(body: dict, data) -> None:
    assert re.fullmatch(r"[0-9a-f]{24}", body["_id"])
    assert body["code"] == 200 and body["message"] == "OK"
    datetime.datetime.fromisoformat(body["timestamp"])
    assert body["data"] == data


def test_serve_test_server_hello_world(tmp_path):
    # serve(TestServer) from the document's first example, started as a script
    server = live.python_script(tmp_path, SERVERS / "seed_serve.py", ready="/test-server/test")
    try:
        token = live.login(server)
        response = server.get("/test-server/test", headers={"Authorization": "Bearer " + token})
        assert response.status_code == 200
        envelope_ok(response.json(), "hello world")
        assert set(response.json()) == {"_id", "code", "message", "timestamp", "data"}
        # all other methods are not allowed
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            other = server.request(method, "/test-server/test", headers={"Authorization": "Bearer " + token})
            assert other.status_code == 405
    finally:
        server.stop()


def test_protected_by_default_and_public_handler(seed):
    assert seed.get("/test-server/test").status_code == 401
    response = seed.get("/test-server/public")
    assert response.status_code == 200
    envelope_ok(response.json(), "hello world")


def test_error_response_format(seed, signin):
    response = seed.get("/test-server/error", cookies=signin.cookies)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == 409 and body["message"] == "Conflict"
    assert "data" not in body
    assert "HTTP 409: Conflict (this is the ErrorTestHandler)" in body["error"]
    assert "Traceback" not in body["error"]


def test_login_examples(seed):
    url = seed.url + "/core4/api/v1"
    rv = get(url + "/login?username=admin&password=hans", timeout=10)
    body = rv.json()
    assert rv.status_code == 200 and body["message"] == "OK"
    assert body["data"]["token"] == rv.headers["token"]
    assert "token" in rv.cookies
    cookie = rv.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert rv.headers["Access-Control-Allow-Origin"] == "*"

    signin = post(url + "/login", json={"username": "admin", "password": "hans"}, timeout=10)
    token = signin.json()["data"]["token"]
    headers = {"Authorization": "Bearer " + token}
    assert get(url + "/profile", headers=headers, timeout=10).status_code == 200
    assert get(url + "/profile", cookies=signin.cookies, timeout=10).status_code == 200
    # the token as a query parameter works too (not good practice)
    assert get(url + "/profile?token=" + token, timeout=10).status_code == 200
    # and so does basic authorization
    assert get(url + "/profile", auth=("admin", "hans"), timeout=10).status_code == 200


def test_flash_example(seed, signin):
    body = seed.get("/test-server/flash", cookies=signin.cookies).json()
    assert body["data"] == "OK"
    assert body["flash"] == [
        {"level": "DEBUG", "message": "first flash message"},
        {"level": "DEBUG", "message": "another flash message"},
    ]


def test_argument_parsing_example(seed):
    signin = get(seed.url + "/args/login?username=admin&password=hans", timeout=10)
    assert signin.status_code == 200
    rv = get(seed.url + "/args/test?dt=2018-11-07", cookies=signin.cookies, timeout=10)
    assert rv.json()["data"].startswith("got: 2018-11-07 00:00:00 (")
    rv = get(seed.url + "/args/test?dt=1971-06-14T07:30:00", cookies=signin.cookies, timeout=10)
    assert rv.json()["data"].startswith("got: 1971-06-14 07:30:00 (")
    rv = get(seed.url + "/args/test?dt=1971-06-14T07:30:00 CET", cookies=signin.cookies, timeout=10)
    assert rv.json()["data"].startswith("got: 1971-06-14 06:30:00 (")
    payload = {"dt": "1971-06-14T07:30:00 CET"}
    rv = post(seed.url + "/args/test", json=payload, cookies=signin.cookies, timeout=10)
    assert rv.status_code == 200
    assert rv.json()["data"].startswith("got: 1971-06-14 06:30:00 (")
    bad = get(seed.url + "/args/test?dt=9999-aa-bb", cookies=signin.cookies, timeout=10)
    assert bad.status_code == 400
    assert "parameter [dt] expected as_type [datetime]" in bad.json()["error"]


def test_templating_and_static_files(seed, signin):
    page = seed.get("/test-server/template", cookies=signin.cookies)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "seed template" in page.text and f"{QUAL}.TemplateTestHandler" in page.text
    hrefs = re.findall(r'(?:href|src)="([^"]+)"', page.text)
    assert len(hrefs) == 3
    for href in hrefs:
        asset = seed.get(href, cookies=signin.cookies)
        assert asset.status_code == 200, href
    assert "#0b5cad" in seed.get(hrefs[1], cookies=signin.cookies).text


def test_extra_endpoints_help_card_enter(seed, signin):
    listing = seed.get("/test-server/_info?search=!&per_page=100", cookies=signin.cookies).json()
    by_name = {item["qual_name"]: item for item in listing["data"]}
    card = by_name[f"{QUAL}.CardTestHandler"]
    custom = seed.get(card["card_url"], cookies=signin.cookies, headers={"Accept": "text/html"})
    assert custom.status_code == 200 and "custom card of" in custom.text
    enter = by_name[f"{QUAL}.EnterTestHandler"]
    assert enter["enter_url"] == "http://www.serviceplan.com"
    hello = by_name[f"{QUAL}.TestHandler"]
    assert seed.get(hello["help_url"], cookies=signin.cookies).json()["data"]["qual_name"] == f"{QUAL}.TestHandler"
    landing = seed.get(hello["enter_url"], cookies=signin.cookies)
    assert landing.json()["data"] == "hello world"
    redirect = seed.get("/test-server/test?_help", cookies=signin.cookies, allow_redirects=False)
    assert redirect.status_code == 302 and redirect.headers["Location"].endswith(hello["help_url"])


def test_handler_arguments_at_rules_for_static_files(seed):
    for prefix in ("/test-container/help", "/test-container/help2"):
        moved = seed.get(prefix, allow_redirects=False)
        assert moved.status_code == 301
        page = seed.get(prefix + "/")
        assert page.status_code == 200 and "API introduction" in page.text


def test_config_overwrite_of_template_path(seed_with_config):
    token = live.login(seed_with_config)
    page = seed_with_config.get("/test-server/config", headers={"Authorization": "Bearer " + token})
    assert page.status_code == 200
    assert "served from the configured template_path" in page.text


def test_download(seed, signin):
    response = seed.get("/test-server/download", cookies=signin.cookies)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert 'attachment; filename="test.dat"' in response.headers["Content-Disposition"] or (
        "attachment; filename=test.dat" in response.headers["Content-Disposition"]
    )
    assert b"API introduction" in response.content


def test_multi_client_aware_handlers(seed):
    admin = {"Authorization": "Bearer " + live.login(seed)}
    user = {
        "name": "lh_user",
        "email": "lh@example.org",
        "passwd": "lh-secret-pw",
        "perm": [f"api://{QUAL}.TenantHandler", "app://client/lufthansa"],
    }
    created = seed.post("/core4/api/v1/roles", json=user, headers=admin)
    assert created.status_code == 200, created.text
    signin = get(seed.url + "/core4/api/v1/login?username=lh_user&password=lh-secret-pw", timeout=10)
    rv = seed.get("/my/api/lufthansa/0815", cookies=signin.cookies)
    assert rv.status_code == 200
    assert rv.json()["data"] == {"_id": "0815", "client": "lufthansa"}
    assert seed.get("/unnamed/api/lufthansa/0815", cookies=signin.cookies).json()["data"]["client"] == "lufthansa"
    assert seed.get("/my/api/condor/0815", cookies=signin.cookies).status_code == 403


def test_multiple_process_serving_with_coco(tmp_path):
    command = [
        sys.executable,
        "-m",
        "core4flask.cli",
        "--application",
        "--filter",
        f"{QUAL}.TestServer",
        "--port",
        "{port}",
        "--address",
        "127.0.0.1",
        "--reuse-port",
        "--workers",
        "2",
    ]
    server = live.start(command, tmp_path, ready="/test-server/public", env={"PYTHONPATH": str(SERVERS)})
    try:
        with requests.Session() as session:
            assert session.get(server.url + "/test-server/public", timeout=5).json()["data"] == "hello world"
        token = live.login(server)
        response = server.get("/test-server/test", headers={"Authorization": "Bearer " + token})
        assert response.json()["data"] == "hello world"
    finally:
        server.stop()
