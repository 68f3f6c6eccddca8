"""Where credentials come from: header, arguments, cookie - in that order."""

from __future__ import annotations

import base64

import pytest

from core4flask import CoreRequestHandler, create_app
from core4flask.auth.credentials import Credentials, find_credentials, is_placeholder_token, parse_authorization

SECRET = "credentials-test-secret-0123456789abcdef"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def handler_for(tmp_path):
    """Factory: a handler for a test request built like ``client.open()``."""
    app = create_app(config={"api": {"token": {"secret": SECRET}}}, instance_path=str(tmp_path))
    contexts = []

    def make(path: str = "/x", **kwargs) -> CoreRequestHandler:
        context = app.test_request_context(path, **kwargs)
        context.push()
        contexts.append(context)
        return CoreRequestHandler()

    yield make
    for context in reversed(contexts):
        context.pop()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc.def.ghi", Credentials("bearer", token="abc.def.ghi")),
        ("bearer   abc.def.ghi  ", Credentials("bearer", token="abc.def.ghi")),
        (basic("alice", "pw"), Credentials("basic", username="alice", password="pw")),
        (basic("alice", "a:b::c"), Credentials("basic", username="alice", password="a:b::c")),
        (basic("jörg", "pässword"), Credentials("basic", username="jörg", password="pässword")),
    ],
)
def test_usable_authorization_headers(header, expected):
    assert parse_authorization(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "Bearer",
        "Bearer ",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":only-password").decode(),
        "Basic " + base64.b64encode(b"only-user:").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic YWxpY2U6cHc",  # unpadded
        "Digest username=alice",
        "Negotiate abc",
    ],
)
def test_unusable_authorization_headers_are_no_credentials(header):
    assert parse_authorization(header) is None


def test_the_header_wins_over_arguments_and_cookie(handler_for):
    handler = handler_for(
        "/x?token=from-arg&username=u&password=p",
        headers={"Authorization": "Bearer from-header", "Cookie": "token=from-cookie"},
    )
    assert find_credentials(handler) == Credentials("bearer", token="from-header")


def test_token_argument_wins_over_username_and_password(handler_for):
    handler = handler_for("/x?token=from-arg&username=u&password=p", headers={"Cookie": "token=c"})
    assert find_credentials(handler) == Credentials("argument", token="from-arg")


def test_username_and_password_arguments_win_over_the_cookie(handler_for):
    handler = handler_for("/x", method="POST", json={"username": "u", "password": "p:w"}, headers={"Cookie": "token=c"})
    assert find_credentials(handler) == Credentials("argument", username="u", password="p:w")


def test_the_cookie_comes_last(handler_for):
    handler = handler_for("/x?username=only-user", headers={"Cookie": "token=from-cookie"})
    assert find_credentials(handler) == Credentials("cookie", token="from-cookie")


def test_an_unusable_header_falls_through_to_the_next_source(handler_for):
    handler = handler_for("/x?token=from-arg", headers={"Authorization": "Negotiate xyz"})
    assert find_credentials(handler) == Credentials("argument", token="from-arg")


def test_json_body_and_form_arguments_count(handler_for):
    assert find_credentials(handler_for("/x", method="POST", json={"token": "t-json"})).token == "t-json"
    form = handler_for("/x", method="POST", data={"username": "u", "password": "p"})
    assert find_credentials(form) == Credentials("argument", username="u", password="p")


def test_non_string_argument_values_are_ignored(handler_for):
    handler = handler_for("/x", method="POST", json={"token": 12, "username": ["u"], "password": {"p": 1}})
    assert find_credentials(handler) is None


def test_no_credentials_at_all(handler_for):
    assert find_credentials(handler_for("/x?other=1")) is None


@pytest.mark.parametrize("header", [None, "Bearer t"])
def test_credential_arguments_never_reach_the_handler(handler_for, header):
    headers = {"Authorization": header} if header else {}
    handler = handler_for("/x?token=t&username=u&password=p&keep=1", headers=headers)
    find_credentials(handler)
    assert set(handler.arguments) == {"keep"}
    assert handler.get_argument("password", default=None) is None
    body = handler_for("/x", method="POST", json={"password": "p", "username": "u", "keep": 2}, headers=headers)
    find_credentials(body)
    assert set(body.arguments) == {"keep"}


@pytest.mark.parametrize("value", ["", " ", "undefined", "null", "-1", " undefined "])
def test_placeholders_are_no_token(value):
    assert is_placeholder_token(value)


@pytest.mark.parametrize("value", ["abc.def.ghi", "Undefined-token", "nullx", "-12", "0", "none", "false"])
def test_anything_else_is_checked_as_a_token(value):
    assert not is_placeholder_token(value)


@pytest.mark.parametrize("header", ["Bearer undefined", "Bearer null", "Bearer -1", "bearer  undefined "])
def test_a_placeholder_bearer_is_no_credential(header):
    assert parse_authorization(header) is None


@pytest.mark.parametrize(
    ("header", "query"),
    [
        ("Bearer undefined", ""),  # the App Manager's card requests
        ("Bearer null", ""),
        ("Bearer ", ""),
        (None, "?token=-1"),  # core4's UI: avatar image and upload URLs without a token
        (None, "?token=undefined"),
        (None, "?token=null"),
        (None, "?token="),
        ("Bearer undefined", "?token=-1"),
    ],
)
def test_with_a_placeholder_the_cookie_is_used(handler_for, header, query):
    headers = {"Cookie": "token=from-cookie"}
    if header is not None:
        headers["Authorization"] = header
    handler = handler_for("/x" + query, headers=headers)
    assert find_credentials(handler) == Credentials("cookie", token="from-cookie")
    assert "token" not in handler.arguments


def test_a_placeholder_token_in_a_json_body_falls_through_to_username_and_password(handler_for):
    handler = handler_for("/x", method="POST", json={"token": "undefined", "username": "u", "password": "p"})
    assert find_credentials(handler) == Credentials("argument", username="u", password="p")


def test_a_malformed_bearer_still_decides_over_the_cookie(handler_for):
    handler = handler_for("/x", headers={"Authorization": "Bearer undefined.x", "Cookie": "token=from-cookie"})
    assert find_credentials(handler) == Credentials("bearer", token="undefined.x")
