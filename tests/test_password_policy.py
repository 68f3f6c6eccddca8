"""The password policy (NIST SP 800-63B) over HTTP: the roles API and the profile.

A refused password gets a 400 envelope that names the rule it broke; the
operator's configured admin password (the seed's ``hans``) still signs in.
"""

from __future__ import annotations

import pytest

from tests import live

LOGIN = "/core4/api/v1/login"
PROFILE = "/core4/api/v1/profile"
ROLES = "/core4/api/v1/roles"
STRONG = "Lantern-Orbit-4711"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = live.gunicorn(tmp_path_factory.mktemp("policy"), ready="/test-server/public")
    yield running
    running.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refused(response, rule: str) -> None:
    body = response.json()
    assert response.status_code == 400, body
    assert body["code"] == 400 and f"rule [{rule}]" in body["error"], body


@pytest.mark.e2e
def test_the_roles_api_refuses_weak_passwords_naming_the_rule(server):
    """The seed's admin/hans signs in (the operator's password is exempt), but
    cannot hand out ``a``, ``1``, the user name or a common password."""
    admin = bearer(live.login(server, "admin", "hans"))
    for passwd, rule in (
        ("a", "min_length"),
        ("1", "min_length"),
        ("bob", "min_length"),
        ("bobbybobby", "user_name"),
        ("the-real-bobbybobby", "user_name"),
        ("password1", "common"),
        ("Sunshine", "common"),
        ("x" * 300, "max_length"),
    ):
        fields = {"name": "bobbybobby", "email": "bob@example.com", "passwd": passwd}
        refused(server.post(ROLES, json=fields, headers=admin), rule)
    assert server.get(ROLES, params={"filter": '{"name": "bobbybobby"}'}, headers=admin).json()["total_count"] == 0
    fields = {"name": "bobbybobby", "email": "bob@example.com", "passwd": STRONG}
    created = server.post(ROLES, json=fields, headers=admin)
    assert created.status_code == 200, created.text
    url = f"{ROLES}/{created.json()['data']['_id']}"
    etag = created.json()["data"]["etag"]
    refused(server.request("PUT", url, json={"etag": etag, "passwd": "qwertyuiop"}, headers=admin), "common")
    # a cop sets another user's password without knowing the old one
    changed = server.request("PUT", url, json={"etag": etag, "passwd": STRONG + "-2"}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert live.login(server, "bobbybobby", STRONG + "-2")


@pytest.mark.e2e
def test_the_profile_refuses_weak_passwords_naming_the_rule(server):
    admin = bearer(live.login(server, "admin", "hans"))
    fields = {"name": "carla", "email": "carla@example.com", "passwd": STRONG}
    assert server.post(ROLES, json=fields, headers=admin).status_code == 200
    carla = bearer(live.login(server, "carla", STRONG))
    etag = server.get(PROFILE, headers=carla).json()["data"]["etag"]
    for passwd, rule in (("a", "min_length"), ("Carla-Carla", "user_name"), ("iloveyou", "common")):
        refused(
            server.request(
                "PUT", PROFILE, json={"etag": etag, "passwd": passwd, "current_passwd": STRONG}, headers=carla
            ),
            rule,
        )
    assert live.login(server, "carla", STRONG)
