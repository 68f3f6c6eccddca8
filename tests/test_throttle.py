"""Failed-login throttling: per (username, address), shared by every worker."""

from __future__ import annotations

import base64
import concurrent.futures
import threading
import time
from datetime import datetime, timedelta

import pytest

from core4flask import CoreApiContainer, CoreRequestHandler, HTTPError, create_app
from core4flask.auth.throttle import LOCK_NAMESPACE, LoginThrottle
from core4flask.store import SQLiteStore
from core4flask.testing import create_user
from tests import live

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
        guard.reserve("Alice", "1.2.3.4").failed()
        guard.check("alice", "1.2.3.4")
    guard.reserve("alice", "1.2.3.4").failed()
    with pytest.raises(HTTPError) as caught:
        guard.reserve("ALICE", "1.2.3.4")
    assert caught.value.status_code == 429 and caught.value.headers == {"Retry-After": "30"}
    guard.reserve("alice", "5.6.7.8")
    guard.reserve("bob", "1.2.3.4")
    clock.now += timedelta(seconds=20)
    with pytest.raises(HTTPError) as caught:
        guard.check("alice", "1.2.3.4")
    assert caught.value.headers == {"Retry-After": "10"}
    clock.now += timedelta(seconds=11)
    guard.check("alice", "1.2.3.4")
    # the lock stood for the spent allowance: afterwards the pair starts afresh
    for _ in range(2):
        guard.reserve("alice", "1.2.3.4").failed()
    guard.reserve("alice", "1.2.3.4").succeeded()


def test_failures_outside_the_window_do_not_count(throttle):
    guard, clock = throttle
    guard.reserve("alice", "a").failed()
    guard.reserve("alice", "a").failed()
    clock.now += timedelta(seconds=61)
    guard.reserve("alice", "a").failed()
    guard.check("alice", "a")
    guard.reserve("alice", "a")


def test_success_clears_the_failures(throttle):
    guard, _ = throttle
    guard.reserve("alice", "a").failed()
    guard.reserve("alice", "a").failed()
    guard.reserve("alice", "a").succeeded()
    guard.reserve("alice", "a").failed()
    guard.reserve("alice", "a").failed()
    guard.check("alice", "a")
    guard.reserve("alice", "a")


def test_checks_still_running_use_up_the_allowance(throttle):
    guard, _ = throttle
    running = [guard.reserve("alice", "a") for _ in range(3)]
    with pytest.raises(HTTPError) as caught:
        guard.reserve("alice", "a")
    assert caught.value.status_code == 429 and caught.value.headers == {"Retry-After": "30"}
    guard.reserve("alice", "b").failed()
    running[0].failed()
    with pytest.raises(HTTPError):
        guard.check("alice", "a")
    # a check that was counted before the lock may still finish either way
    running[1].succeeded()
    running[2].failed()
    with pytest.raises(HTTPError):
        guard.reserve("alice", "a")


def test_a_lock_set_while_reserving_is_seen_and_the_reservation_withdrawn(tmp_path):
    store = SQLiteStore(str(tmp_path / "db.sqlite3"))
    guard = LoginThrottle(lambda: store, max_failures=3, window=60, backoff=30)
    key = LoginThrottle.key("alice", "a")
    reserve = store.throttle_reserve

    def lock_meanwhile(*args):
        # another worker's failure locks the pair between the first look and the reservation
        store.kv_set(LOCK_NAMESPACE, key, store.now() + timedelta(seconds=30))
        return reserve(*args)

    store.throttle_reserve = lock_meanwhile
    try:
        with pytest.raises(HTTPError) as caught:
            guard.reserve("alice", "a")
        assert caught.value.status_code == 429
        assert store.throttle_count(key, 60) == 0
    finally:
        store.close()


def test_zero_max_failures_disables_throttling(tmp_path):
    store = SQLiteStore(str(tmp_path / "db.sqlite3"))
    try:
        guard = LoginThrottle(lambda: store, max_failures=0, window=60, backoff=30)
        for _ in range(5):
            guard.reserve("alice", "a").failed()
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


# -- concurrent guesses ---------------------------------------------------------------------


def slow_verifications(monkeypatch):
    """Count password verifications and make each take a while, as argon2 does under load."""
    from core4flask.auth import authenticator

    calls = []
    verify = authenticator.verify_password

    def slow(plain, stored):
        calls.append(plain)
        time.sleep(0.2)
        return verify(plain, stored)

    monkeypatch.setattr(authenticator, "verify_password", slow)
    return calls


def test_concurrent_guesses_are_verified_at_most_max_failures_times(tmp_path, monkeypatch):
    app = make_app(tmp_path)
    attempt(app.test_client(), "hans", address="10.0.0.2")  # start-up work out of the race
    calls = slow_verifications(monkeypatch)
    barrier = threading.Barrier(12)

    def guess(n):
        client = app.test_client()
        barrier.wait(10)
        return attempt(client, f"bad{n}").status_code

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(guess, range(12), timeout=60))
    assert sorted(statuses) == [401] * 3 + [429] * 9
    assert len(calls) == 3
    assert attempt(app.test_client(), "hans").status_code == 429
    assert len(calls) == 3


@pytest.mark.e2e
def test_concurrent_guesses_over_http_share_one_allowance(tmp_path):
    server = live.gunicorn(tmp_path, ready="/test-server/public")
    try:
        params = [{"username": "admin", "password": f"bad{n}"} for n in range(20)]
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(lambda p: server.get(LOGIN, params=p, timeout=30), params, timeout=120))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [401] * 10 + [429] * 10, statuses
        assert all(int(r.headers["Retry-After"]) >= 1 for r in responses if r.status_code == 429)
        right = server.get(LOGIN, params={"username": "admin", "password": live.ADMIN_PASSWORD})
        assert right.status_code == 429 and "Retry-After" in right.headers
    finally:
        server.stop()
