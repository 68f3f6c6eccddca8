"""A bounded property-based fuzz pass over the demo app, driven by its OpenAPI document.

schemathesis generates requests for every documented operation (path
parameters from the routing regexes, query and body arguments from the
docstrings) and sends them over HTTP to the demo app served by gunicorn, as
the signed-in admin. No response may be a server error (5xx).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests import live

pytestmark = pytest.mark.e2e  # every test here talks to a real server

#: Examples per operation; with ~60 operations this stays a short pass.
EXAMPLES = 6


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live.LiveServer]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    # generous login throttling: the pass sends many failed logins on purpose
    server = live.gunicorn(folder, workers=1, api__login__max_failures="100000")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin_headers(demo_server: live.LiveServer) -> dict[str, str]:
    return {"Authorization": "Bearer " + live.login(demo_server)}


@pytest.fixture(scope="module")
def api_schema(demo_server: live.LiveServer, admin_headers: dict[str, str]) -> Any:
    # the document lists protected handlers: it needs a login like they do
    return schemathesis.openapi.from_url(demo_server.url + "/core4/api/v1/openapi.json", headers=admin_headers)


# signing out would revoke the token the rest of the pass uses
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex=r".*/logout$")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,
)
def test_no_server_errors(case: Any, admin_headers: dict[str, str]) -> None:
    response = case.call(headers=admin_headers, timeout=10)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
    case.validate_response(response, checks=[not_a_server_error])
