"""Failed-login throttling: per (username, address), shared by every worker."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import pytest

from core4flask import CoreApiContainer, CoreRequestHandler, HTTPError, create_app
from core4flask.auth.throttle import LoginThrottle
from core4flask.store import SQLiteStore
from core4flask.testing import create_user

SECRET = "throttle-test-secret-" + "0123456789abcdef" * 3
LOGIN = "/core4/api/v1/login"


class GuardedHandler(CoreRequestHandler):
    def get(self):
        return self.current_user


class ThrottleServer(CoreApiContainer):
    root = "/throttle"
    rules = [(r"/guarded", GuardedHandler)]


def make_app(path, **login):
    api = {
        "admin_password": "hans",
        "token": {"secret": SECRET},
        "login": {"max_failures": 3, "window": 60, "backoff": 30, **login},
    }
    return create_app(ThrottleServer, config={"api": api}, instance_path=str(path))


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def attempt(client, password, user="admin", address="10.0.0.1"):
    return client.get(
        LOGIN, query_string={"username": user, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


# -- the throttle itself ------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = datetime(2100, 1, 1)

    def __call__(self):
        return self.now


@pytest.fixture
def throttle(tmp_path):
    store = SQLiteStore(str(tmp_path / "db.sqlite3"))
    store.clock = Clock()
    yield LoginThrottle(lambda: store, max_failures=3, window=60, backoff=30), store.clock
    store.close()


def test_locks_after_max_failures_for_the_backoff(throttle):
    guard, clock = throttle
    for _ in range(2):
        guard.failed("Alice", "1.2.3.4")
        guard.check("alice", "1.2.3.4")
    guard.failed("alice", "1.2.3.4")
    with pytest.raises(HTTPError) as caught:
        guard.check("ALICE", "1.2.3.4")
    assert caught.value.status_code == 429 and caught.value.headers == {"Retry-After": "30"}
    guard.check("alice", "5.6.7.8")
    guard.check("bob", "1.2.3.4")
    clock.now += timedelta(seconds=20)
    with pytest.raises(HTTPError) as caught:
        guard.check("alice", "1.2.3.4")
    assert caught.value.headers == {"Retry-After": "10"}
    clock.now += timedelta(seconds=11)
    guard.check("alice", "1.2.3.4")


def test_failures_outside_the_window_do_not_count(throttle):
    guard, clock = throttle
    guard.failed("alice", "a")
    guard.failed("alice", "a")
    clock.now += timedelta(seconds=61)
    guard.failed("alice", "a")
    guard.check("alice", "a")


def test_success_clears_the_failures(throttle):
    guard, _ = throttle
    guard.failed("alice", "a")
    guard.failed("alice", "a")
    guard.succeeded("alice", "a")
    guard.failed("alice", "a")
    guard.failed("alice", "a")
    guard.check("alice", "a")


def test_zero_max_failures_disables_throttling(tmp_path):
    store = SQLiteStore(str(tmp_path / "db.sqlite3"))
    try:
        guard = LoginThrottle(lambda: store, max_failures=0, window=60, backoff=30)
        for _ in range(5):
            guard.failed("alice", "a")
        guard.check("alice", "a")
        assert store.throttle_count(LoginThrottle.key("alice", "a"), 60) == 0
    finally:
        store.close()


def test_keys_do_not_reveal_names_or_addresses():
    key = LoginThrottle.key("alice", "10.1.2.3")
    assert "alice" not in key and "10.1.2.3" not in key
    assert key == LoginThrottle.key("ALICE", "10.1.2.3") != LoginThrottle.key("alice", "10.1.2.4")


# -- over HTTP ---------------------------------------------------------------------------------


def test_login_is_429_with_retry_after_even_with_the_right_password(tmp_path):
    client = make_app(tmp_path).test_client()
    for _ in range(3):
        assert attempt(client, "wrong").status_code == 401
    locked = attempt(client, "hans")
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 30
    assert locked.json["code"] == 429 and "too many failed logins" in locked.json["error"]
    assert attempt(client, "hans", address="10.0.0.2").status_code == 200


def test_every_password_path_counts_and_is_throttled(tmp_path):
    app = make_app(tmp_path)
    create_user(app, "victim", password="right", perm=[f"api://{GuardedHandler.qual_name()}"])
    client = app.test_client()
    environ = {"REMOTE_ADDR": "10.0.0.9"}
    assert client.get("/throttle/guarded", headers=basic("victim", "x"), environ_base=environ).status_code == 401
    query = {"username": "victim", "password": "y"}
    assert client.get("/throttle/guarded", query_string=query, environ_base=environ).status_code == 401
    assert attempt(client, "z", user="victim", address="10.0.0.9").status_code == 401
    for response in (
        client.get("/throttle/guarded", headers=basic("victim", "right"), environ_base=environ),
        client.post("/throttle/guarded", json={"username": "victim", "password": "right"}, environ_base=environ),
        attempt(client, "right", user="victim", address="10.0.0.9"),
    ):
        assert response.status_code == 429 and "Retry-After" in response.headers


def test_a_success_resets_the_count(tmp_path):
    client = make_app(tmp_path).test_client()
    for _ in range(2):
        assert attempt(client, "wrong").status_code == 401
    assert attempt(client, "hans").status_code == 200
    for _ in range(2):
        assert attempt(client, "wrong").status_code == 401
    assert attempt(client, "hans").status_code == 200


def test_unknown_users_are_throttled_too(tmp_path):
    client = make_app(tmp_path).test_client()
    for _ in range(3):
        assert attempt(client, "x", user="ghost").status_code == 401
    assert attempt(client, "x", user="ghost").status_code == 429


def test_workers_share_the_count(tmp_path):
    first, second = make_app(tmp_path).test_client(), make_app(tmp_path).test_client()
    assert attempt(first, "wrong").status_code == 401
    assert attempt(second, "wrong").status_code == 401
    assert attempt(first, "wrong").status_code == 401
    assert attempt(second, "hans").status_code == 429
