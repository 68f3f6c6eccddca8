"""One access-log line per request, credentials redacted."""

from __future__ import annotations

import logging
import re

import pytest

from core4flask import CoreApiContainer, CoreRequestHandler, HTTPError
from core4flask.accesslog import AccessHandler, access_line, flush, redact_query
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
