"""``/core4/api/v1/openapi.json`` and the API reference page of the demo app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from core4flask import create_app
from core4flask.testing import create_user, issue_token, use_throwaway_store
from demo.seed import CONTAINERS

SPEC_URL = "/core4/api/v1/openapi.json"
REFERENCE_URL = "/core4/api/v1/api"
ADMIN = {"api": {"admin_password": "hans", "token": {"secret": "openapi-endpoint-secret-0123456789abcdef"}}}


@pytest.fixture
def app(tmp_path: Path) -> Any:
    app = create_app(*CONTAINERS, config=ADMIN, instance_path=str(tmp_path))
    use_throwaway_store(app, tmp_path)
    return app


def client_of(app: Any, *perm: str) -> Any:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(app, create_user(app, perm=perm)._id)}"
    return client


@pytest.fixture
def client(app: Any) -> Any:
    return client_of(app, "cop")


@pytest.fixture
def spec(client: Any) -> dict[str, Any]:
    response = client.get(SPEC_URL)
    assert response.status_code == 200
    assert response.content_type.startswith("application/json")
    return response.json


def test_document_is_valid_openapi_31(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] and spec["info"]["version"]


def test_every_container_and_rule_is_described(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    for path in (
        "/test-server/test",
        "/test-server/help",
        "/args/test",
        "/my/api/{client}/{_id}",
        "/core4/api/v1/setting",
        "/core4/api/v1/setting/{arg0}",
        "/core4/api/v1/openapi.json",
        "/core4/api/v1/login",
        "/test-server/_info",
        "/",
    ):
        assert path in paths, path
    tenant = paths["/my/api/{client}/{_id}"]
    assert [p["name"] for p in tenant["parameters"]] == ["client", "_id"]
    assert all(p["in"] == "path" and p["required"] for p in tenant["parameters"])
    assert set(paths["/core4/api/v1/setting"]) >= {"get", "post", "put", "delete"}


def test_operations_carry_docstrings_and_security(spec: dict[str, Any]) -> None:
    args = spec["paths"]["/args/test"]
    assert {"get", "post"} <= set(args)
    assert [p["name"] for p in args["get"]["parameters"]] == ["dt"]
    assert args["get"]["security"]  # protected
    assert "400" in args["get"]["responses"] and "401" in args["get"]["responses"]
    assert spec["paths"]["/test-server/public"]["get"]["security"] == []
    assert spec["paths"]["/core4/api/v1/openapi.json"]["get"]["security"]
    assert spec["paths"]["/core4/api/v1/api"]["get"]["security"]


@pytest.mark.parametrize("url", [SPEC_URL, REFERENCE_URL])
def test_document_and_reference_need_a_login_only(app: Any, url: str) -> None:
    """Self-service: every signed-in user gets the map of what it may call."""
    anonymous = app.test_client()
    refused = anonymous.get(url)
    assert refused.status_code == 401 and "WWW-Authenticate" in refused.headers
    assert "/my/api" not in refused.get_data(as_text=True)
    browser = anonymous.get(url, headers={"Accept": "text/html"})
    assert browser.status_code == 302 and browser.headers["Location"].startswith("/core4/api/v1/login?next=")
    for perm in ((), ("api://demo",), ("cop",), ("api://core4flask",)):
        assert client_of(app, *perm).get(url).status_code == 200, perm
    login = app.test_client().get("/core4/api/v1/login", query_string={"username": "admin", "password": "hans"})
    admin = {"Authorization": f"Bearer {login.json['data']['token']}"}
    assert app.test_client().get(url, headers=admin).status_code == 200


def operations(spec: dict[str, Any]) -> dict[str, set[str]]:
    return {
        path: {verb for verb in item if verb in ("get", "post", "put", "delete", "patch")}
        for path, item in spec["paths"].items()
    }


def test_the_map_lists_only_what_the_user_may_call(app: Any) -> None:
    nobody = operations(client_of(app).get(SPEC_URL).json)
    # public handlers and the self-service endpoints
    for path in ("/test-server/public", "/core4/api/v1/login", "/core4/api/v1/profile", "/core4/api/v1/setting"):
        assert path in nobody, path
    assert nobody["/core4/api/v1/openapi.json"] == {"get"}
    for path in ("/args/test", "/my/api/{client}/{_id}", "/core4/api/v1/roles", "/test-server/test"):
        assert path not in nobody, path
    reader = operations(client_of(app, "api://demo.seed.ArgTestHandler/r").get(SPEC_URL).json)
    assert reader["/args/test"] == {"get"}
    assert "/core4/api/v1/roles" not in reader
    tenant = operations(client_of(app, "api://demo.seed.MyHandler").get(SPEC_URL).json)
    assert "/my/api/{client}/{_id}" in tenant
    everything = operations(client_of(app, "cop").get(SPEC_URL).json)
    assert everything["/args/test"] == {"get", "post"}
    assert {"/core4/api/v1/roles", "/my/api/{client}/{_id}", "/test-server/test"} <= set(everything)
    page = client_of(app).get(REFERENCE_URL, headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "/test-server/public" in page and "/core4/api/v1/roles" not in page and "/args/test" not in page


def test_api_reference_page(client: Any, spec: dict[str, Any]) -> None:
    response = client.get("/core4/api/v1/api", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    page = response.get_data(as_text=True)
    assert "/my/api/{client}/{_id}" in page
    assert 'href="/core4/api/v1/openapi.json"' in page
    assert "/core4/api/v1/_asset/default/" in page  # the package stylesheet
    css = page.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    stylesheet = client.get(css, buffered=True)
    assert stylesheet.status_code == 200
    assert stylesheet.content_type.startswith("text/css")
