"""``/core4/api/v1/openapi.json`` and the API reference page of the demo app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from core4flask import create_app
from demo.seed import CONTAINERS

SPEC_URL = "/core4/api/v1/openapi.json"


@pytest.fixture
def client(tmp_path: Path) -> Any:
    return create_app(*CONTAINERS, instance_path=str(tmp_path)).test_client()


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
    assert spec["paths"]["/core4/api/v1/openapi.json"]["get"]["security"] == []


def test_document_is_public(client: Any) -> None:
    assert client.get(SPEC_URL, headers={"Accept": "text/html"}).status_code == 200


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
