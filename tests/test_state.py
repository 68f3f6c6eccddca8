"""``request.core4_state``: the request's public state, as errors and the access log read it."""

from __future__ import annotations

import re
import types

import flask

from core4flask import CoreApiContainer, CoreRequestHandler, HTTPError
from core4flask.errors import content_type_argument, kept_headers
from core4flask.state import STATE_ATTRIBUTE, RequestState, state_of
from tests.fixtures import make_client


def test_a_new_state_has_an_object_id_and_nothing_set():
    state = RequestState(started_at=1_700_000_000.5)
    assert re.fullmatch(r"[0-9a-f]{24}", state.identifier)
    assert state.identifier.startswith(f"{1_700_000_000:08x}")
    assert state.started.isoformat() == "2023-11-14T22:13:20.500000"
    assert (state.flash, state.current_user, state.headers, state.arguments) == ([], None, None, None)


def test_state_of_makes_one_state_per_request():
    request = types.SimpleNamespace()
    first = state_of(request)
    assert getattr(request, STATE_ATTRIBUTE) is first
    assert state_of(request) is first


def test_an_error_keeps_only_the_token_and_cookies():
    state = RequestState()
    state.headers = [("X-Mine", "1"), ("token", "t"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")]
    assert kept_headers(state) == [("token", "t"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")]


def test_the_content_type_argument_comes_from_the_arguments_read():
    state = RequestState()
    state.arguments = {"content_type": ["csv", "html"]}
    assert content_type_argument(state) == "html"
    state.arguments = {"content_type": [{"not": "text"}]}
    assert content_type_argument(state) is None


class StateHandler(CoreRequestHandler):
    protected = False

    def get(self):
        state = flask.request.core4_state
        self.flash_info("seen")
        self.set_header("token", "fresh")
        self.set_header("X-Dropped", "1")
        assert state is self.state and state.identifier == self.identifier
        assert state.flash == [{"level": "INFO", "message": "seen"}]
        raise HTTPError(409, "conflict")


class StateServer(CoreApiContainer):
    root = "/state"
    rules = [(r"/fail", StateHandler)]


def test_an_error_answers_from_the_handlers_state(tmp_path):
    client = make_client(tmp_path, StateServer)
    response = client.get("/state/fail?content_type=text")
    assert response.status_code == 409
    assert response.mimetype == "text/plain"
    assert response.headers["token"] == "fresh" and "X-Dropped" not in response.headers
    envelope = client.get("/state/fail").json
    assert envelope["flash"] == [{"level": "INFO", "message": "seen"}]
