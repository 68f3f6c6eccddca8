"""The seam between the authenticator and the handler: authentication returns
what it found, immutable, and the handler applies it."""

from __future__ import annotations

import dataclasses
import time
import types

import pytest
import werkzeug.test
from flask import Request

from core4flask import create_app
from core4flask.auth import authenticator
from core4flask.auth.authenticator import Authentication, AuthSession
from core4flask.auth.tokens import COOKIE_NAME

SECRET = "authentication-test-secret-" + "0123456789abcdef" * 3


@pytest.fixture
def app(tmp_path):
    config = {"api": {"admin_password": "hans", "token": {"secret": SECRET, "refresh": 1}}}
    return create_app(config=config, instance_path=str(tmp_path))


def source_of(app, path="/", **kwargs):
    """A credential source as the handler is one: the request and its merged arguments."""
    environ = werkzeug.test.EnvironBuilder(path=path, **kwargs).get_environ()
    arguments = {key: list(values) for key, values in Request(environ).args.lists()}
    return types.SimpleNamespace(request=Request(environ), arguments=arguments)


def test_a_password_login_comes_back_without_a_token(app):
    auth = app.extensions["core4flask"].auth
    source = source_of(app, "/?username=admin&password=hans&keep=1")
    with app.app_context():
        found = auth.authenticate(source)
    assert isinstance(found, Authentication)
    assert found.user.name == "admin" and found.session == AuthSession("password")
    assert (found.token_exp, found.new_token, found.token_cookie) == (None, None, None)
    # the credentials left the arguments; nothing else of the source changed
    assert source.arguments == {"keep": ["1"]}
    assert set(vars(source)) == {"request", "arguments"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.user = None  # type: ignore[misc]


def test_a_login_sends_its_token_and_a_due_refresh_sends_a_fresh_one(app, monkeypatch):
    auth = app.extensions["core4flask"].auth
    with app.app_context():
        login = auth.login(source_of(app, "/?username=admin&password=hans"))
        assert login.new_token == login.session.token and login.session.sent
        assert login.token_cookie.startswith(f"{COOKIE_NAME}={login.new_token};")
        assert "HttpOnly" in login.token_cookie and login.token_exp is not None
        held = auth.authenticate(source_of(app, headers={"Authorization": f"Bearer {login.new_token}"}))
        assert held.new_token is None and held.session.token == login.new_token
        later = types.SimpleNamespace(time=lambda: time.time() + 5, monotonic=time.monotonic)
        monkeypatch.setattr(authenticator, "time", later)  # past api.token.refresh
        refreshed = auth.authenticate(source_of(app, headers={"Authorization": f"Bearer {login.new_token}"}))
    assert refreshed.new_token not in (None, login.new_token)
    assert refreshed.session.sent and refreshed.token_cookie.startswith(f"{COOKIE_NAME}={refreshed.new_token};")


def test_no_credentials_is_none(app):
    with app.app_context():
        assert app.extensions["core4flask"].auth.authenticate(source_of(app)) is None
