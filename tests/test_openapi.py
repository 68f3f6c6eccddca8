"""OpenAPI 3.1 document built from handler resources."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from core4flask.apps.openapi import build_openapi, regex_to_openapi_path

ROLES_GET = """
    Paginated listing of users and roles, or one of them by ``_id``.

    Methods:
        GET /roles - listing
        GET /roles/<_id> - one role

    Parameters:
        per_page (int): roles per page
        page (int, optional): 0-based page
        filter (dict): MongoDB query
        sort (list): sort keys
        since (datetime): changed after
        active (bool): only active roles
        ratio (float): a number
        name (str, required): name filter
        _id (str): role id (in the URL)

    Returns:
        data with the roles, plus ``page_count`` and ``total_count``

    Raises:
        400: bad filter
        401: Unauthorized
        404: role not found
        404: page out of range
    """

ROLES_POST = """
    Create a role.

    Parameters:
        name (str, required): role name
        perm (list): permissions

    Returns:
        data (dict): the new role

    Raises:
        400: duplicate name
    """

RESOURCES: list[dict[str, Any]] = [
    {
        "rsc_id": "0" * 32,
        "qual_name": "core4flask.roles.api.RoleHandler",
        "title": "Roles",
        "subtitle": "users and roles",
        "description": "Manage users and roles.\n\nOnly for administrators.",
        "protected": True,
        "tag": ["api"],
        "patterns": [r"/core4/api/v1/roles/?$", r"/core4/api/v1/roles/(.*)$"],
        "methods": {"GET": ROLES_GET, "POST": ROLES_POST, "PUT": None, "DELETE": None},
        "container": "core4flask.server.CoreApiServer",
    },
    {
        "rsc_id": "1" * 32,
        "qual_name": "demo.seed.MyTenantHandler",
        "title": "Tenant data",
        "subtitle": None,
        "description": None,
        "protected": True,
        "tag": ["app", "new"],
        "patterns": [r"/test-server/api/(?P<client>.+)/(?P<_id>.*)"],
        "methods": {"GET": "Data of one client.\n\nParameters:\n    _id (str): record id\n    full (bool): all fields"},
        "container": "demo.seed.TestServer",
    },
    {
        "rsc_id": "2" * 32,
        "qual_name": "core4flask.static.CoreStaticFileHandler",
        "title": "API introduction",
        "subtitle": None,
        "description": None,
        "protected": False,
        "tag": [],
        "patterns": [r"/test-server/help(?:/(.*))?$"],
        "methods": {"GET": None},
        "container": "demo.seed.TestServer",
    },
    {
        "rsc_id": "3" * 32,
        "qual_name": "demo.seed.TestHandler",
        "title": None,
        "subtitle": None,
        "description": "Says hello.",
        "protected": False,
        "tag": ["api"],
        "patterns": [r"/test-server/test$", r"/test-server/twice/(\d+)/(\w+)$"],
        "methods": {"GET": "Hello.", "OPTIONS": None, "XCARD": "not an HTTP method"},
        "container": "demo.seed.TestServer",
    },
]


@pytest.fixture
def spec() -> dict[str, Any]:
    return build_openapi(
        copy.deepcopy(RESOURCES), title="core4flask demo", version="0.1.0", server_url="http://localhost:5001"
    )


@pytest.mark.parametrize(
    ("regex", "path", "names"),
    [
        (r"/my/api/(?P<client>.+)/(?P<_id>.*)", "/my/api/{client}/{_id}", ["client", "_id"]),
        (r"^/test/simple$", "/test/simple", []),
        (r"/core4/api/v1/system/?$", "/core4/api/v1/system", []),
        (r"/test-server/help(?:/(.*))?$", "/test-server/help", []),
        (r"/roles/(.*)", "/roles/{arg0}", ["arg0"]),
        (r"/a/(\d+)/(?:x|y)/([^/]+)$", "/a/{arg0}/x/{arg1}", ["arg0", "arg1"]),
        (r"/a(?:/(x))?/(y)$", "/a/{arg1}", ["arg1"]),
        (r"/file\.json", "/file.json", []),
        (r"/api/(?P<oid>[0-9a-f]{24})", "/api/{oid}", ["oid"]),
        (r"/v(1|2)/x", "/v{arg0}/x", ["arg0"]),
        (r"/one|/two", "/one", []),
        (r"/ab+c{2}", "/abcc", []),
        (r"test", "/test", []),
        (r"/broken(", "/broken", []),
    ],
)
def test_regex_to_openapi_path(regex: str, path: str, names: list[str]) -> None:
    template, parameters = regex_to_openapi_path(regex)
    assert template == path
    assert [p["name"] for p in parameters] == names
    for parameter in parameters:
        assert parameter["in"] == "path" and parameter["required"] is True
        assert parameter["schema"]["type"] == "string"


def test_path_parameter_patterns() -> None:
    _, parameters = regex_to_openapi_path(r"/x/(?P<oid>[0-9a-f]{24})/(?P<rest>.*)")
    assert parameters[0]["schema"]["pattern"] == "^(?:[0-9a-f]{24})$"
    assert "pattern" not in parameters[1]["schema"]


def test_document_validates(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    assert spec["info"] == {"title": "core4flask demo", "version": "0.1.0"}
    assert spec["servers"] == [{"url": "http://localhost:5001"}]
    json.dumps(spec)  # plain JSON data only


def test_minimal_documents_validate() -> None:
    validate(build_openapi([], title="empty", version="0"))
    lonely = {"rsc_id": "x", "qual_name": "m.H", "patterns": ["/h"], "methods": {"GET": None}}
    document = build_openapi([lonely], title="t", version="1")
    validate(document)
    assert "servers" not in document
    assert document["paths"]["/h"]["get"]["summary"] == "m.H"


def test_paths_and_regex_extension(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    assert list(paths) == [
        "/core4/api/v1/roles",
        "/core4/api/v1/roles/{arg0}",
        "/test-server/api/{client}/{_id}",
        "/test-server/help",
        "/test-server/test",
        "/test-server/twice/{arg0}/{arg1}",
    ]
    assert paths["/test-server/help"]["x-core4-regex"] == r"/test-server/help(?:/(.*))?$"
    assert paths["/core4/api/v1/roles"]["x-core4-regex"] == r"/core4/api/v1/roles/?$"
    assert "x-core4-regex" not in paths["/test-server/api/{client}/{_id}"]
    assert "x-core4-regex" not in paths["/test-server/test"]
    tenant = paths["/test-server/api/{client}/{_id}"]
    assert [p["name"] for p in tenant["parameters"]] == ["client", "_id"]
    assert paths["/core4/api/v1/roles"]["description"] == "Manage users and roles.\n\nOnly for administrators."


def test_operations(spec: dict[str, Any]) -> None:
    roles = spec["paths"]["/core4/api/v1/roles"]
    assert set(roles) - {"summary", "description", "x-core4-regex"} == {"get", "post", "put", "delete"}
    get = roles["get"]
    assert get["operationId"] == "core4flask.roles.api.RoleHandler.get"
    assert get["summary"] == "Paginated listing of users and roles, or one of them by ``_id``."
    assert get["tags"] == ["Roles"]
    assert "- `GET /roles/<_id>` one role" in get["description"]
    assert roles["put"]["summary"] == "Roles"  # no docstring: the title
    assert "parameters" not in roles["put"] and "description" not in roles["put"]
    test = spec["paths"]["/test-server/test"]
    assert set(test) == {"description", "get", "options"}  # no title: no path summary
    assert test["get"]["summary"] == "Hello." and test["options"]["summary"] == "demo.seed.TestHandler"
    ids = [op["operationId"] for item in spec["paths"].values() for key, op in item.items() if key in ("get", "post")]
    assert len(ids) == len(set(ids))
    assert spec["paths"]["/core4/api/v1/roles/{arg0}"]["get"]["operationId"] == "core4flask.roles.api.RoleHandler.get_2"


def test_query_parameters_are_typed(spec: dict[str, Any]) -> None:
    get = spec["paths"]["/core4/api/v1/roles"]["get"]
    parameters = {p["name"]: p for p in get["parameters"]}
    assert all(p["in"] == "query" for p in parameters.values())
    assert parameters["per_page"]["schema"] == {"type": "integer"}
    assert parameters["ratio"]["schema"] == {"type": "number"}
    assert parameters["active"]["schema"] == {"type": "boolean"}
    assert parameters["since"]["schema"] == {"type": "string", "format": "date-time"}
    assert parameters["filter"]["schema"] == {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {"type": "object"},
    }
    assert parameters["sort"]["schema"]["contentSchema"] == {"type": "array"}
    assert parameters["per_page"]["description"] == "roles per page"
    assert parameters["name"]["required"] is True and parameters["page"]["required"] is False
    tenant = spec["paths"]["/test-server/api/{client}/{_id}"]["get"]
    assert [p["name"] for p in tenant["parameters"]] == ["full"]  # _id is the path parameter


def test_body_methods_take_a_request_body(spec: dict[str, Any]) -> None:
    post = spec["paths"]["/core4/api/v1/roles"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["perm"]["type"] == "array"
    assert body["properties"]["name"] == {"type": "string", "description": "role name"}
    name = next(p for p in post["parameters"] if p["name"] == "name")
    assert name["required"] is False and name["description"].startswith("Required")
    assert "requestBody" not in spec["paths"]["/core4/api/v1/roles"]["get"]


def test_responses(spec: dict[str, Any]) -> None:
    get = spec["paths"]["/core4/api/v1/roles"]["get"]["responses"]
    assert list(get) == ["200", "400", "401", "403", "404"]
    assert get["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PageEnvelope"}
    assert get["404"]["description"] == "role not found; page out of range"
    assert get["401"]["description"] == "Unauthorized"
    assert get["403"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
    post = spec["paths"]["/core4/api/v1/roles"]["post"]["responses"]
    assert post["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Envelope")
    public = spec["paths"]["/test-server/help"]["get"]["responses"]
    assert list(public) == ["200"]


def test_security(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["cookie"] == {"type": "apiKey", "in": "cookie", "name": "token"}
    assert schemes["basic"] == {"type": "http", "scheme": "basic"}
    protected = spec["paths"]["/core4/api/v1/roles"]["get"]["security"]
    assert protected == [{"bearer": []}, {"cookie": []}, {"basic": []}]
    assert spec["paths"]["/test-server/help"]["get"]["security"] == []


def test_envelope_schemas(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    envelope, error, page = schemas["Envelope"], schemas["ErrorEnvelope"], schemas["PageEnvelope"]
    assert set(envelope["properties"]) == {"_id", "code", "message", "timestamp", "data", "flash"}
    assert "flash" not in envelope["required"]
    assert set(error["properties"]) == {"_id", "code", "message", "timestamp", "error", "flash"}
    assert envelope["properties"]["flash"]["items"] == {"$ref": "#/components/schemas/Flash"}
    assert schemas["Flash"]["properties"]["level"]["enum"] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    assert page["allOf"][0] == {"$ref": "#/components/schemas/Envelope"}
    assert set(page["allOf"][1]["required"]) == {"page", "page_count", "total_count", "per_page", "count"}


def test_tags(spec: dict[str, Any]) -> None:
    tags = {t["name"]: t for t in spec["tags"]}
    assert list(tags) == ["Roles", "Tenant data", "API introduction", "demo.seed.TestHandler"]
    assert tags["Roles"]["description"] == "users and roles"
    assert tags["Roles"]["x-core4-container"] == "core4flask.server.CoreApiServer"


def test_first_resource_wins_a_path() -> None:
    first = {"qual_name": "a.First", "patterns": ["/x/(?P<a>.*)$"], "methods": {"GET": "First."}}
    second = {
        "qual_name": "b.Second",
        "patterns": ["/x/(?P<b>.*)$", "/x/?$"],
        "methods": {"GET": "Second.", "POST": None},
    }
    document = build_openapi([first, second], title="t", version="1")
    validate(document)
    assert list(document["paths"]) == ["/x/{a}", "/x"]
    assert document["paths"]["/x/{a}"]["get"]["summary"] == "First."
    assert "post" not in document["paths"]["/x/{a}"]
    assert document["paths"]["/x"]["post"]["operationId"] == "b.Second.post"
