"""End-to-end: error responses as a client of gunicorn (gevent workers) sees them.

Invalid statuses, payloads only the slow encoder takes, and the refreshed
token on responses that end in an error.
"""

from __future__ import annotations

import time
from typing import Any

import flask
import numpy as np
import pytest
import requests

from core4flask import CoreApiContainer, CoreRequestHandler, HTTPError, create_app
from tests import live

pytestmark = pytest.mark.e2e  # every test here talks to a real server

REFRESH = 1.0
ZERO_ID = "000000000000000000000000"


class StatusHandler(CoreRequestHandler):
    """``GET`` raises ``HTTPError(code)``, ``POST`` sets the status ``code``."""

    protected = False

    def get(self, code: str) -> Any:
        raise HTTPError(int(code), "odd status")

    def post(self, code: str) -> Any:
        self.set_status(int(code))
        return "sent with an odd status"


class PayloadHandler(CoreRequestHandler):
    """Payloads with an integer beyond 64 bit next to numpy NaNs."""

    protected = False

    def get(self, kind: str) -> Any:
        if kind == "list":
            return [10**30, np.array([np.nan])]
        return {"a": 10**30, "b": np.float32("nan"), "c": np.array([[1.5, np.inf]])}


class ErrorServer(CoreApiContainer):
    root = "/errors"
    rules = [(r"/status/(-?[0-9]+)", StatusHandler), (r"/payload/(list|dict)", PayloadHandler)]


def live_app() -> flask.Flask:
    """The application gunicorn serves (``tests.test_error_responses:live_app()``)."""
    return create_app(ErrorServer)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = live.gunicorn(
        tmp_path_factory.mktemp("errors"),
        app="tests.test_error_responses:live_app()",
        ready="/errors/payload/list",
        api__token__refresh=str(REFRESH),
    )
    yield server
    server.stop()


def assert_error_envelope(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    body = response.json()
    assert body["code"] == status and "data" not in body
    return body


@pytest.mark.parametrize("code", [1000, 0, -1, 99, 100])
def test_http_error_with_an_invalid_status(server: Any, code: int) -> None:
    body = assert_error_envelope(server.get(f"/errors/status/{code}"), 500)
    assert body["message"] == "Internal Server Error"
    assert body["error"].startswith(f"invalid HTTP status [{code}]: ")


@pytest.mark.parametrize("code", [1000, 100])
def test_set_status_with_an_invalid_status(server: Any, code: int) -> None:
    body = assert_error_envelope(server.post(f"/errors/status/{code}"), 500)
    assert f"[{code}]" in body["error"]


def test_huge_integers_next_to_numpy_nan(server: Any) -> None:
    listed = server.get("/errors/payload/list")
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"] == [10**30, [None]]
    mapped = server.get("/errors/payload/dict")
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["data"] == {"a": 10**30, "b": None, "c": [[1.5, None]]}


def test_a_due_token_refresh_survives_error_responses(server: Any) -> None:
    token = live.login(server)
    headers = {"Authorization": f"Bearer {token}"}
    profile = server.get("/core4/api/v1/profile", headers=headers)
    assert profile.status_code == 200 and "token" not in profile.headers
    time.sleep(REFRESH + 0.2)
    answers = {
        200: server.get("/core4/api/v1/profile", headers=headers),
        409: server.request(
            "PUT", "/core4/api/v1/profile", headers=headers, json={"etag": ZERO_ID, "realname": "stale"}
        ),
        400: server.get("/core4/api/v1/setting/nope", headers=headers),
        404: server.get(f"/core4/api/v1/roles/{ZERO_ID}", headers=headers),
    }
    for status, response in answers.items():
        assert response.status_code == status, response.text
        fresh = response.headers.get("token")
        assert fresh and fresh != token, status
        assert f"token={fresh};" in response.headers["Set-Cookie"], status
        assert "token" in response.headers["Access-Control-Expose-Headers"].lower(), status
    refreshed = answers[409].headers["token"]
    adopted = server.get("/core4/api/v1/profile", headers={"Authorization": f"Bearer {refreshed}"})
    assert adopted.status_code == 200 and "token" not in adopted.headers
