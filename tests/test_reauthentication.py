"""Changing what one signs in with needs the current password (``current_passwd``).

Over HTTP against gunicorn: the own password through ``PUT /roles/<own id>``
and the own email through the profile need it (400 naming it when missing or
wrong, throttled like a login); a cop changing another user's password does not.
"""

from __future__ import annotations

import pytest

from tests import live

PROFILE = "/core4/api/v1/profile"
ROLES = "/core4/api/v1/roles"
STRONG = "Lantern-Orbit-4711"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def needs_current(response) -> None:
    body = response.json()
    assert response.status_code == 400, body
    assert "current_passwd" in body["error"], body


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = live.gunicorn(
        tmp_path_factory.mktemp("reauth"), ready="/test-server/public", api__login__max_failures="3"
    )
    yield running
    running.stop()


def make_user(server, admin, name, perm):
    fields = {"name": name, "email": f"{name}@example.com", "passwd": STRONG, "perm": perm}
    created = server.post(ROLES, json=fields, headers=admin)
    assert created.status_code == 200, created.text
    return created.json()["data"], bearer(live.login(server, name, STRONG))


@pytest.mark.e2e
def test_the_own_password_through_the_roles_api_needs_the_current_one(server):
    admin = bearer(live.login(server))
    record, manager = make_user(server, admin, "manager", ["api://core4flask.roles"])
    url = f"{ROLES}/{record['_id']}"
    etag = record["etag"]
    needs_current(server.request("PUT", url, json={"etag": etag, "passwd": STRONG + "-new"}, headers=manager))
    needs_current(
        server.request(
            "PUT", url, json={"etag": etag, "passwd": STRONG + "-new", "current_passwd": "guess"}, headers=manager
        )
    )
    needs_current(server.request("PUT", url, json={"etag": etag, "email": "elsewhere@example.com"}, headers=manager))
    assert live.login(server, "manager", STRONG)
    fields = {"etag": etag, "passwd": STRONG + "-new", "current_passwd": STRONG}
    changed = server.request("PUT", url, json=fields, headers=manager)
    assert changed.status_code == 200, changed.text
    manager = bearer(live.login(server, "manager", STRONG + "-new"))  # the old token died with the old password
    # the admin's own record too, even for a cop
    own = server.get(PROFILE, headers=admin).json()["data"]
    needs_current(
        server.request("PUT", f"{ROLES}/{own['_id']}", json={"etag": own["etag"], "passwd": STRONG}, headers=admin)
    )
    # other fields of the own record need no password
    renamed = server.request(
        "PUT", url, json={"etag": changed.json()["data"]["etag"], "realname": "M. Anager"}, headers=manager
    )
    assert renamed.status_code == 200 and renamed.json()["data"]["realname"] == "M. Anager"


@pytest.mark.e2e
def test_a_cop_changes_another_users_password_without_it(server):
    admin = bearer(live.login(server))
    record, _ = make_user(server, admin, "forgetful", [])
    fields = {"etag": record["etag"], "passwd": STRONG + "-reset", "email": "forgetful@example.org"}
    response = server.request("PUT", f"{ROLES}/{record['_id']}", json=fields, headers=admin)
    assert response.status_code == 200, response.text
    assert live.login(server, "forgetful", STRONG + "-reset")


@pytest.mark.e2e
def test_the_own_email_through_the_profile_needs_the_current_password(server):
    admin = bearer(live.login(server))
    _, user = make_user(server, admin, "mover", [])
    etag = server.get(PROFILE, headers=user).json()["data"]["etag"]
    needs_current(server.request("PUT", PROFILE, json={"etag": etag, "email": "thief@example.com"}, headers=user))
    wrong = {"etag": etag, "email": "thief@example.com", "current_passwd": "nope"}
    needs_current(server.request("PUT", PROFILE, json=wrong, headers=user))
    assert server.get(PROFILE, headers=user).json()["data"]["email"] == "mover@example.com"
    same = server.request(
        "PUT", PROFILE, json={"etag": etag, "email": "MOVER@example.com", "realname": "Mo"}, headers=user
    )
    assert same.status_code == 200, same.text
    etag = same.json()["data"]["etag"]
    moved = server.request(
        "PUT", PROFILE, json={"etag": etag, "email": "mover@example.org", "current_passwd": STRONG}, headers=user
    )
    assert moved.status_code == 200 and moved.json()["data"]["email"] == "mover@example.org"


@pytest.mark.e2e
def test_guessing_the_current_password_is_throttled_like_a_login(server):
    admin = bearer(live.login(server))
    _, user = make_user(server, admin, "guessed", [])
    etag = server.get(PROFILE, headers=user).json()["data"]["etag"]
    for guess in ("one", "two", "three"):
        needs_current(
            server.request(
                "PUT", PROFILE, json={"etag": etag, "email": "x@example.com", "current_passwd": guess}, headers=user
            )
        )
    throttled = server.request(
        "PUT", PROFILE, json={"etag": etag, "email": "x@example.com", "current_passwd": STRONG}, headers=user
    )
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
