"""Trusting reverse proxies (``api.proxy_hops``): the login throttle counts the
real client behind them, and a client cannot forge its address without them."""

from __future__ import annotations

import flask
import pytest

from core4flask import create_app
from core4flask.config import load_config
from core4flask.proxies import trust_proxies
from tests import live

LOGIN = "/core4/api/v1/login"


def failing_logins(server, forwarded_for: str, count: int) -> None:
    for n in range(count):
        response = server.get(
            LOGIN, params={"username": "admin", "password": f"bad{n}"}, headers={"X-Forwarded-For": forwarded_for}
        )
        assert response.status_code == 401


def right_login(server, forwarded_for: str) -> int:
    params = {"username": "admin", "password": live.ADMIN_PASSWORD}
    return server.get(LOGIN, params=params, headers={"X-Forwarded-For": forwarded_for}).status_code


@pytest.mark.e2e
def test_behind_one_proxy_each_client_has_its_own_count(tmp_path):
    server = live.gunicorn(
        tmp_path, ready="/test-server/public", api__proxy_hops="1", api__login__max_failures="2", api__login__delay="60"
    )
    try:
        failing_logins(server, "203.0.113.7", 2)
        assert right_login(server, "203.0.113.7") == 429
        # another client behind the same proxy is not locked out with the guesser
        assert right_login(server, "198.51.100.9") == 200
    finally:
        server.stop()


@pytest.mark.e2e
def test_without_trusted_proxies_a_forged_header_changes_nothing(tmp_path):
    server = live.gunicorn(tmp_path, ready="/test-server/public", api__login__max_failures="2", api__login__delay="60")
    try:
        failing_logins(server, "203.0.113.7", 2)
        # a guesser cannot escape its lock-out by naming another address
        assert right_login(server, "198.51.100.9") == 429
    finally:
        server.stop()


def test_proxy_fix_takes_the_configured_number_of_hops(tmp_path):
    app = flask.Flask(__name__)

    @app.get("/who")
    def who():
        return f"{flask.request.remote_addr} {flask.request.scheme}"

    trust_proxies(app, load_config({"api": {"proxy_hops": 2}}, environ={}))
    client = app.test_client()
    headers = {"X-Forwarded-For": "10.9.9.9, 203.0.113.7, 10.0.0.2", "X-Forwarded-Proto": "https, https"}
    assert client.get("/who", headers=headers).get_data(as_text=True) == "203.0.113.7 https"
    plain = flask.Flask(__name__)
    trust_proxies(plain, load_config(None, environ={}))
    assert plain.wsgi_app.__class__.__name__ != "ProxyFix"
    with pytest.raises(ValueError, match="proxy_hops"):
        trust_proxies(plain, load_config({"api": {"proxy_hops": -1}}, environ={}))


def test_create_app_applies_it(tmp_path):
    app = create_app(config={"api": {"proxy_hops": 1}}, instance_path=str(tmp_path))
    assert type(app.wsgi_app).__name__ == "ProxyFix"
