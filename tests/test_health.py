"""Liveness and readiness probes, and the ``X-Request-ID`` of every answer."""

from __future__ import annotations

import functools

import mongomock
import pytest
from mongomock.store import ServerStore
from pymongo.errors import ServerSelectionTimeoutError

from core4flask import CoreApiContainer, CoreRequestHandler, CoreStaticFileHandler
from core4flask.store import MongoStore
from tests import live
from tests.fixtures import HERE, make_app

BROWSER = "text/html,application/xhtml+xml,*/*;q=0.8"


class Hello(CoreRequestHandler):
    protected = False

    def get(self):
        return "hello"

    def post(self):
        self.redirect("/probe/hello")


class Secret(CoreRequestHandler):
    def get(self):
        return "secret"


class ProbeServer(CoreApiContainer):
    root = "/probe"
    rules = [
        (r"/hello", Hello),
        (r"/secret", Secret),
        (r"/files", CoreStaticFileHandler, {"path": str(HERE / "project" / "static"), "protected": False}),
    ]


class FlakyMongo(mongomock.MongoClient):
    """A mongomock client whose server can be switched off and on."""

    down = False

    def __getitem__(self, name):
        database = super().__getitem__(name)
        if FlakyMongo.down:
            raise ServerSelectionTimeoutError("127.0.0.1:27017: connection refused")
        return database


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, ProbeServer)


def test_health_answers_without_login(app):
    response = app.test_client().get("/core4/api/v1/health")
    assert response.status_code == 200
    assert response.json["data"] == {"status": "alive"}
    assert response.json["_id"] == response.headers["X-Request-ID"]


def test_ready_answers_when_the_store_does(app):
    response = app.test_client().get("/core4/api/v1/ready")
    assert response.status_code == 200
    assert response.json["data"] == {"status": "ready"}


def test_ready_is_503_while_mongodb_is_down_and_200_when_it_is_back(app, monkeypatch):
    server = ServerStore()
    store = MongoStore("mongodb://db/c4", client_factory=functools.partial(FlakyMongo, _store=server))
    app.extensions["core4flask"].use_store(store)
    client = app.test_client()
    monkeypatch.setattr(FlakyMongo, "down", True)
    down = client.get("/core4/api/v1/ready")
    assert down.status_code == 503
    assert down.json["code"] == 503 and "store is not reachable" in down.json["error"]
    assert down.headers["Retry-After"]
    # liveness never asks the store: the worker itself is fine
    assert client.get("/core4/api/v1/health").status_code == 200
    monkeypatch.setattr(FlakyMongo, "down", False)
    assert client.get("/core4/api/v1/ready").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/probe/hello", {}, 200),
        ("POST", "/probe/hello", {}, 302),  # a handler's redirect
        ("GET", "/probe/secret", {}, 401),
        ("GET", "/probe/secret", {"Accept": BROWSER}, 302),  # to the login page
        ("GET", "/probe/nothere", {}, 404),
        ("GET", "/nowhere/at/all", {}, 404),
        ("DELETE", "/probe/hello", {}, 405),
        ("PROPFIND", "/probe/hello", {}, 405),
        ("OPTIONS", "/probe/secret", {"Origin": "https://a.example"}, 200),
        ("GET", "/probe/files", {}, 301),  # the static folder's trailing slash
        ("GET", "/probe/files/", {}, 200),
        ("GET", "/probe/nothere", {"Accept": BROWSER}, 404),
    ],
)
def test_every_answer_names_its_request_id(app, method, path, headers, status):
    response = app.test_client().open(path, method=method, headers=headers)
    assert response.status_code == status
    identifier = response.headers["X-Request-ID"]
    assert len(identifier) == 24 and int(identifier, 16) >= 0
    if response.is_json and response.data:
        assert response.json["_id"] == identifier
    elif status >= 400:
        assert identifier in response.get_data(as_text=True)


def test_an_incoming_request_id_is_never_the_envelope_id(app):
    response = app.test_client().get("/probe/hello", headers={"X-Request-ID": "lb-7f3a"})
    assert response.headers["X-Request-ID"] == response.json["_id"] != "lb-7f3a"


@pytest.mark.e2e
def test_probes_under_gunicorn_with_mongodb_down(tmp_path):
    """No MongoDB answers on port 1: the workers live, but are not ready."""
    server = live.gunicorn(tmp_path, workers=1, ready="/core4/api/v1/health", mongo_url="mongodb://127.0.0.1:1/core4")
    try:
        health = server.get("/core4/api/v1/health")
        assert health.status_code == 200 and health.json()["data"] == {"status": "alive"}
        assert health.headers["X-Request-ID"] == health.json()["_id"]
        ready = server.get("/core4/api/v1/ready")
        assert ready.status_code == 503 and ready.json()["code"] == 503
        assert ready.headers["X-Request-ID"] == ready.json()["_id"]
    finally:
        server.stop()
