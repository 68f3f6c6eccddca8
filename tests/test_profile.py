"""``/core4/api/v1/profile``: the own record, and changing it."""

from __future__ import annotations

import base64

import pytest

from core4flask import create_app
from core4flask.store import new_id
from core4flask.testing import create_user, use_throwaway_store

SECRET = "profile-test-secret-" + "0123456789abcdef" * 3
PROFILE = "/core4/api/v1/profile"
LOGIN = "/core4/api/v1/login"


@pytest.fixture
def app(tmp_path):
    config = {"api": {"admin_password": "hans", "token": {"secret": SECRET}}}
    app = create_app(config=config, instance_path=str(tmp_path))
    use_throwaway_store(app, tmp_path)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def login(client, username, password):
    response = client.post(LOGIN, json={"username": username, "password": password})
    assert response.status_code == 200, response.json
    return response.json["data"]["token"]


@pytest.fixture
def user(app):
    store = app.extensions["core4flask"].store
    for name, perm, roles in (("role-b", ["api://b.x"], []), ("role-a", ["api://a.x"], ["role-b"])):
        ids = [store.role_by_name(r)["_id"] for r in roles]
        store.role_insert({"_id": new_id(), "etag": new_id(), "name": name, "perm": perm, "role": ids})
    return create_user(
        app, "pat", password="First-Amber-Lake-7", perm=["api://own.x"], role=["role-a"], email="pat@example.com"
    )


def test_get_returns_the_own_detail_record(client, user):
    token = login(client, "pat", "First-Amber-Lake-7")
    data = client.get(PROFILE, headers=bearer(token)).json["data"]
    assert data["name"] == "pat" and data["_id"] == user._id and data["email"] == "pat@example.com"
    assert data["perm"] == ["api://own.x"]
    assert data["perm_total"] == ["api://a.x", "api://b.x", "api://own.x"]
    assert data["role"] == ["role-a"] and data["role_total"] == ["role-a", "role-b"]
    assert data["is_active"] is True and data["last_login"] is not None and data["etag"]
    assert data["token_expires"] is not None
    assert "password" not in data and "passwd" not in data


def test_get_with_a_password_has_no_token_expiry(client, user):
    data = client.get(PROFILE, headers=basic("pat", "First-Amber-Lake-7")).json["data"]
    assert data["token_expires"] is None


def test_profile_needs_a_login_but_no_permission(app, client):
    assert client.get(PROFILE).status_code == 401
    bare = create_user(app, "bare", password="Quiet-Harbor-83")
    assert client.get(PROFILE, headers=basic(bare.name, "Quiet-Harbor-83")).status_code == 200


#: the current password of the user ``pat``
CURRENT = {"current_passwd": "First-Amber-Lake-7"}


def etag_of(client, headers):
    return client.get(PROFILE, headers=headers).json["data"]["etag"]


def test_put_needs_a_current_etag(client, user):
    headers = basic("pat", "First-Amber-Lake-7")
    missing = client.put(PROFILE, json={"realname": "Pat"}, headers=headers)
    assert missing.status_code == 400 and "Missing argument etag" in missing.json["error"]
    assert client.put(PROFILE, json={"etag": "nope"}, headers=headers).status_code == 400
    stale = client.put(PROFILE, json={"etag": new_id(), "realname": "Pat"}, headers=headers)
    assert stale.status_code == 409 and "with etag" in stale.json["error"]


def test_put_changes_realname_and_email(client, user):
    headers = basic("pat", "First-Amber-Lake-7")
    etag = etag_of(client, headers)
    response = client.put(
        PROFILE, json={"etag": etag, "realname": " Pat Doe ", "email": "PAT@Example.org", **CURRENT}, headers=headers
    )
    assert response.status_code == 200
    data = response.json["data"]
    assert data["realname"] == "Pat Doe" and data["email"] == "pat@example.org"
    assert data["etag"] != etag and data["updated"] is not None
    assert client.put(PROFILE, json={"etag": etag, "realname": "x"}, headers=headers).status_code == 409
    same = client.put(PROFILE, json={"etag": data["etag"], "realname": "Pat Doe"}, headers=headers)
    assert same.status_code == 200 and same.json["data"] == "no changes"


def test_put_refuses_bad_or_taken_email_and_ignores_other_fields(app, client, user):
    create_user(app, "other", password="Quiet-Harbor-83", email="taken@example.com")
    headers = basic("pat", "First-Amber-Lake-7")
    etag = etag_of(client, headers)
    taken = client.put(PROFILE, json={"etag": etag, "email": "Taken@example.com", **CURRENT}, headers=headers)
    assert taken.status_code == 400 and "mail exists" in taken.json["error"]
    bad = client.put(PROFILE, json={"etag": etag, "email": "not an email", **CURRENT}, headers=headers)
    assert bad.status_code == 400 and "field [email]" in bad.json["error"]
    cleared = client.put(PROFILE, json={"etag": etag, "email": "", **CURRENT}, headers=headers)
    assert cleared.status_code == 400
    sneaky = client.put(PROFILE, json={"etag": etag, "perm": ["cop"], "name": "admin2"}, headers=headers)
    assert sneaky.status_code == 200 and sneaky.json["data"] == "no changes"
    assert client.get(PROFILE, headers=headers).json["data"]["perm_total"] == ["api://a.x", "api://b.x", "api://own.x"]


def test_password_change_needs_the_current_password(client, user):
    headers = basic("pat", "First-Amber-Lake-7")
    etag = etag_of(client, headers)
    missing = client.put(PROFILE, json={"etag": etag, "passwd": "Second-Birch-Hill-9"}, headers=headers)
    assert missing.status_code == 400 and "current_passwd" in missing.json["error"]
    wrong = client.put(
        PROFILE, json={"etag": etag, "passwd": "Second-Birch-Hill-9", "current_passwd": "nope"}, headers=headers
    )
    assert wrong.status_code == 400 and "current_passwd" in wrong.json["error"]
    assert client.get(PROFILE, headers=basic("pat", "First-Amber-Lake-7")).status_code == 200


def test_password_change_revokes_older_tokens_and_hands_out_a_new_one(app, client, user):
    old_token = login(client, "pat", "First-Amber-Lake-7")
    other_session = login(app.test_client(), "pat", "First-Amber-Lake-7")
    etag = etag_of(client, bearer(old_token))
    response = client.put(
        PROFILE,
        json={"etag": etag, "passwd": "Second-Birch-Hill-9", "current_passwd": "First-Amber-Lake-7"},
        headers=bearer(old_token),
    )
    assert response.status_code == 200 and "password" not in response.json["data"]
    new_token = response.headers["token"]
    fresh = app.test_client()
    assert fresh.get(PROFILE, headers=bearer(old_token)).status_code == 401
    assert fresh.get(PROFILE, headers=bearer(other_session)).status_code == 401
    assert fresh.get(PROFILE, headers=bearer(new_token)).status_code == 200
    assert fresh.get(PROFILE, headers=basic("pat", "First-Amber-Lake-7")).status_code == 401
    assert fresh.get(PROFILE, headers=basic("pat", "Second-Birch-Hill-9")).status_code == 200


def test_a_user_cannot_drop_its_email_through_the_profile(app, client, user):
    """The profile keeps the rules of the roles API: a user has an email and a
    password. A blank ``passwd`` is no password change, so it cannot carry the
    removal of the email through (it once left a password without an email).
    Removing the email is an email change: without the current password it is
    refused for that first."""
    headers = basic("pat", "First-Amber-Lake-7")
    etag = etag_of(client, headers)
    for body in (
        {"email": "", **CURRENT},
        {"email": "", "passwd": "", **CURRENT},
        {"email": "", "passwd": "   ", **CURRENT},
    ):
        response = client.put(PROFILE, json={"etag": etag, **body}, headers=headers)
        assert response.status_code == 400, (body, response.json)
        assert "requires email and password" in response.json["error"]
        assert response.json["error"].startswith("core4flask.errors.HTTPError: HTTP 400: Bad Request")
    unconfirmed = client.put(PROFILE, json={"etag": etag, "email": "", "passwd": ""}, headers=headers)
    assert unconfirmed.status_code == 400 and "current_passwd" in unconfirmed.json["error"]
    doc = app.extensions["core4flask"].store.role_by_name("pat")
    assert doc["email"] == "pat@example.com" and doc["password"] and doc["etag"] == etag


def test_a_blank_password_is_no_password_change(client, user):
    headers = basic("pat", "First-Amber-Lake-7")
    etag = etag_of(client, headers)
    response = client.put(PROFILE, json={"etag": etag, "passwd": "", "realname": "Pat"}, headers=headers)
    assert response.status_code == 200 and response.json["data"]["realname"] == "Pat"
    assert "token" not in response.headers
    assert client.get(PROFILE, headers=basic("pat", "First-Amber-Lake-7")).status_code == 200
