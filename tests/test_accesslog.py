"""One access-log line per request, credentials redacted."""

from __future__ import annotations

import http.client
import json
import logging
import re

import pytest

from core4flask import CoreApiContainer, CoreRequestHandler, HTTPError
from core4flask.accesslog import (
    AccessHandler,
    JsonFormatter,
    access_json,
    access_line,
    correlation_id,
    escape,
    flush,
    redact_query,
)
from tests import live
from tests.fixtures import make_client

LOGGER = "core4flask.access"
LINE = re.compile(r"(?P<id>[0-9a-f]{24}|-) (?P<user>\S+) (?P<method>[A-Z]+) (?P<target>\S+) (?P<status>\d{3}) [\d.]+ms")


class LoggedHandler(CoreRequestHandler):
    protected = False

    def get(self):
        return "ok"

    def post(self):
        raise HTTPError(409, "conflict")


class LogContainer(CoreApiContainer):
    root = "/log"
    rules = [("/x", LoggedHandler)]


def test_access_line_format():
    line = access_line("5be13b56de8b69468b7ff0b2", "admin", "GET", "/a/b", "x=1", 200, 12.345)
    assert line == "5be13b56de8b69468b7ff0b2 admin GET /a/b?x=1 200 12.35ms"
    assert access_line(None, None, "POST", "/a", "", 404, 0) == "- - POST /a 404 0.00ms"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("username=admin&password=hans", "username=admin&password=***"),
        ("token=eyJ.abc.def&page=2", "token=***&page=2"),
        ("PASSWORD=x&Token=y", "PASSWORD=***&Token=***"),
        ("passwd=a&current_passwd=b&secret=c", "passwd=***&current_passwd=***&secret=***"),
        ("password=&x=1", "password=***&x=1"),
        ("mypassword=visible&tokens=visible", "mypassword=visible&tokens=visible"),
        # names count as the application reads them: percent-decoded, + as a space
        ("pass%77ord=hans&%74oken=t", "pass%77ord=***&%74oken=***"),
        ("%50ASSWD=x&cur%72ent_passwd=y&se%63ret=z", "%50ASSWD=***&cur%72ent_passwd=***&se%63ret=***"),
        ("password%20=x&pass+word=y", "password%20=x&pass+word=y"),
        ("a=1&&password==x=y", "a=1&&password=***"),
        ("a=1", "a=1"),
        ("", ""),
    ],
)
def test_redact_query(query, expected):
    assert redact_query(query) == expected


@pytest.fixture
def client(tmp_path):
    return make_client(tmp_path, LogContainer)


@pytest.fixture
def access_caplog(caplog):
    """caplog wired to the access logger, which may not propagate to the root."""
    logger = logging.getLogger(LOGGER)
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger=LOGGER)
    yield caplog
    logger.removeHandler(caplog.handler)


def access_records(caplog):
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_one_line_per_request_with_credentials_redacted(client, access_caplog):
    response = client.get("/log/x?username=admin&password=hans&token=abc.def&page=2")
    lines = access_records(access_caplog)
    assert len(lines) == 1
    match = LINE.fullmatch(lines[0])
    assert match, lines[0]
    assert match["id"] == response.json["_id"]
    assert match["user"] == "-"
    assert match["method"] == "GET"
    assert match["target"] == "/log/x?username=admin&password=***&token=***&page=2"
    assert match["status"] == "200"
    assert "hans" not in lines[0]
    assert "abc.def" not in lines[0]


def test_errors_and_unknown_paths_are_logged(client, access_caplog):
    client.post("/log/x", json={"password": "hans"})
    client.delete("/log/unknown?token=t0ken")
    client.get("/nowhere")
    lines = access_records(access_caplog)
    assert [LINE.fullmatch(line)["status"] for line in lines] == ["409", "404", "404"]
    assert [LINE.fullmatch(line)["method"] for line in lines] == ["POST", "DELETE", "GET"]
    assert "/log/unknown?token=***" in lines[1]
    assert not any("hans" in line or "t0ken" in line for line in lines)


def test_access_log_can_be_switched_off(tmp_path, access_caplog):
    quiet = make_client(tmp_path / "quiet", LogContainer, config={"api": {"access_log": False}})
    quiet.get("/log/x")
    assert access_records(access_caplog) == []
    loud = make_client(tmp_path / "loud", LogContainer)
    loud.get("/log/x")
    assert len(access_records(access_caplog)) == 1


class RecordingStream:
    """A stream that keeps each write separately."""

    def __init__(self):
        self.writes: list[str] = []

    def write(self, text):
        self.writes.append(text)

    def flush(self):
        pass

    def lines(self):
        return "".join(self.writes).splitlines()


def test_lines_outside_gevent_are_written_at_once():
    stream = RecordingStream()
    handler = AccessHandler(stream)
    handler.write_line("first")
    handler.write_line("second")
    assert len(stream.writes) == 2
    assert [line.split(" ", 2)[2] for line in stream.lines()] == ["first", "second"]


def test_lines_of_a_moment_go_out_in_one_write():
    """Under gevent lines wait for the batch, across loop turns, then go out together."""
    gevent = pytest.importorskip("gevent")
    stream = RecordingStream()
    handler = AccessHandler(stream)
    handler.BATCH_SECONDS = 0.05
    seen: list[int] = []

    def request(number):
        handler.write_line(f"request {number}")
        gevent.sleep(0)  # as gunicorn's post_request does after every request
        seen.append(len(stream.writes))

    gevent.joinall([gevent.spawn(request, n) for n in range(5)])
    assert seen == [0] * 5
    gevent.sleep(0.2)
    assert len(stream.writes) == 1
    assert [line.split(" ", 2)[2] for line in stream.lines()] == [f"request {n}" for n in range(5)]


def test_a_full_batch_is_written_without_waiting():
    gevent = pytest.importorskip("gevent")
    stream = RecordingStream()
    handler = AccessHandler(stream)
    handler.BATCH_SECONDS = 60.0
    handler.BATCH_LINES = 3

    def requests():
        for number in range(7):
            handler.write_line(f"request {number}")

    gevent.spawn(requests).join()
    assert [len(text.splitlines()) for text in stream.writes] == [3, 3]
    handler.flush()
    assert len(stream.lines()) == 7


def test_pending_lines_come_before_later_records_and_on_flush():
    gevent = pytest.importorskip("gevent")
    stream = RecordingStream()
    handler = AccessHandler(stream)
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    observed: dict[str, list[str]] = {}

    def request():
        handler.write_line("pending line")
        observed["pending"] = list(stream.writes)
        handler.emit(logging.LogRecord(LOGGER, logging.INFO, __file__, 1, "a record", (), None))
        observed["after record"] = stream.lines()
        handler.write_line("last line")
        flush()  # what a stopping worker does
        observed["after flush"] = stream.lines()

    try:
        gevent.spawn(request).join()
    finally:
        logger.removeHandler(handler)
    assert observed["pending"] == []
    assert [line.split(" ", 2)[2] for line in observed["after record"]] == ["pending line", "a record"]
    assert observed["after flush"][-1].endswith(" last line")
    assert sum("last line" in text for text in stream.writes) == 1  # the scheduled write found nothing left


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/a\nb", "/a\\x0ab"),
        ("/a\r\n2026 forged", "/a\\x0d\\x0a2026 forged"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("back\\slash", "back\\x5cslash"),
        ("line\u2028sep\x85", "line\\u2028sep\\x85"),
        ("/plain/ünïcode", "/plain/ünïcode"),
    ],
)
def test_escape_control_characters(value, expected):
    assert escape(value) == expected
    assert "\n" not in escape(value) and "\r" not in escape(value)


def test_text_lines_escape_every_field():
    line = access_line("i" * 24, "ev il\n", "GET", "/a b\n2026-01-01 x admin GET /x 200", "q=\r", 200, 1.0)
    assert "\n" not in line and "\r" not in line
    assert line == "iiiiiiiiiiiiiiiiiiiiiiii ev\\x20il\\x0a GET /a\\x20b\\x0a2026-01-01\\x20x\\x20admin\\x20GET" + (
        "\\x20/x\\x20200?q=\\x0d 200 1.00ms"
    )


def test_json_lines_parse_and_carry_no_secret():
    line = access_json(
        "5be13b56de8b69468b7ff0b2",
        "admin",
        "GET",
        "/a\nb",
        "username=x&pass%77ord=hans&token=tok",
        401,
        3.14159,
        "lb-1",
        now=0.5,
    )
    assert "\n" not in line
    record = json.loads(line)
    assert record == {
        "time": "1970-01-01T00:00:00.500Z",
        "_id": "5be13b56de8b69468b7ff0b2",
        "user": "admin",
        "method": "GET",
        "path": "/a\\x0ab?username=x&pass%77ord=***&token=***",
        "status": 401,
        "ms": 3.14,
        "pid": record["pid"],
        "correlation_id": "lb-1",
    }
    assert isinstance(record["pid"], int)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("lb-7f3a", "lb-7f3a"),
        ("Root=1-67891233-abcdef012345678912345678", "Root=1-67891233-abcdef012345678912345678"),
        ("a" * 128, "a" * 128),
        ("a" * 129, None),
        ("", None),
        (None, None),
        ("has space", None),
        ("new\nline", None),
        ("<script>", None),
    ],
)
def test_correlation_id_must_be_well_formed(value, expected):
    assert correlation_id(value) == expected


def test_error_records_as_json_lines():
    try:
        raise ValueError("boom\nforged")
    except ValueError:
        record = logging.getLogger("core4flask").makeRecord(
            "core4flask", logging.ERROR, __file__, 1, "request failed", (), __import__("sys").exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "ERROR" and data["message"] == "request failed" and data["logger"] == "core4flask"
    assert "ValueError: boom" in data["exc_info"] and data["time"].endswith("Z")


def test_a_correlation_id_is_logged_beside_our_own(client, access_caplog):
    response = client.get("/log/x", headers={"X-Request-ID": "lb-7f3a"})
    client.get("/log/x", headers={"X-Request-ID": "bad id\twith tab"})
    first, second = access_records(access_caplog)
    assert first.startswith(response.json["_id"] + " ") and first.endswith(" cid=lb-7f3a")
    assert "cid=" not in second and "bad" not in second


def test_an_unknown_log_format_stops_the_start(tmp_path):
    from core4flask.config import ConfigError

    with pytest.raises(ConfigError, match="api.log_format"):
        make_client(tmp_path, LogContainer, config={"api": {"log_format": "xml"}})


def get_as_sent(server, target):
    """GET ``target`` exactly as written (requests would decode ``%77`` to ``w``)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", target)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.e2e
def test_gunicorn_json_lines_parse_and_carry_no_secret(tmp_path):
    server = live.gunicorn(tmp_path, workers=1, ready="/test-server/public", api__log_format="json")
    try:
        get_as_sent(server, "/test-server/public?pass%77ord=s3cr3t-a&%74oken=t0k3n-b&x=1")
        get_as_sent(server, "/test-server/x%0a2026-01-01%20forged%20line")
        server.get("/test-server/test", auth=("admin", live.ADMIN_PASSWORD), headers={"X-Request-ID": "lb-42"})
        output = server.output_with('"correlation_id":"lb-42"')
    finally:
        server.stop()
    assert "s3cr3t" not in output and "t0k3n" not in output
    records = [json.loads(line) for line in output.splitlines() if line.startswith('{"time"')]
    by_path = {record["path"]: record for record in records if "path" in record}
    public = by_path["/test-server/public?pass%77ord=***&%74oken=***&x=1"]
    assert public["status"] == 200 and public["method"] == "GET" and len(public["_id"]) == 24
    assert isinstance(public["pid"], int) and public["ms"] >= 0 and public["time"].endswith("Z")
    assert by_path["/test-server/x\\x0a2026-01-01 forged line"]["status"] == 404
    signed_in = next(record for record in records if record.get("correlation_id") == "lb-42")
    assert signed_in["user"] == "admin" and signed_in["_id"] != "lb-42"
    assert not any(line.startswith("2026-01-01 forged") for line in output.splitlines())


@pytest.mark.e2e
def test_gunicorn_text_lines_cannot_be_forged(tmp_path):
    server = live.gunicorn(tmp_path, workers=1, ready="/test-server/public")
    try:
        forged = "/test-server/x%0d%0a6b0651dfd165bfa7c893b879%20admin%20GET%20/ok%20200%201.00ms"
        get_as_sent(server, forged)
        get_as_sent(server, "/test-server/public?pass%77ord=s3cr3t-a&%74oken=t0k3n-b")
        output = server.output_with("%74oken=***")
    finally:
        server.stop()
    assert "s3cr3t" not in output and "t0k3n" not in output
    assert not any(line.startswith("6b0651dfd165bfa7c893b879") for line in output.splitlines())
    line = next(line for line in output.splitlines() if "/test-server/x" in line)
    assert "/test-server/x\\x0d\\x0a6b0651dfd165bfa7c893b879\\x20admin" in line and " 404 " in line
