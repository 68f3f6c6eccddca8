"""The authenticator: token checks, refresh, revocation across workers, caching."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time

import jwt
import pytest
from flask_jwt_extended import jwt_required

from core4flask import CoreApiContainer, CoreRequestHandler, create_app
from core4flask.auth.secret import SecretError, signing_key
from core4flask.store import new_id
from core4flask.testing import create_user, use_throwaway_store

SECRET = "authenticator-test-secret-" + "0123456789abcdef" * 3
KEY = signing_key(SECRET, "HS512")
LOGIN = "/core4/api/v1/login"


class WhoHandler(CoreRequestHandler):
    def get(self):
        return {"user": self.current_user, "token_exp": self.token_exp}


class AuthServer(CoreApiContainer):
    root = "/auth"
    rules = [(r"/who", WhoHandler)]


WHO = "/auth/who"
WHO_PERM = f"api://{WhoHandler.qual_name()}"


def make_app(path, *, token=None, **config):
    api = {"admin_password": "hans", "token": {"secret": SECRET, **(token or {})}}
    return create_app(AuthServer, config={"api": api, **config}, instance_path=str(path))


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def login(client, username="admin", password="hans"):
    response = client.post(LOGIN, json={"username": username, "password": password})
    assert response.status_code == 200, response.json
    return response.json["data"]["token"]


def claims_of(token):
    return jwt.decode(token, KEY, algorithms=["HS512"])


def eventually(check, seconds=2.0):
    """Whether ``check()`` holds within ``seconds`` (polled)."""
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def store_of(app):
    return app.extensions["core4flask"].store


# -- token checks --------------------------------------------------------------------------


def test_token_claims(app):
    token = login(app.test_client())
    claims = claims_of(token)
    admin = store_of(app).role_by_name("admin")
    assert claims["sub"] == admin["_id"] and claims["name"] == "admin"
    assert claims["sid"] == claims["jti"]
    assert claims["timestamp"] == claims["auth_time"]
    assert abs(claims["exp"] - claims["iat"] - 28800) <= 1


def forge(**claims):
    now = int(time.time())
    base = {
        "sub": new_id(),
        "jti": "j",
        "iat": now,
        "exp": now + 60,
        "name": "admin",
        "timestamp": now,
        "auth_time": now,
        "sid": "s",
        "pwv": "x",
    }
    return {**base, **claims}


def test_forged_expired_and_foreign_tokens_are_401(app):
    client = app.test_client()
    token = login(client)
    good = claims_of(token)
    cases = {
        "wrong key": jwt.encode(good, signing_key("some-other-secret-value", "HS512"), algorithm="HS512"),
        "HS256": jwt.encode(good, KEY, algorithm="HS256"),
        "alg none": jwt.encode(good, None, algorithm="none"),
        "expired": jwt.encode({**good, "exp": int(time.time()) - 5}, KEY, algorithm="HS512"),
        "unknown user": jwt.encode({**good, "sub": new_id()}, KEY, algorithm="HS512"),
        "other password": jwt.encode({**good, "pwv": "0" * 32}, KEY, algorithm="HS512"),
        "tampered": token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB"),
    }
    for name, forged in cases.items():
        assert client.get(WHO, headers=bearer(forged)).status_code == 401, name
        assert client.get(WHO, query_string={"token": forged}).status_code == 401, name
    assert client.get(WHO, headers=bearer(token)).status_code == 200


def test_token_exp_is_set_from_the_token(app):
    client = app.test_client()
    token = login(client)
    who = client.get(WHO, headers=bearer(token)).json["data"]
    assert who["user"] == "admin" and who["token_exp"] is not None
    assert client.get(WHO, headers=basic("admin", "hans")).json["data"]["token_exp"] is None


def test_refresh_after_refresh_seconds_keeps_the_session(tmp_path):
    app = make_app(tmp_path, token={"expiration": 30, "refresh": 1})
    client = app.test_client()
    token = login(client)
    first = client.get(WHO, headers=bearer(token))
    assert first.status_code == 200 and "token" not in first.headers
    time.sleep(1.3)
    later = client.get(WHO, headers=bearer(token))
    assert later.status_code == 200
    fresh = later.headers["token"]
    assert fresh != token
    assert any(c.startswith(f"token={fresh};") for c in later.headers.getlist("Set-Cookie"))
    old, new = claims_of(token), claims_of(fresh)
    assert new["auth_time"] == old["auth_time"] and new["sid"] == old["sid"]
    assert new["timestamp"] > old["timestamp"] and new["jti"] != old["jti"]
    adopted = client.get(WHO, headers=bearer(fresh))
    assert adopted.status_code == 200 and "token" not in adopted.headers


def test_session_limit_caps_refreshed_tokens(tmp_path):
    app = make_app(tmp_path, token={"expiration": 30, "refresh": 1, "session_limit": 2.5})
    client = app.test_client()
    token = login(client)
    auth_time = claims_of(token)["auth_time"]
    assert claims_of(token)["exp"] <= auth_time + 2.5
    time.sleep(1.1)
    refreshed = client.get(WHO, headers=bearer(token)).headers.get("token")
    assert refreshed is not None and claims_of(refreshed)["exp"] <= auth_time + 2.5
    time.sleep(max(0.0, auth_time + 2.6 - time.time()))
    assert client.get(WHO, headers=bearer(refreshed)).status_code == 401
    assert client.get(WHO, headers=bearer(token)).status_code == 401


def test_login_with_a_token_returns_it_without_extending_the_session(app):
    client = app.test_client()
    token = login(client)
    again = client.get(LOGIN, headers=bearer(token))
    assert again.status_code == 200 and again.json["data"]["token"] == token


# -- revocation across workers ---------------------------------------------------------------


@pytest.fixture
def two_workers(tmp_path):
    """Two applications sharing one store, like two gunicorn workers (caching for 0.2 s)."""
    first, second = make_app(tmp_path, token={"cache_ttl": 0.2}), make_app(tmp_path, token={"cache_ttl": 0.2})
    use_throwaway_store(first, tmp_path)  # the same file second serves from
    return first, second


def test_logout_on_one_worker_revokes_on_every_worker(two_workers):
    first, second = (app.test_client() for app in two_workers)
    token = login(first)
    assert second.get(WHO, headers=bearer(token)).status_code == 200  # now cached there
    assert first.post("/core4/api/v1/logout", headers=bearer(token)).status_code == 200
    assert first.get(WHO, headers=bearer(token)).status_code == 401
    assert eventually(lambda: second.get(WHO, headers=bearer(token)).status_code == 401)


def test_logout_revokes_refreshed_tokens_of_the_session(tmp_path):
    app = make_app(tmp_path, token={"refresh": 0.4})
    client = app.test_client()
    token = login(client)
    time.sleep(0.5)
    refreshed = client.get(WHO, headers=bearer(token)).headers["token"]
    assert client.post("/core4/api/v1/logout", headers=bearer(refreshed)).status_code == 200
    assert client.get(WHO, headers=bearer(token)).status_code == 401


def test_password_change_elsewhere_revokes_older_tokens(two_workers):
    from core4flask.auth.passwords import hash_password

    first, second = two_workers
    user = create_user(first, "changer", password="Old-Maple-Trail-21", perm=[WHO_PERM])
    token = login(first.test_client(), "changer", "Old-Maple-Trail-21")
    client = second.test_client()
    assert client.get(WHO, headers=bearer(token)).status_code == 200
    store = store_of(first)
    doc = store.role_get(user._id)
    assert store.role_update(user._id, doc["etag"], {"password": hash_password("New-Cedar-Ridge-34"), "etag": new_id()})
    assert eventually(lambda: client.get(WHO, headers=bearer(token)).status_code == 401)
    assert client.get(WHO, headers=basic("changer", "New-Cedar-Ridge-34")).status_code == 200


@pytest.mark.parametrize("change", ["deactivate", "delete", "drop permission", "drop role permission"])
def test_user_changes_take_effect_on_every_worker(two_workers, change):
    first, second = two_workers
    store = store_of(first)
    role_id = new_id()
    store.role_insert({"_id": role_id, "etag": new_id(), "name": "who-role", "perm": [WHO_PERM], "is_active": True})
    user = create_user(first, "changing", password="Quiet-Harbor-83", perm=[WHO_PERM], role=["who-role"])
    token = login(first.test_client(), "changing", "Quiet-Harbor-83")
    client = second.test_client()
    assert client.get(WHO, headers=bearer(token)).status_code == 200
    doc = store.role_get(user._id)
    if change == "deactivate":
        store.role_update(user._id, doc["etag"], {"is_active": False, "etag": new_id()})
        expected = 401
    elif change == "delete":
        store.role_delete(user._id, doc["etag"])
        expected = 401
    elif change == "drop permission":
        store.role_update(user._id, doc["etag"], {"perm": [], "etag": new_id()})
        expected = 200  # still granted through the role
    else:
        store.role_update(user._id, doc["etag"], {"perm": [], "etag": new_id()})
        role = store.role_get(role_id)
        store.role_update(role_id, role["etag"], {"perm": [], "etag": new_id()})
        expected = 403
    assert eventually(lambda: client.get(WHO, headers=bearer(token)).status_code == expected)


def test_a_hot_request_reads_nothing_from_the_store(app, monkeypatch):
    client = app.test_client()
    token = login(client)
    assert client.get(WHO, headers=bearer(token)).status_code == 200
    store = store_of(app)

    def refuse(*_args, **_kwargs):
        raise AssertionError("the store was read")

    for name in ("role_get", "role_get_many", "role_by_name", "kv_get", "kv_changed_since"):
        monkeypatch.setattr(store, name, refuse)
    assert client.get(WHO, headers=bearer(token)).status_code == 200


# -- password logins ---------------------------------------------------------------------------


def pbkdf2_hash(password: str, salt: bytes = b"0123456789ab", rounds: int = 29000) -> str:
    def ab64(raw: bytes) -> str:
        return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")

    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    return f"$pbkdf2-sha256${rounds}${ab64(salt)}${ab64(digest)}"


def test_password_login_stamps_last_login_and_rehashes_core4_hashes(app):
    store = store_of(app)
    user_id = new_id()
    store.role_insert(
        {
            "_id": user_id,
            "etag": new_id(),
            "name": "legacy",
            "email": "legacy@example.com",
            "password": pbkdf2_hash("old-school"),
            "perm": [WHO_PERM],
            "is_active": True,
        }
    )
    client = app.test_client()
    assert client.get(WHO, headers=basic("legacy", "old-school")).status_code == 200
    doc = store.role_get(user_id)
    assert doc["password"].startswith("$argon2id$") and doc["last_login"] is not None
    assert client.get(WHO, headers=basic("legacy", "old-school")).status_code == 200
    assert client.get(WHO, headers=basic("legacy", "wrong")).status_code == 401


def test_roles_without_a_password_cannot_log_in(app):
    store = store_of(app)
    store.role_insert({"_id": new_id(), "etag": new_id(), "name": "a-role", "perm": ["cop"], "is_active": True})
    assert app.test_client().get(WHO, headers=basic("a-role", "anything")).status_code == 401


# -- the store is down ---------------------------------------------------------------------------


def test_store_down_is_503(tmp_path, monkeypatch):
    import core4flask.store

    opened = []

    def open_store(*args, **kwargs):
        opened.append(open_real(*args, **kwargs))
        return opened[-1]

    open_real = core4flask.store.open_store
    monkeypatch.setattr(core4flask.store, "open_store", open_store)
    try:
        _check_store_down(
            make_app(tmp_path, mongo_url="mongodb://127.0.0.1:1/core4flask-test?serverSelectionTimeoutMS=200")
        )
    finally:
        for store in opened:  # every failed attempt made a client
            store.close()
    assert opened and all(type(store).__name__ == "MongoStore" for store in opened)


def _check_store_down(app):
    client = app.test_client()
    token = jwt.encode(forge(), KEY, algorithm="HS512")
    for headers in (basic("admin", "hans"), bearer(token)):
        response = client.get(WHO, headers=headers)
        assert response.status_code == 503, response.json
        assert response.json["code"] == 503 and "Retry-After" in response.headers
    assert client.get(LOGIN, query_string={"username": "admin", "password": "hans"}).status_code == 503


# -- flask-jwt-extended's own decorator agrees -----------------------------------------------------


def test_flask_jwt_extended_views_accept_session_tokens_until_logout(app):
    @app.route("/plain")
    @jwt_required()
    def plain():
        return "plain"

    client = app.test_client()
    token = login(client)
    assert client.get("/plain", headers=bearer(token)).status_code == 200
    client.post("/core4/api/v1/logout", headers=bearer(token))
    assert client.get("/plain", headers=bearer(token)).status_code == 401


# -- start-up: the secret and the admin password -----------------------------------------------


def test_generated_admin_password_is_printed_once_and_never_logged(tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    config = {"api": {"token": {"secret": SECRET}}}
    first = create_app(AuthServer, config=config, instance_path=str(tmp_path))
    first.extensions["core4flask"].prepare_serving()
    printed = capsys.readouterr().err
    store_line, password_line = printed.splitlines()
    assert store_line == f"core4flask store: SQLite at {tmp_path / 'core4flask.sqlite3'}"
    password = re.fullmatch(r"admin password: (\S+)", password_line).group(1)
    second = create_app(AuthServer, config=config, instance_path=str(tmp_path))
    assert second.test_client().get(WHO, headers=basic("admin", password)).status_code == 200
    assert first.test_client().get(WHO, headers=basic("admin", password)).status_code == 200
    output = capsys.readouterr()
    assert password not in output.out + output.err
    assert password not in caplog.text


def test_mongodb_without_a_secret_refuses_to_start(tmp_path):
    app = create_app(AuthServer, config={"mongo_url": "mongodb://127.0.0.1:1/x"}, instance_path=str(tmp_path))
    with pytest.raises(SecretError, match="api.token.secret is not set"):
        app.extensions["core4flask"].prepare_serving()


def test_production_start_without_a_secret_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CORE4_PRODUCTION", "1")
    app = create_app(AuthServer, config={"api": {"admin_password": "hans"}}, instance_path=str(tmp_path))
    with pytest.raises(SecretError, match="CORE4_PRODUCTION"):
        app.extensions["core4flask"].prepare_serving()


def test_an_unsupported_algorithm_is_refused_at_once(tmp_path):
    with pytest.raises(SecretError, match="not supported"):
        create_app(AuthServer, config={"api": {"token": {"algorithm": "none"}}}, instance_path=str(tmp_path))
