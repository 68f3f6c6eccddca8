"""The API map a user gets (OpenAPI document, reference page) lists only what
that user may call; over HTTP against gunicorn serving the demo application."""

from __future__ import annotations

import pytest

from tests import live

SPEC_URL = "/core4/api/v1/openapi.json"
REFERENCE_URL = "/core4/api/v1/api"
ROLES = "/core4/api/v1/roles"
STRONG = "Lantern-Orbit-4711"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = live.gunicorn(tmp_path_factory.mktemp("apimap"), ready="/test-server/public")
    yield running
    running.stop()


def signed_in(server, name: str, **fields) -> dict[str, str]:
    admin = {"Authorization": f"Bearer {live.login(server)}"}
    body = {"name": name, "email": f"{name}@example.com", "passwd": STRONG, **fields}
    created = server.post(ROLES, json=body, headers=admin)
    assert created.status_code == 200, created.text
    return {"Authorization": f"Bearer {live.login(server, name, STRONG)}"}


@pytest.mark.e2e
def test_a_standard_user_sees_only_its_own_map(server):
    """The default ``standard_user`` role no longer reveals the whole API:
    no roles API, no protected handler of the application."""
    user = signed_in(server, "standard", role=["standard_user"])
    spec = server.get(SPEC_URL, headers=user)
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/test-server/public" in paths and "/core4/api/v1/profile" in paths
    for hidden in (ROLES, f"{ROLES}/{{arg0}}", "/args/test", "/test-server/test", "/my/api/{client}/{_id}"):
        assert hidden not in paths, hidden
    page = server.get(REFERENCE_URL, headers={**user, "Accept": "text/html"})
    assert page.status_code == 200
    assert "/core4/api/v1/roles" not in page.text and "/args/test" not in page.text


@pytest.mark.e2e
def test_methods_follow_the_crud_letters_and_a_cop_sees_everything(server):
    reader = signed_in(server, "reader", perm=["api://demo.seed.ArgTestHandler/r"])
    args = server.get(SPEC_URL, headers=reader).json()["paths"]["/args/test"]
    assert set(args) & {"get", "post"} == {"get"}
    cop = {"Authorization": f"Bearer {live.login(server)}"}
    paths = server.get(SPEC_URL, headers=cop).json()["paths"]
    assert {"get", "post"} <= set(paths["/args/test"]) and ROLES in paths


@pytest.mark.e2e
def test_anonymous_clients_get_no_map(server):
    for url in (SPEC_URL, REFERENCE_URL):
        response = server.get(url)
        assert response.status_code == 401
        assert "/args/test" not in response.text
