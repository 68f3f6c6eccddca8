"""The hooks of the ``Core4`` extension: how authentication and the features
reach the request core (see ``core4flask.app.Core4``)."""

from __future__ import annotations

import flask

from core4flask import Core4, CoreApiContainer, CoreRequestHandler, create_app
from core4flask.apps.info import InfoHandler
from core4flask.apps.setup import INFO_RULE
from core4flask.container import resource_id

CONFIG = {"api": {"admin_password": "hans", "token": {"secret": "hooks-test-secret-0123456789abcdef"}}}


class Shown(CoreRequestHandler):
    """A mini application."""

    protected = False

    def get(self):
        return "shown"


class ShowServer(CoreApiContainer):
    root = "/show"
    rules = [(r"/shown", Shown)]


def test_the_apps_feature_fills_its_hooks(tmp_path):
    app = create_app(ShowServer, config=CONFIG, instance_path=str(tmp_path))
    ext = app.extensions["core4flask"]
    assert ext.leading_rules == [INFO_RULE]
    assert ext.registry_entries is not None
    # every container got ``_info`` first, before its own rules
    assert ext.container_of("/show").routes[0].resource.handler is InfoHandler


def test_containers_get_the_leading_rules_before_their_own(tmp_path):
    app = flask.Flask(__name__, instance_path=str(tmp_path))
    ext = Core4(app, config=CONFIG, standard_api=False)
    ext.leading_rules.clear()
    ext.register(ShowServer)
    client = app.test_client()
    assert client.get("/show/shown").json["data"] == "shown"
    assert client.get("/show/_info").status_code == 404
    assert [route.source for route in ext.container_of("/show").routes][:1] == ["/shown"]


def test_card_and_help_pages_without_the_registry_hook_show_the_resource_alone(tmp_path):
    app = create_app(ShowServer, config=CONFIG, instance_path=str(tmp_path))
    ext = app.extensions["core4flask"]
    client = app.test_client()
    rsc_id = resource_id(Shown.qual_name(), {})
    with_registry = client.get(f"/show/_info/card/{rsc_id}").json
    assert {"version", "created_at", "started_at", "endpoint"} <= set(with_registry)
    calls = []

    def failing(hooked, environ):
        calls.append((hooked, environ["PATH_INFO"]))
        raise RuntimeError("registry down")

    ext.registry_entries = failing
    card = client.get(f"/show/_info/card/{rsc_id}").json
    # the hook gets the request's WSGI environment (the published address is
    # taken from the server's socket there, never from the Host header)
    assert calls == [(ext, f"/show/_info/card/{rsc_id}")]
    assert card["rsc_id"] == rsc_id and card["endpoint"] == "/show"
    assert not {"version", "created_at", "started_at"} & set(card)
    ext.registry_entries = None
    assert client.get(f"/show/_info/card/{rsc_id}").json == card


def test_roles_create_the_admin_when_authentication_gets_ready(tmp_path):
    from core4flask.roles.setup import bootstrap_admin

    app = create_app(config=CONFIG, instance_path=str(tmp_path))
    ext = app.extensions["core4flask"]
    assert ext.on_auth_ready == [bootstrap_admin]
    seen = []
    ext.on_auth_ready.append(lambda hooked: seen.append(hooked.store.role_by_name("admin")["name"]))
    client = app.test_client()
    assert client.get("/core4/api/v1/profile", auth=("admin", "hans")).status_code == 200
    assert client.get("/core4/api/v1/profile", auth=("admin", "hans")).status_code == 200
    assert seen == ["admin"]  # once per process, after the admin was made


def test_without_the_roles_hook_no_admin_is_made(tmp_path):
    app = create_app(config=CONFIG, instance_path=str(tmp_path))
    ext = app.extensions["core4flask"]
    ext.on_auth_ready.clear()
    assert app.test_client().get("/core4/api/v1/profile", auth=("admin", "hans")).status_code == 401
    assert ext.store.role_by_name("admin") is None
