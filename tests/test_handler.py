"""``CoreRequestHandler`` over the Flask test client (unprotected handlers)."""

from __future__ import annotations

import asyncio
import datetime
import re
import threading

import flask
import pytest

from core4flask import CoreApiContainer, CoreRequestHandler, CoreTenantHandler, HTTPError
from core4flask._async import Done, run_async_method
from core4flask.container import resource_id
from demo.seed import ErrorTestHandler, FlashHandler, MyHandler
from tests.fixtures import make_app, make_client

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class GetOnly(CoreRequestHandler):
    protected = False

    def get(self):
        return {"method": self.request.method}


class PostOnly(CoreRequestHandler):
    protected = False

    def post(self):
        return "posted"


class Protected(CoreRequestHandler):
    def get(self):
        return "secret"


class ReturnHandler(CoreRequestHandler):
    """Returns what the ``kind`` argument names."""

    protected = False

    def get(self):
        kind = self.get_argument("kind")
        values = {
            "str": "hello world",
            "dict": {"a": 1, "when": datetime.datetime(2020, 1, 2, 3, 4, 5)},
            "list": [1, "two", None],
            "int": 42,
            "nan": float("nan"),
            "none": None,
            "tuple": ("x", 201),
            "response": flask.Response("raw body", 202, mimetype="text/plain"),
        }
        return values[kind]


class StatusHandler(CoreRequestHandler):
    protected = False

    def get(self):
        self.set_status(201)
        self.set_header("X-Custom", "one")
        self.set_header("X-Custom", "two")
        self.set_header("X-Number", 5)
        self.add_header("Set-Cookie", "a=1; Path=/")
        self.add_header("Set-Cookie", "b=2; Path=/")
        self.reply({"status": self.get_status()})

    def post(self):
        self.set_status(204)

    def delete(self):
        self.set_header("X-Gone", "yes")
        self.clear_header("X-Gone")
        self.set_status(418)
        self.reply("teapot")


class WriteHandler(CoreRequestHandler):
    protected = False

    def get(self):
        self.write("a")
        self.write(b"b")
        self.write("ü")

    def post(self):
        self.write({"x": 1})
        self.finish()

    def put(self):
        self.set_header("Content-Type", "text/plain")
        self.finish("done")


class RedirectHandler(CoreRequestHandler):
    protected = False

    def get(self):
        self.redirect("/elsewhere?x=1")

    def post(self):
        return self.redirect("/moved", permanent=True)

    def put(self):
        self.redirect("/see-other", status=303)


class FlashAllHandler(CoreRequestHandler):
    protected = False

    def get(self):
        self.flash_debug("first")
        self.flash_info("%s and %d", "second", 2)
        self.flash_warning({"k": [1]})
        self.flash_error("100% done")
        return "ok"

    def post(self):
        self.flash("notice", "x")


class IdentityHandler(CoreRequestHandler):
    protected = False

    def get(self):
        return {
            "identifier": self.identifier,
            "started": self.started,
            "user": self.user,
            "current_user": self.current_user,
            "token_exp": self.token_exp,
            "qual_name": self.qual_name(),
            "port": self.config.api.port,
            "class_config": self.class_config,
            "path": self.request.path,
            "wants": self.wanted_type(),
            "wants_html": self.wants_html(),
        }


class PrepareHandler(CoreRequestHandler):
    protected = False
    calls: list[str] = []  # noqa: RUF012

    def prepare(self):
        if self.get_argument("stop", default=None) == "return":
            return {"from": "prepare"}
        if self.get_argument("stop", default=None) == "reply":
            self.reply("replied in prepare")
        return None

    def get(self):
        return {"from": "get"}


class AsyncHandler(CoreRequestHandler):
    protected = False

    async def get(self):
        # no await at all: the coroutine runs straight through
        self.reply({"sync": True})

    async def post(self):
        order = []

        async def meanwhile():
            order.append("meanwhile")

        task = asyncio.ensure_future(meanwhile())
        order.append("before")
        await asyncio.sleep(0.01)
        order.append("after")
        await asyncio.gather(task, asyncio.sleep(0))
        return {"order": order, "args": self.get_argument("a", default=None)}

    async def put(self):
        await asyncio.sleep(0)
        raise HTTPError(409, "async conflict")

    async def delete(self):
        self.flash_info("before")
        await asyncio.sleep(0)
        self.set_status(202)
        return "accepted"


class TenantNamed(CoreTenantHandler):
    protected = False

    def get(self, _id):
        return {"_id": _id, "client": self.client}


class TenantUnnamed(CoreTenantHandler):
    protected = False

    async def get(self, *args):
        return {"args": list(args), "client": self.client}


class HandlerContainer(CoreApiContainer):
    root = "/h"
    rules = [
        (r"/get", GetOnly),
        (r"/post", PostOnly),
        (r"/protected", Protected),
        (r"/return", ReturnHandler),
        (r"/status", StatusHandler),
        (r"/write", WriteHandler),
        (r"/redirect", RedirectHandler),
        (r"/flash", FlashAllHandler),
        (r"/seedflash", FlashHandler, {"protected": False}),
        (r"/seederror", ErrorTestHandler, {"protected": False}),
        (r"/identity", IdentityHandler),
        (r"/prepare", PrepareHandler),
        (r"/async", AsyncHandler),
        (r"/tenant/(?P<client>.+)/(?P<_id>.*)", TenantNamed),
        (r"/unnamed/(.+)/(.*)", TenantUnnamed),
        (r"/seedtenant/(?P<client>.+)/(?P<_id>.*)", MyHandler, {"protected": False}),
    ]


@pytest.fixture
def client(tmp_path):
    return make_client(tmp_path, HandlerContainer)


# -- methods, OPTIONS, HEAD, CORS ------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_undefined_method_is_405_with_allow(client, method):
    response = client.open("/h/get", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    body = response.json
    assert body["code"] == 405
    assert body["message"] == "Method Not Allowed"
    assert "HTTP 405: Method Not Allowed" in body["error"]


def test_head_without_get_is_405(client):
    response = client.head("/h/post")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, OPTIONS"
    assert client.get("/h/post").status_code == 405


def test_options_answers_200_without_body(client):
    for path in ("/h/get", "/h/post", "/h/protected"):
        response = client.options(path)
        assert response.status_code == 200
        assert response.get_data() == b""
        assert response.headers["Access-Control-Allow-Origin"] == "*"


class OwnOptions(CoreRequestHandler):
    """Answers the preflight itself (as a Tornado handler could)."""

    def options(self):
        self.set_header("Access-Control-Max-Age", "600")
        self.set_status(204)


class OptionsContainer(CoreApiContainer):
    root = "/opt"
    rules = [(r"/own", OwnOptions)]


def test_a_handlers_own_options_answers_the_preflight_without_credentials(tmp_path):
    response = make_client(tmp_path, OptionsContainer).options("/opt/own")
    assert response.status_code == 204
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_cors_headers_on_every_response(client):
    for response in (client.get("/h/get"), client.post("/h/get"), client.get("/h/nothere"), client.get("/nowhere")):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Access-Control-Allow-Headers"] == (
            "access-control-allow-origin,authorization,content-type"
        )
        methods = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
        assert {"GET", "POST", "PUT", "DELETE", "OPTIONS"} <= methods


def test_allow_origin_from_config(tmp_path):
    client = make_client(tmp_path, HandlerContainer, config={"api": {"allow_origin": "https://apps.example.com"}})
    assert client.options("/h/get").headers["Access-Control-Allow-Origin"] == "https://apps.example.com"
    assert client.get("/h/get").headers["Access-Control-Allow-Origin"] == "https://apps.example.com"
    assert client.get("/nowhere").headers["Access-Control-Allow-Origin"] == "https://apps.example.com"


def test_head_is_like_get_without_body(client):
    get = client.get("/h/return?kind=dict")
    head = client.head("/h/return?kind=dict")
    assert head.status_code == 200
    assert head.get_data() == b""
    assert head.content_type == get.content_type
    assert int(head.headers["Content-Length"]) == len(get.get_data())


def test_head_of_an_error_has_no_body(client):
    head = client.head("/h/seederror")
    assert head.status_code == 409
    assert head.get_data() == b""


def test_unauthenticated_protected_handler(client):
    response = client.get("/h/protected")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert "data" not in response.json
    assert client.head("/h/protected").status_code == 401
    assert client.post("/h/protected").status_code == 401
    browser = client.get("/h/protected?a=1", headers={"Accept": BROWSER})
    assert browser.status_code == 302
    assert browser.headers["Location"].startswith("/core4/api/v1/login?next=")
    assert "/h/protected" in browser.headers["Location"]
    form = client.post("/h/protected", data={"a": "1"}, headers={"Accept": BROWSER})
    assert form.status_code == 302
    assert form.headers["Location"] == "/core4/api/v1/login?next=/h/protected"
    assert client.head("/h/protected", headers={"Accept": BROWSER}).status_code == 401


# -- replies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("str", "hello world"),
        ("dict", {"a": 1, "when": "2020-01-02T03:04:05"}),
        ("list", [1, "two", None]),
        ("int", 42),
        ("nan", None),
        ("tuple", ["x", 201]),
    ],
)
def test_returned_values_are_replied(client, kind, expected):
    response = client.get("/h/return", query_string={"kind": kind})
    assert response.status_code == 200
    assert response.content_type == "application/json; charset=UTF-8"
    body = response.json
    assert body["data"] == expected
    assert list(body) == ["_id", "code", "message", "timestamp", "data"]


def test_returned_response_is_passed_through(client):
    response = client.get("/h/return?kind=response")
    assert response.status_code == 202
    assert response.get_data(as_text=True) == "raw body"
    assert response.mimetype == "text/plain"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_returning_none_without_a_reply_is_an_empty_200(client):
    response = client.get("/h/return?kind=none")
    assert response.status_code == 200
    assert response.get_data() == b""


def test_set_status_and_headers(client):
    response = client.get("/h/status")
    assert response.status_code == 201
    assert response.json["code"] == 201
    assert response.json["message"] == "Created"
    assert response.json["data"] == {"status": 201}
    assert response.headers.getlist("X-Custom") == ["two"]
    assert response.headers["X-Number"] == "5"
    assert response.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_status_without_body(client):
    response = client.post("/h/status")
    assert response.status_code == 204
    assert response.get_data() == b""


def test_error_status_via_set_status_keeps_data(client):
    response = client.delete("/h/status")
    assert response.status_code == 418
    assert response.json["message"] == "I'm a Teapot"
    assert response.json["data"] == "teapot"
    assert "X-Gone" not in response.headers


def test_write_collects_chunks(client):
    response = client.get("/h/write")
    assert response.get_data(as_text=True) == "abü"
    assert response.content_type == "text/html; charset=UTF-8"


def test_write_dict_is_json(client):
    response = client.post("/h/write")
    assert response.json == {"x": 1}
    assert response.mimetype == "application/json"


def test_finish_with_a_chunk_and_explicit_content_type(client):
    response = client.put("/h/write")
    assert response.get_data(as_text=True) == "done"
    assert response.mimetype == "text/plain"


def test_redirects(client):
    response = client.get("/h/redirect")
    assert response.status_code == 302
    assert response.headers["Location"] == "/elsewhere?x=1"
    assert client.post("/h/redirect").status_code == 301
    assert client.post("/h/redirect").headers["Location"] == "/moved"
    assert client.put("/h/redirect").status_code == 303


def test_flash_messages_in_call_order(client):
    body = client.get("/h/flash").json
    assert body["data"] == "ok"
    assert body["flash"] == [
        {"level": "DEBUG", "message": "first"},
        {"level": "INFO", "message": "second and 2"},
        {"level": "WARNING", "data": {"k": [1]}},
        {"level": "ERROR", "message": "100% done"},
    ]


def test_seed_flash_example(client):
    body = client.get("/h/seedflash").json
    assert body["data"] == "OK"
    assert body["flash"] == [
        {"level": "DEBUG", "message": "first flash message"},
        {"level": "DEBUG", "message": "another flash message"},
    ]


def test_unknown_flash_level_is_a_500(client):
    response = client.post("/h/flash")
    assert response.status_code == 500
    assert "NOTICE" in response.json["error"]


def test_seed_error_example(client):
    body = client.get("/h/seederror").json
    assert body["code"] == 409
    assert body["message"] == "Conflict"
    assert "HTTP 409: Conflict (this is the ErrorTestHandler)" in body["error"]
    assert "data" not in body


def test_identity_attributes(client):
    before = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    body = client.get("/h/identity").json
    data = body["data"]
    assert re.fullmatch(r"[0-9a-f]{24}", data["identifier"])
    assert data["identifier"] == body["_id"]
    started = datetime.datetime.fromisoformat(data["started"])
    assert started.tzinfo is None
    assert abs((started - before).total_seconds()) < 5
    assert data["started"] == body["timestamp"]  # the envelope's time is the request's start
    assert data["user"] is None
    assert data["current_user"] is None
    assert data["token_exp"] is None
    assert data["qual_name"] == "test_handler.IdentityHandler"
    assert data["port"] == 5001
    assert data["class_config"] == {}
    assert data["path"] == "/h/identity"
    assert (data["wants"], data["wants_html"]) == ("json", False)
    assert client.get("/h/identity", headers={"Accept": BROWSER}).json["data"]["wants_html"] is True
    assert client.get("/h/identity?content_type=csv", headers={"Accept": BROWSER}).json["data"]["wants"] == "csv"


def test_request_ids_differ(client):
    assert client.get("/h/get").json["_id"] != client.get("/h/get").json["_id"]


def test_prepare_hook(client):
    assert client.get("/h/prepare").json["data"] == {"from": "get"}
    assert client.get("/h/prepare?stop=return").json["data"] == {"from": "prepare"}
    assert client.get("/h/prepare?stop=reply").json["data"] == "replied in prepare"


def test_help_query_redirects_to_the_help_page(client):
    rsc_id = resource_id("test_handler.GetOnly", {})
    for query in ("_help", "_help=1", "a=1&_help"):
        response = client.get("/h/get?" + query)
        assert response.status_code == 302
        assert response.headers["Location"] == f"/h/_info/help/{rsc_id}"


def test_handler_as_plain_flask_view(tmp_path):
    app = make_app(tmp_path, HandlerContainer)
    app.add_url_rule("/plain", view_func=GetOnly.as_view("plain"))
    response = app.test_client().get("/plain")
    assert response.json["data"] == {"method": "GET"}


# -- async handlers ---------------------------------------------------------------------------------


def test_async_method_without_await(client):
    assert client.get("/h/async").json["data"] == {"sync": True}


def test_async_method_that_really_awaits(client):
    body = client.post("/h/async?a=7").json
    # the await handed the loop to the other task before the method went on
    assert body["data"]["order"] == ["before", "meanwhile", "after"]
    assert body["data"]["args"] == "7"


def test_async_method_errors_and_state(client):
    conflict = client.put("/h/async")
    assert conflict.status_code == 409
    assert "async conflict" in conflict.json["error"]
    accepted = client.delete("/h/async")
    assert accepted.status_code == 202
    assert accepted.json["data"] == "accepted"
    assert accepted.json["flash"] == [{"level": "INFO", "message": "before"}]


class MeetingHandler(CoreRequestHandler):
    """Its coroutines wait until every caller's coroutine is in here at once."""

    protected = False
    meeting: threading.Barrier | None = None

    async def post(self):
        await asyncio.sleep(0)
        type(self).meeting.wait(timeout=10)
        return "met"


class MeetingContainer(CoreApiContainer):
    root = "/meet"
    rules = [(r"/all", MeetingHandler)]


def test_async_methods_in_parallel_threads(tmp_path, monkeypatch):
    """Each thread runs its own loop: the four coroutines are inside the
    method at the same time (a barrier they all pass), none waits for another."""
    app = make_app(tmp_path / "threads", MeetingContainer)
    monkeypatch.setattr(MeetingHandler, "meeting", threading.Barrier(4))
    results: list[int] = []

    def call():
        results.append(app.test_client().post("/meet/all").status_code)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    assert results == [200] * 4


def test_run_async_method_inside_a_running_loop():
    async def work(x):
        await asyncio.sleep(0)
        return x * 2

    async def outer():
        return run_async_method(work, 21)

    assert run_async_method(work, 1) == 2
    assert asyncio.run(outer()) == 42


def test_done_is_awaitable_and_optional():
    async def use():
        return await Done(5)

    assert asyncio.run(use()) == 5
    assert Done().value is None


# -- tenants ---------------------------------------------------------------------------------------------


def test_tenant_client_from_named_group(client):
    body = client.get("/h/tenant/lufthansa/0815").json
    assert body["data"] == {"_id": "0815", "client": "lufthansa"}


def test_tenant_client_from_first_unnamed_group(client):
    body = client.get("/h/unnamed/lufthansa/0815").json
    assert body["data"] == {"args": ["0815"], "client": "lufthansa"}


def test_seed_tenant_example(client):
    body = client.get("/h/seedtenant/M%C3%BCnchen/0815").json
    assert body["data"] == {"_id": "0815", "client": "München"}


def test_request_ids_carry_the_start_second_and_count_up():
    from core4flask.handler import new_identifier

    first, second = new_identifier(1541487446.66), new_identifier(1541487446.9)
    assert first[:8] == second[:8] == f"{1541487446:08x}"
    assert first[8:18] == second[8:18]  # the process part
    assert (int(second[18:], 16) - int(first[18:], 16)) % (1 << 24) == 1
    assert new_identifier(1541487447.0)[:8] == f"{1541487447:08x}"
    assert len(new_identifier()) == 24


# -- memory ---------------------------------------------------------------------------------------------


class RememberedHandler(CoreRequestHandler):
    """Keeps a weak reference to every instance it makes."""

    protected = False
    instances: list = []  # noqa: RUF012 - the test reads it

    def get(self):
        import weakref

        type(self).instances.append(weakref.ref(self))
        self.reply("remembered")


class MemoryContainer(CoreApiContainer):
    root = "/memory"
    rules = [(r"/remembered", RememberedHandler)]


def test_a_finished_request_frees_its_handler_without_the_cycle_collector(tmp_path):
    """Handler and request must not keep each other alive: garbage left for
    the cycle collector made every request of a busy worker slower."""
    import gc
    import io

    app = make_app(tmp_path, MemoryContainer)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/memory/remembered",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5001",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
    }
    statuses = []
    RememberedHandler.instances.clear()
    gc.disable()
    try:
        body = b"".join(app.wsgi_app(environ, lambda status, headers, exc=None: statuses.append(status)))
        assert statuses == ["200 OK"] and b'"remembered"' in body
        assert len(RememberedHandler.instances) == 1
        assert RememberedHandler.instances[0]() is None
    finally:
        gc.enable()


class LengthHandler(CoreRequestHandler):
    """Answers the length of its ``text`` argument."""

    protected = False

    def post(self):
        self.reply(len(self.get_argument("text")))


class BodyContainer(CoreApiContainer):
    root = "/body"
    rules = [(r"/length", LengthHandler)]


def test_form_fields_larger_than_werkzeugs_default_arrive(tmp_path):
    """werkzeug keeps form fields to 500 kB; core4 takes bodies up to 100 MB."""
    client = make_client(tmp_path, BodyContainer)
    text = "x" * 600_000
    response = client.post("/body/length?text=query", data={"text": text})
    assert response.status_code == 200
    assert response.json["data"] == len(text)


def test_forms_with_more_fields_than_werkzeugs_default_arrive(tmp_path):
    client = make_client(tmp_path, BodyContainer)
    fields = {f"f{i}": "v" for i in range(2_000)}
    response = client.post("/body/length", data={**fields, "text": "four"})
    assert response.status_code == 200
    assert response.json["data"] == 4


def test_an_applications_own_cors_answer_is_not_doubled(tmp_path):
    """A host hook (as flask-cors adds) that answers CORS itself replaces core4's headers."""
    import flask

    from core4flask import Core4

    host = flask.Flask("cors_host", instance_path=str(tmp_path))
    Core4(host, BodyContainer)

    @host.after_request
    def own_cors(response):
        response.headers["Access-Control-Allow-Origin"] = "http://good.example"
        return response

    client = host.test_client()
    for response in (client.post("/body/length", data={"text": "abc"}), client.options("/body/length")):
        assert response.status_code == 200
        assert response.headers.getlist("Access-Control-Allow-Origin") == ["http://good.example"]
        assert "Access-Control-Allow-Methods" not in response.headers
    plain = make_client(tmp_path / "plain", BodyContainer).post("/body/length", data={"text": "abc"})
    assert plain.headers.getlist("Access-Control-Allow-Origin") == ["*"]


def test_routing_errors_below_a_container_answer_like_it_in_a_host_app(tmp_path):
    import flask

    from core4flask import Core4

    host = flask.Flask("errors_host", instance_path=str(tmp_path))
    Core4(host, BodyContainer)
    client = host.test_client()
    unusual = client.open("/body/length", method="PROPFIND")
    assert unusual.status_code == 405 and unusual.json["code"] == 405
    assert "POST" in unusual.headers["Allow"]
    unknown = client.open("/body/nope", method="PROPFIND")
    assert unknown.status_code == 404 and unknown.json["message"] == "Not Found"
    own = client.get("/host/nope")
    assert own.status_code == 404 and own.mimetype == "text/html"  # the host's paths: Flask's own page
