"""Regressions found by auditing the public contract against real servers.

Each test names the contract sentence it holds to. The end-to-end ones talk
HTTP to gunicorn (two gevent workers) or ``serve()``; the others use two
applications on one instance folder, which is what two workers are.
"""

from __future__ import annotations

import base64
import concurrent.futures

import flask
import pytest
import requests

from core4flask import Core4, CoreApiContainer, CoreRequestHandler, create_app
from core4flask.server import CoreApiServer
from tests import live

SECRET = "contract-test-secret-" + "0123456789abcdef" * 4
LOGIN = "/core4/api/v1/login"
PROFILE = "/core4/api/v1/profile"
ROLES = "/core4/api/v1/roles"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
#: a MongoDB URL nobody answers on
DEAD_MONGO = "mongodb://127.0.0.1:1"


class WhoHandler(CoreRequestHandler):
    def get(self):
        return {"user": self.current_user}


class WhoServer(CoreApiContainer):
    root = "/who"
    rules = [(r"/am-i", WhoHandler)]


WHO = "/who/am-i"
WHO_PERM = f"api://{WhoHandler.qual_name()}"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ADMIN = basic("admin", "hans")


# -- users, sessions and roles change at once on every worker -----------------------------------


@pytest.fixture
def workers(tmp_path):
    """Two applications on one instance folder (two workers), caching as configured by default."""
    config = {"api": {"admin_password": "hans", "token": {"secret": SECRET}}}
    apps = [create_app(WhoServer, config=config, instance_path=str(tmp_path)) for _ in range(2)]
    return [app.test_client() for app in apps]


def new_user(client, name: str, perm: list[str], password: str = "Quiet-Harbor-83") -> tuple[dict, str]:
    """Create a user through the roles API; return its record and a token."""
    fields = {"name": name, "email": f"{name}@example.com", "passwd": password, "perm": perm}
    created = client.post(ROLES, headers=ADMIN, json=fields)
    assert created.status_code == 200, created.json
    login = client.post(LOGIN, json={"username": name, "password": password})
    assert login.status_code == 200, login.json
    return created.json["data"], login.json["data"]["token"]


def test_logout_revokes_at_once_on_every_worker(workers):
    """Contract: POST /logout revokes the presented token server-side (shared across workers)."""
    first, second = workers
    _, token = new_user(first, "leaver", [WHO_PERM])
    assert second.get(WHO, headers=bearer(token)).status_code == 200  # cached there now
    assert first.post("/core4/api/v1/logout", headers=bearer(token)).status_code == 200
    assert second.get(WHO, headers=bearer(token)).status_code == 401


@pytest.mark.parametrize(
    ("change", "status"),
    [({"is_active": False}, 401), ("delete", 401), ({"perm": []}, 403)],
    ids=["deactivate", "delete", "drop-permission"],
)
def test_roles_api_changes_apply_at_once_on_every_worker(workers, change, status):
    """Contract: deactivated or deleted users: 401; valid user without permission: 403."""
    first, second = workers
    record, token = new_user(first, "changing", [WHO_PERM])
    for client in workers:
        assert client.get(WHO, headers=bearer(token)).status_code == 200  # cached everywhere
    if change == "delete":
        answer = first.delete(f"{ROLES}/{record['_id']}", headers=ADMIN, query_string={"etag": record["etag"]})
    else:
        answer = first.put(f"{ROLES}/{record['_id']}", headers=ADMIN, json={**change, "etag": record["etag"]})
    assert answer.status_code == 200, answer.json
    assert second.get(WHO, headers=bearer(token)).status_code == status
    assert first.get(WHO, headers=bearer(token)).status_code == status
    assert second.get(PROFILE, headers=bearer(token)).status_code == (401 if status == 401 else 200)


def test_password_change_revokes_older_tokens_at_once(workers):
    """Contract: a password change needs the current password and revokes older tokens."""
    first, second = workers
    _, token = new_user(first, "changer", [WHO_PERM], password="Old-Maple-Trail-21")
    assert second.get(WHO, headers=bearer(token)).status_code == 200
    etag = first.get(PROFILE, headers=bearer(token)).json["data"]["etag"]
    fields = {"etag": etag, "passwd": "New-Cedar-Ridge-34", "current_passwd": "Old-Maple-Trail-21"}
    changed = first.put(PROFILE, headers=bearer(token), json=fields)
    assert changed.status_code == 200, changed.json
    assert second.get(WHO, headers=bearer(token)).status_code == 401
    assert second.get(WHO, headers=bearer(changed.headers["token"])).status_code == 200


# -- HTTP details ----------------------------------------------------------------------------------


def test_unauthenticated_head_is_401_for_browsers_too(workers):
    """Contract (details settled): unauthenticated HEAD to a protected handler is 401."""
    client = workers[0]
    response = client.head(WHO, headers=BROWSER)
    assert response.status_code == 401 and response.data == b""
    assert "WWW-Authenticate" in response.headers
    assert client.get(WHO, headers=BROWSER).status_code == 302  # browsers still go to the login page


def test_core4_on_an_existing_app_serves_the_standard_api(tmp_path):
    """Contract: Core4(app).register(Container) adds containers to an existing Flask app;
    the seed's login at /core4/api/v1/login then works there too."""
    app = flask.Flask("existing", instance_path=str(tmp_path))

    @app.route("/own")
    def own():
        return "own route"

    ext = Core4(app, config={"api": {"admin_password": "hans", "token": {"secret": SECRET}}})
    ext.register(WhoServer)
    ext.register(CoreApiServer)  # naming it too is no duplicate root
    assert [c.qual_name for c in ext.containers] == [WhoServer.qual_name(), CoreApiServer.qual_name()]
    client = app.test_client()
    assert client.get("/own").get_data(as_text=True) == "own route"
    token = client.get(LOGIN, query_string={"username": "admin", "password": "hans"}).json["data"]["token"]
    assert client.get(WHO, headers=bearer(token)).json["data"]["user"] == "admin"
    assert client.get(PROFILE, headers=bearer(token)).status_code == 200
    assert client.get("/login").status_code == 404  # the launcher's root "/" stays the app's own


# -- the demo application under gunicorn ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    server = live.gunicorn(tmp_path_factory.mktemp("contract"), ready="/test-server/public")
    yield server
    server.stop()


def answers_by_worker(server, path: str, **kwargs) -> dict[str, set[int]]:
    """GET on new connections until both workers answered (at most 40 rounds
    of 8 concurrent requests, so one busy worker leaves work to the other):
    worker (the process part of the envelope ``_id``) → statuses seen."""

    def one(_: int) -> tuple[str, int]:
        with requests.Session() as session:
            response = session.get(server.url + path, timeout=10, **kwargs)
        return response.json()["_id"][8:18], response.status_code

    seen: dict[str, set[int]] = {}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in range(40):
            for worker, status in pool.map(one, range(8)):
                seen.setdefault(worker, set()).add(status)
            if len(seen) == 2:
                break
    assert len(seen) == 2, "both gunicorn workers should have answered"
    return seen


@pytest.mark.e2e
def test_logout_and_deactivation_over_http_on_both_workers(demo):
    """Contract: logout revokes server-side across workers; deactivated users: 401."""
    fields = {
        "name": "e2e",
        "email": "e2e@example.com",
        "passwd": "Quiet-Harbor-83",
        "perm": ["api://demo.seed.TestHandler"],
    }
    created = demo.post(ROLES, headers=ADMIN, json=fields)
    assert created.status_code == 200, created.text
    record = created.json()["data"]
    signin = demo.get(LOGIN, params={"username": "e2e", "password": "Quiet-Harbor-83"})
    assert set(map(frozenset, answers_by_worker(demo, "/test-server/test", cookies=signin.cookies).values())) == {
        frozenset({200})
    }
    assert demo.post("/core4/api/v1/logout", cookies=signin.cookies).status_code == 200
    after_logout = answers_by_worker(demo, "/test-server/test", cookies=signin.cookies)
    assert all(statuses == {401} for statuses in after_logout.values()), after_logout

    token = live.login(demo, "e2e", "Quiet-Harbor-83")
    assert all(s == {200} for s in answers_by_worker(demo, "/test-server/test", headers=bearer(token)).values())
    deactivate = {"is_active": False, "etag": record["etag"]}
    answer = demo.request("PUT", f"{ROLES}/{record['_id']}", headers=ADMIN, json=deactivate)
    assert answer.status_code == 200, answer.text
    after_deactivation = answers_by_worker(demo, "/test-server/test", headers=bearer(token))
    assert all(statuses == {401} for statuses in after_deactivation.values()), after_deactivation


@pytest.mark.e2e
@pytest.mark.parametrize("method", ["PROPFIND", "TRACE", "FOO"])
def test_unusual_methods_404_on_unknown_paths_and_405_with_allow_on_handlers(demo, method):
    """Contract: unknown paths → 404 (any method); an undefined method → 405 with Allow."""
    unknown = demo.request(method, "/test-server/nope")
    assert unknown.status_code == 404 and unknown.json()["message"] == "Not Found"
    assert demo.request(method, "/nowhere/at/all").status_code == 404
    known = demo.request(method, "/test-server/test", headers=ADMIN)
    assert known.status_code == 405 and known.json()["code"] == 405
    assert known.headers["Allow"] == "GET, HEAD, OPTIONS"


# -- a store that is down ---------------------------------------------------------------------------


def assert_store_down_answers(server, protected: str, public: str) -> None:
    assert server.get(public).status_code == 200
    for path, kwargs in ((protected, {"headers": ADMIN}), (LOGIN, {"params": {"username": "admin", "password": "x"}})):
        # a request that hung would fail on the client's timeout
        response = server.get(path, timeout=10, **kwargs)
        assert response.status_code == 503, response.text
        assert response.json()["code"] == 503 and "Retry-After" in response.headers


@pytest.mark.e2e
def test_gunicorn_starts_and_answers_503_while_the_store_is_down(tmp_path):
    """Contract: a store that is down gives 503 envelopes, not hangs (nor dead workers)."""
    server = live.gunicorn(tmp_path, ready="/test-server/public", mongo_url=DEAD_MONGO)
    try:
        assert_store_down_answers(server, "/test-server/test", "/test-server/public")
        assert server.process.poll() is None
    finally:
        server.stop()


@pytest.mark.e2e
def test_serve_starts_and_answers_503_while_the_store_is_down(tmp_path):
    """Contract: a store that is down gives 503 envelopes, not hangs (serve() too)."""
    script = live.ROOT / "tests" / "servers" / "two_containers.py"
    server = live.python_script(tmp_path, script, ready="/one/hello", mongo_url=DEAD_MONGO)
    try:
        assert_store_down_answers(server, PROFILE, "/one/hello")
    finally:
        server.stop()
