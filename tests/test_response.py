"""Core4Response: the cheap build and send path gives what werkzeug gives."""

from __future__ import annotations

import flask
import pytest
from werkzeug.test import run_wsgi_app
from werkzeug.wrappers import Response as WerkzeugResponse

from core4flask import response as response_module
from core4flask.response import JSON_TYPE, Core4Response

CORS = (("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "GET"))


def environ(method: str = "GET") -> dict:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
    }


def sent(response: WerkzeugResponse, method: str = "GET") -> tuple[str, list[tuple[str, str]], bytes]:
    """What a WSGI server would send for ``response``."""
    app_iter, status, headers = run_wsgi_app(response, environ(method))
    return status, list(headers.to_wsgi_list()), b"".join(app_iter)


def ordinary(body: bytes, status: int, content_type: str = JSON_TYPE) -> WerkzeugResponse:
    """The same response made and sent the ordinary werkzeug way."""
    return WerkzeugResponse(body, status, content_type=content_type)


def test_the_cheap_build_is_in_use_with_this_werkzeug():
    assert response_module._FAST_BUILD is True


@pytest.mark.parametrize("status", [200, 201, 202, 400, 404, 409, 500, 503])
@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_finished_responses_send_what_werkzeug_sends(status, method):
    body = b'{"data": "hello world"}'
    assert sent(Core4Response.finished(body, status, JSON_TYPE), method) == sent(ordinary(body, status), method)


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_take_werkzeugs_path(status):
    fast = Core4Response.finished(b"", status, JSON_TYPE)
    assert sent(fast) == sent(ordinary(b"", status))
    assert sent(fast)[2] == b""


def test_text_bodies_are_encoded_as_utf8():
    fast = Core4Response.finished("grüße", 200, "text/html; charset=UTF-8")
    assert fast.get_data() == "grüße".encode()
    assert fast.headers["Content-Length"] == str(len("grüße".encode()))


def test_extra_headers_follow_the_response_headers():
    fast = Core4Response.finished(b"{}", 200, JSON_TYPE)
    fast.extra_headers = CORS
    status, headers, body = sent(fast)
    assert headers[-2:] == list(CORS)
    assert headers[:-2] == sent(ordinary(b"{}", 200))[1]
    assert fast.headers.get("Access-Control-Allow-Origin") is None  # not part of the header object


def test_changes_by_after_request_hooks_are_sent():
    fast = Core4Response.finished(b"{}", 200, JSON_TYPE)
    fast.set_data(b'{"changed": true}')
    fast.headers["X-Hook"] = "1"
    fast.extra_headers = CORS
    status, headers, body = sent(fast)
    assert body == b'{"changed": true}'
    assert ("Content-Length", "17") in headers
    assert ("X-Hook", "1") in headers
    assert headers[-2:] == list(CORS)


def test_a_location_header_is_prepared_by_werkzeug():
    fast = Core4Response.finished(b"{}", 201, JSON_TYPE)
    fast.headers["Location"] = "/ä"
    reference = ordinary(b"{}", 201)
    reference.headers["Location"] = "/ä"
    assert sent(fast) == sent(reference)
    assert ("Location", "/%C3%A4") in sent(fast)[1]


def test_close_callbacks_run():
    closed = []
    fast = Core4Response.finished(b"{}", 200, JSON_TYPE)
    fast.call_on_close(lambda: closed.append(True))
    app_iter, status, headers = run_wsgi_app(fast, environ())
    b"".join(app_iter)
    app_iter.close()
    assert closed == [True]


def test_a_changed_status_is_sent():
    fast = Core4Response.finished(b"{}", 200, JSON_TYPE)
    fast.status_code = 202
    assert sent(fast)[0] == "202 ACCEPTED"


def test_flask_keeps_the_response_and_its_hooks_see_it():
    app = flask.Flask(__name__)
    seen = []

    @app.get("/")
    def index():
        return Core4Response.finished(b'{"a": 1}', 200, JSON_TYPE)

    @app.after_request
    def hook(response):
        seen.append((type(response), response.status_code, response.get_json()))
        response.headers["X-Seen"] = "yes"
        return response

    answer = app.test_client().get("/")
    assert seen == [(Core4Response, 200, {"a": 1})]
    assert answer.headers["X-Seen"] == "yes"
    assert answer.headers["Content-Length"] == "8"
    assert answer.get_json() == {"a": 1}


def test_without_the_cheap_build_responses_are_built_the_ordinary_way(monkeypatch):
    monkeypatch.setattr(response_module, "_FAST_BUILD", False)
    built = Core4Response.finished(b"{}", 200, JSON_TYPE)
    assert built._finished_body is None
    assert sent(built) == sent(ordinary(b"{}", 200))
