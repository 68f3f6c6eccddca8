"""Exceptions becoming responses: envelope, HTML page, text page."""

from __future__ import annotations

import logging

import pytest
from werkzeug.exceptions import NotFound

from core4flask import CoreApiContainer, CoreRequestHandler, HTTPError
from core4flask.errors import (
    ArgumentParsingError,
    MissingArgumentError,
    PlainHTTPError,
    Redirect,
    error_text,
    status_of,
)
from core4flask.store.base import StoreUnavailable
from tests.fixtures import make_client

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class ErrorTestHandler(CoreRequestHandler):
    protected = False

    def get(self):
        raise HTTPError(409, "this is the ErrorTestHandler")

    post = get


class CrashHandler(CoreRequestHandler):
    protected = False

    def get(self):
        raise ValueError("boom")


class FlashErrorHandler(CoreRequestHandler):
    protected = False

    def get(self):
        self.flash_debug("first %s", "message")
        self.flash_warning({"k": 1})
        self.flash_error("last")
        raise HTTPError(400)


class HeaderErrorHandler(CoreRequestHandler):
    protected = False

    def get(self):
        raise HTTPError(429, "slow down", headers={"Retry-After": "60"})


class StoreDownHandler(CoreRequestHandler):
    protected = False

    def get(self):
        raise StoreUnavailable("connection refused")


class MarkupErrorHandler(CoreRequestHandler):
    protected = False

    def get(self):
        raise HTTPError(400, "<script>alert(1)</script>")


class RedirectingHandler(CoreRequestHandler):
    protected = False

    def get(self):
        raise Redirect("/elsewhere", 307)


class BadStatusHandler(CoreRequestHandler):
    protected = False

    def get(self, code):
        raise HTTPError(int(code), "odd")

    def post(self, code):
        self.set_status(int(code))
        return "never sent with this status"


class HeadersThenErrorHandler(CoreRequestHandler):
    """Sets what the authenticator sets on a refresh (and more), then fails."""

    protected = False

    def get(self):
        self.set_header("token", "fresh-token")
        self.add_header("Set-Cookie", "token=fresh-token; Path=/")
        self.add_header("Set-Cookie", "other=1; Path=/")
        self.set_header("X-Half-Done", "1")
        raise HTTPError(409, "after the headers")


class PlainErrorHandler(CoreRequestHandler):
    protected = False

    def get(self):
        raise PlainHTTPError(400, "Invalid resource name")


class ErrorContainer(CoreApiContainer):
    root = "/err"
    rules = [
        ("/conflict", ErrorTestHandler),
        ("/crash", CrashHandler),
        ("/flash", FlashErrorHandler),
        ("/headers", HeaderErrorHandler),
        ("/store", StoreDownHandler),
        ("/markup", MarkupErrorHandler),
        ("/redirect", RedirectingHandler),
        ("/status/(-?[0-9]+)", BadStatusHandler),
        ("/half-done", HeadersThenErrorHandler),
        ("/plain", PlainErrorHandler),
    ]


@pytest.fixture
def client(tmp_path):
    return make_client(tmp_path, ErrorContainer)


@pytest.fixture
def debug_client(tmp_path):
    return make_client(tmp_path, ErrorContainer, config={"api": {"setting": {"debug": True}}})


# -- pure parts ----------------------------------------------------------------------------


def test_http_error_text():
    assert str(HTTPError(409, "this is the ErrorTestHandler")) == "HTTP 409: Conflict (this is the ErrorTestHandler)"
    assert str(HTTPError(404)) == "HTTP 404: Not Found"
    assert str(HTTPError(400, "value %s of %d", "x", 2)) == "HTTP 400: Bad Request (value x of 2)"


def test_http_error_attributes():
    error = HTTPError(429, "later", headers={"Retry-After": "5"})
    assert error.status_code == 429
    assert error.message == "later"
    assert error.headers == {"Retry-After": "5"}
    assert HTTPError().status_code == 500


def test_argument_errors_are_400s():
    assert isinstance(MissingArgumentError("a"), HTTPError)
    assert str(MissingArgumentError("a")) == "HTTP 400: Bad Request (Missing argument a)"
    assert str(ArgumentParsingError("parameter [a] expected as_type [int]")).endswith(
        "(parameter [a] expected as_type [int])"
    )


def test_error_text_names_the_exception_class():
    assert error_text(HTTPError(409, "x"), debug=False) == "core4flask.errors.HTTPError: HTTP 409: Conflict (x)"
    assert error_text(ValueError("boom"), debug=False) == "ValueError: boom"
    assert error_text(KeyError(), debug=False) == "KeyError"


def test_error_text_with_debug_appends_the_traceback():
    try:
        raise ValueError("boom")
    except ValueError as exc:
        text = error_text(exc, debug=True)
    assert text.startswith("ValueError: boom\n")
    assert "Traceback (most recent call last)" in text
    assert "test_error_text_with_debug_appends_the_traceback" in text


def test_status_of():
    assert status_of(HTTPError(418)) == 418
    assert status_of(NotFound()) == 404
    assert status_of(StoreUnavailable("down")) == 503
    assert status_of(RuntimeError()) == 500


# -- through handlers -----------------------------------------------------------------------


def test_http_error_envelope(client):
    response = client.get("/err/conflict")
    assert response.status_code == 409
    assert response.content_type == "application/json; charset=UTF-8"
    body = response.json
    assert set(body) == {"_id", "code", "message", "timestamp", "error"}
    assert body["code"] == 409
    assert body["message"] == "Conflict"
    assert "HTTP 409: Conflict (this is the ErrorTestHandler)" in body["error"]
    assert "Traceback" not in body["error"]
    assert len(body["_id"]) == 24


def test_traceback_only_with_debug(debug_client):
    body = debug_client.get("/err/conflict").json
    assert "HTTP 409: Conflict (this is the ErrorTestHandler)" in body["error"]
    assert "Traceback (most recent call last)" in body["error"]
    assert "ErrorTestHandler" in body["error"]


def test_unexpected_exception_is_a_500(client, caplog):
    with caplog.at_level(logging.ERROR, logger="core4flask"):
        response = client.get("/err/crash")
    assert response.status_code == 500
    assert response.json["message"] == "Internal Server Error"
    assert response.json["error"] == "ValueError: boom"
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)


def test_unexpected_exception_with_debug(debug_client):
    error = debug_client.get("/err/crash").json["error"]
    assert error.startswith("ValueError: boom")
    assert 'raise ValueError("boom")' in error


def test_flash_in_error_envelope_in_call_order(client):
    body = client.get("/err/flash").json
    assert body["code"] == 400
    assert body["flash"] == [
        {"level": "DEBUG", "message": "first message"},
        {"level": "WARNING", "data": {"k": 1}},
        {"level": "ERROR", "message": "last"},
    ]


def test_error_headers_are_sent(client):
    response = client.get("/err/headers")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "60"
    assert response.json["message"] == "Too Many Requests"


def test_store_unavailable_is_a_503(client):
    response = client.get("/err/store")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json["message"] == "Service Unavailable"
    assert "connection refused" not in response.json["error"]


def test_redirect_exception(client):
    response = client.get("/err/redirect")
    assert response.status_code == 307
    assert response.headers["Location"] == "/elsewhere"


def test_html_error_page_for_browsers(client):
    response = client.get("/err/conflict", headers={"Accept": BROWSER})
    assert response.status_code == 409
    assert response.content_type == "text/html; charset=UTF-8"
    page = response.get_data(as_text=True)
    assert "<title>409: Conflict</title>" in page
    assert "<h1>409: Conflict</h1>" in page
    assert "HTTP 409: Conflict (this is the ErrorTestHandler)" in page
    assert "request_id " in page


def test_html_error_page_escapes_the_error(client):
    page = client.get("/err/markup", headers={"Accept": BROWSER}).get_data(as_text=True)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_html_error_page_by_content_type_argument(client):
    response = client.get("/err/conflict?content_type=html")
    assert response.content_type == "text/html; charset=UTF-8"
    assert response.status_code == 409


@pytest.mark.parametrize("accept", ["text/plain", "text/csv"])
def test_text_error_page(client, accept):
    response = client.get("/err/conflict", headers={"Accept": accept})
    assert response.status_code == 409
    assert response.content_type == "text/plain; charset=UTF-8"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "409: Conflict"
    assert lines[1] == "-" * 79
    assert "HTTP 409: Conflict (this is the ErrorTestHandler)" in lines[2]
    assert lines[-1].startswith("request_id ")


def test_json_error_for_malformed_accept(client):
    response = client.get("/err/conflict", headers={"Accept": "garbage"})
    assert response.status_code == 409
    assert response.json["code"] == 409


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
@pytest.mark.parametrize("path", ["/err/unknown", "/err/conflict/deeper", "/nowhere/at/all"])
def test_unknown_paths_are_404_for_any_method(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code == 404
    if method != "HEAD":
        body = response.json
        assert body["code"] == 404
        assert body["message"] == "Not Found"
        assert body["error"]
        assert "data" not in body


def test_unknown_path_for_browsers_and_text_clients(client):
    html = client.get("/err/unknown", headers={"Accept": BROWSER})
    assert html.status_code == 404
    assert "<h1>404: Not Found</h1>" in html.get_data(as_text=True)
    text = client.get("/nowhere", headers={"Accept": "text/plain"})
    assert text.status_code == 404
    assert text.get_data(as_text=True).startswith("404: Not Found\n")


def test_unknown_method_is_a_405_with_allow(client):
    response = client.open("/err/conflict", method="PROPFIND")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.json["message"] == "Method Not Allowed"


# -- invalid status codes --------------------------------------------------------------------

INVALID_STATUSES = [1000, 0, -1, 99, 100, 101, 600]


@pytest.mark.parametrize("code", INVALID_STATUSES)
def test_http_error_with_an_invalid_status_is_a_500_envelope(client, caplog, code):
    with caplog.at_level(logging.ERROR, logger="core4flask"):
        response = client.get(f"/err/status/{code}")
    assert response.status_code == 500
    assert response.content_type == "application/json; charset=UTF-8"
    body = response.json
    assert (body["code"], body["message"]) == (500, "Internal Server Error")
    assert body["error"].startswith(f"invalid HTTP status [{code}]: ")
    assert "(odd)" in body["error"]
    assert any(r.exc_info and isinstance(r.exc_info[1], HTTPError) for r in caplog.records)


def test_invalid_status_page_for_browsers(client):
    response = client.get("/err/status/1000", headers={"Accept": BROWSER})
    assert response.status_code == 500
    assert "<h1>500: Internal Server Error</h1>" in response.get_data(as_text=True)
    assert "invalid HTTP status [1000]" in response.get_data(as_text=True)


@pytest.mark.parametrize("code", [200, 201, 301, 418, 599])
def test_valid_statuses_are_kept(client, code):
    assert client.get(f"/err/status/{code}").status_code == code


@pytest.mark.parametrize("code", [1000, 100])
def test_set_status_with_an_invalid_status_is_a_500_envelope(client, code):
    response = client.post(f"/err/status/{code}")
    assert response.status_code == 500
    assert f"[{code}]" in response.json["error"]


# -- error negotiation reads every argument source -------------------------------------------


def test_html_error_page_by_content_type_in_the_json_body(client):
    response = client.post("/err/conflict", json={"content_type": "html"})
    assert response.status_code == 409
    assert response.content_type == "text/html; charset=UTF-8"
    assert "<h1>409: Conflict</h1>" in response.get_data(as_text=True)


def test_text_error_page_by_content_type_in_a_form(client):
    response = client.post("/err/conflict", data={"content_type": "text"})
    assert response.status_code == 409
    assert response.get_data(as_text=True).startswith("409: Conflict\n")


def test_body_wins_over_query_for_the_error_type(client):
    response = client.post("/err/conflict?content_type=text", json={"content_type": "html"})
    assert response.content_type == "text/html; charset=UTF-8"


def test_content_type_in_the_body_of_an_unknown_path(client):
    response = client.post("/err/unknown", json={"content_type": "html"})
    assert response.status_code == 404
    assert "<h1>404: Not Found</h1>" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b'{"content_type": "html"', "application/json"),
        (b'["content_type", "html"]', "application/json"),
        (b'{"content_type": ["html"]}', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"content_type=%ZZ&=&&", "application/x-www-form-urlencoded"),
    ],
)
@pytest.mark.parametrize("path", ["/err/conflict", "/err/unknown"])
def test_broken_bodies_give_the_json_error(client, path, data, content_type):
    response = client.post(path, data=data, content_type=content_type)
    assert response.status_code in (404, 409)
    assert response.json["code"] == response.status_code


# -- headers the handler set before it failed ------------------------------------------------


def test_error_keeps_the_token_and_cookies_the_handler_set(client):
    response = client.get("/err/half-done")
    assert response.status_code == 409
    assert response.json["code"] == 409
    assert response.headers["token"] == "fresh-token"
    assert response.headers.getlist("Set-Cookie") == ["token=fresh-token; Path=/", "other=1; Path=/"]
    assert "X-Half-Done" not in response.headers


def test_error_pages_keep_the_token_too(client):
    response = client.get("/err/half-done", headers={"Accept": BROWSER})
    assert response.content_type == "text/html; charset=UTF-8"
    assert response.headers["token"] == "fresh-token"


# -- errors whose text is the message alone --------------------------------------------------


def test_plain_http_error_sends_its_message_as_the_error(client, debug_client):
    for each in (client, debug_client):
        body = each.get("/err/plain").json
        assert (body["code"], body["message"], body["error"]) == (400, "Bad Request", "Invalid resource name")
    assert str(PlainHTTPError(400, "x")) == "HTTP 400: Bad Request (x)"
    assert client.get("/err/conflict").json["error"] == (
        "core4flask.errors.HTTPError: HTTP 409: Conflict (this is the ErrorTestHandler)"
    )


def test_failures_reach_flasks_got_request_exception_receivers(client):
    """Error trackers hooked to Flask's signal see what core4flask answers itself."""
    import flask

    seen: list[BaseException] = []

    def receiver(sender, exception, **_):
        seen.append(exception)

    flask.got_request_exception.connect(receiver, client.application)
    try:
        assert client.get("/err/crash").status_code == 500
        assert client.get("/err/conflict").status_code == 409
        assert client.get("/err/store").status_code == 503
    finally:
        flask.got_request_exception.disconnect(receiver, client.application)
    assert [type(exception) for exception in seen] == [ValueError]
