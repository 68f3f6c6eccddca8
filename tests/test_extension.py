"""``Core4`` as a Flask extension: app factories, the CLI, the launcher,
a host's CORS policy, template reloading."""

from __future__ import annotations

import os
import time

import flask
import pytest
from flask_cors import CORS

from core4flask import Core4, CoreApiContainer, CoreRequestHandler
from core4flask.cors import host_has_policy

CONFIG = {"api": {"admin_password": "hans", "token": {"secret": "s" * 64}}}
BROWSER = "text/html,application/xhtml+xml,*/*;q=0.8"


class SalesHandler(CoreRequestHandler):
    def get(self):
        return {"user": self.current_user}


class PublicHandler(CoreRequestHandler):
    protected = False

    def get(self):
        return "public"

    def post(self):
        self.redirect("/sales/public")


class SalesServer(CoreApiContainer):
    root = "/sales"
    rules = [(r"/report", SalesHandler), (r"/public", PublicHandler)]


class LateServer(CoreApiContainer):
    root = "/late"
    rules = [(r"/public", PublicHandler)]


def host(tmp_path, name="host") -> flask.Flask:
    app = flask.Flask(name, instance_path=str(tmp_path / name))
    app.testing = True
    return app


# -- the app-factory pattern -------------------------------------------------------------------


def test_one_extension_serves_many_applications(tmp_path):
    core4 = Core4(config=CONFIG)
    core4.register(SalesServer)

    def create_app(name):
        app = host(tmp_path, name)
        core4.init_app(app)
        return app

    first, second = create_app("first"), create_app("second")
    # a container registered on the extension later reaches every application
    # (before they serve: Flask takes no new routes after the first request)
    core4.register(LateServer)
    third = create_app("third")
    for app in (first, second, third):
        assert app.test_client().get("/late/public").status_code == 200
    for app in (first, second):
        client = app.test_client()
        assert client.get("/sales/public").json["data"] == "public"
        assert client.get("/sales/report", auth=("admin", "hans")).json["data"] == {"user": "admin"}
    # each application keeps its own state and store
    assert first.extensions["core4flask"] is core4
    assert second.extensions["core4flask"] is not core4
    assert second.extensions["core4flask"].app is second
    assert os.path.isfile(tmp_path / "first" / "core4flask.sqlite3")
    assert os.path.isfile(tmp_path / "second" / "core4flask.sqlite3")


def test_containers_registered_before_init_app_are_mounted(tmp_path):
    core4 = Core4(None, SalesServer, config=CONFIG)
    app = host(tmp_path)
    assert core4.init_app(app) is core4
    assert app.test_client().get("/sales/public").status_code == 200
    assert app.test_client().get("/core4/api/v1/health").status_code == 200


# -- command line and launcher -------------------------------------------------------------------


def test_core4_app_brings_the_users_and_roles_commands(tmp_path):
    app = host(tmp_path)
    Core4(app, SalesServer, config=CONFIG)
    runner = app.test_cli_runner()
    created = runner.invoke(args=["roles", "create", "analysts", "--perm", "api://tests"])
    assert created.exit_code == 0, created.output
    listed = runner.invoke(args=["users", "list"])
    assert listed.exit_code == 0 and "analysts" in listed.output and "admin" in listed.output


def test_the_command_line_can_be_left_out(tmp_path):
    app = host(tmp_path)
    Core4(app, SalesServer, config=CONFIG, cli=False)
    assert "users" not in app.cli.commands and "roles" not in app.cli.commands


@pytest.mark.parametrize(("launcher", "root"), [(True, "/"), ("/apps", "/apps")])
def test_the_launcher_when_asked(tmp_path, launcher, root):
    app = host(tmp_path)
    Core4(app, SalesServer, config=CONFIG, launcher=launcher)
    client = app.test_client()
    page = client.get(root, auth=("admin", "hans"), headers={"Accept": BROWSER})
    assert page.status_code == 200, page.data[:300]
    assert b"<html" in page.data.lower()
    anonymous = client.get(root, headers={"Accept": BROWSER})
    assert anonymous.status_code == 302 and "/core4/api/v1/login" in anonymous.headers["Location"]


def test_no_launcher_unless_asked(tmp_path):
    app = host(tmp_path)
    Core4(app, SalesServer, config=CONFIG)
    assert app.test_client().get("/", auth=("admin", "hans"), headers={"Accept": BROWSER}).status_code == 404


# -- CORS -----------------------------------------------------------------------------------------

PATHS = [
    ("GET", "/sales/public", {}, 200),
    ("POST", "/sales/public", {}, 302),
    ("GET", "/sales/report", {}, 401),
    ("GET", "/sales/nowhere", {}, 404),
    ("OPTIONS", "/sales/report", {}, 200),
    ("GET", "/core4/api/v1/login", {"Authorization": "Basic YWRtaW46aGFucw=="}, 200),
]


@pytest.mark.parametrize(("method", "path", "headers", "status"), PATHS)
def test_a_host_hook_that_sets_cors_keeps_its_answer(tmp_path, method, path, headers, status):
    app = host(tmp_path)

    @app.after_request
    def own_cors(response):
        response.headers.add("Access-Control-Allow-Origin", "https://host.example")
        return response

    Core4(app, SalesServer, config=CONFIG)
    response = app.test_client().open(path, method=method, headers={"Origin": "https://a.example", **headers})
    assert response.status_code == status
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["https://host.example"]


@pytest.mark.parametrize(("method", "path", "headers", "status"), PATHS)
@pytest.mark.parametrize("order", ["cors first", "core4 first"])
def test_flask_cors_decides_on_core4_routes_too(tmp_path, method, path, headers, status, order):
    app = host(tmp_path)
    if order == "cors first":
        CORS(app, origins=["https://good.example"])
        Core4(app, SalesServer, config=CONFIG)
    else:
        Core4(app, SalesServer, config=CONFIG)
        CORS(app, origins=["https://good.example"])
    client = app.test_client()
    good = client.open(path, method=method, headers={"Origin": "https://good.example", **headers})
    assert good.status_code == status
    assert good.headers.getlist("Access-Control-Allow-Origin") == ["https://good.example"]
    evil = client.open(path, method=method, headers={"Origin": "https://evil.example", **headers})
    assert evil.status_code == status
    assert evil.headers.getlist("Access-Control-Allow-Origin") == []


def test_without_a_host_policy_core4_answers_cors(tmp_path):
    app = host(tmp_path)
    Core4(app, SalesServer, config=CONFIG)
    for method, path, headers, _ in PATHS:
        response = app.test_client().open(path, method=method, headers=headers)
        assert response.headers.getlist("Access-Control-Allow-Origin") == ["*"], (method, path)


def test_an_empty_allow_origin_turns_core4s_cors_off(tmp_path):
    app = host(tmp_path)
    Core4(app, SalesServer, config={**CONFIG, "api": {**CONFIG["api"], "allow_origin": ""}})
    for method, path, headers, _ in PATHS:
        response = app.test_client().open(path, method=method, headers=headers)
        assert "Access-Control-Allow-Origin" not in response.headers, (method, path)


def test_host_policy_detection(tmp_path):
    app = host(tmp_path)
    assert not host_has_policy(app)
    app.after_request(lambda response: response)
    assert not host_has_policy(app)
    CORS(app)
    assert host_has_policy(app)


# -- templates under flask run --debug ---------------------------------------------------------


def test_templates_reload_in_flask_debug_mode(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    page = folder / "page.html"
    page.write_text("first {{ title }}", encoding="utf-8")

    class PageHandler(CoreRequestHandler):
        protected = False
        template_path = str(folder)
        title = "page"

        def get(self):
            self.render("page.html")

    class PageServer(CoreApiContainer):
        root = "/pages"
        rules = [(r"/page", PageHandler)]

    app = host(tmp_path)
    app.debug = True  # what flask run --debug sets
    Core4(app, PageServer, config=CONFIG)
    client = app.test_client()
    assert client.get("/pages/page").data == b"first page"
    page.write_text("second {{ title }}", encoding="utf-8")
    later = time.time() + 5
    os.utime(page, (later, later))
    assert client.get("/pages/page").data == b"second page"
