"""Slow clients and ambiguous framing: bounds on headers and bodies, smuggling refused."""

from __future__ import annotations

import io
import socket
import threading
import time
from email.message import Message

import pytest

from core4flask.deadline import BodyTimeout, DeadlineReader, body_timed_out, timeouts_of
from core4flask.serve import smuggling_refusal
from tests import live

SERVERS = live.ROOT / "tests" / "servers"


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_timeouts_of_the_configuration():
    assert timeouts_of({}) == (10.0, 60.0)
    assert timeouts_of({"api": {"header_timeout": 3, "body_timeout": 7.5}}) == (3.0, 7.5)


def test_reads_within_the_deadline_pass_through():
    clock = FakeClock()
    reader = DeadlineReader(io.BytesIO(b"line one\nline two\n"), 5, clock=clock)
    assert reader.readline() == b"line one\n"
    buffer = bytearray(4)
    assert reader.readinto(buffer) == 4 and bytes(buffer) == b"line"
    assert list(reader) == [b" two\n"]
    assert not reader.timed_out


def test_reads_after_the_deadline_raise_body_timeout():
    clock = FakeClock()
    reader = DeadlineReader(io.BytesIO(b"abc"), 5, clock=clock)
    clock.now += 5
    with pytest.raises(BodyTimeout, match="request body not received within 5 s") as info:
        reader.read(1)
    assert reader.timed_out and isinstance(info.value, TimeoutError)


def test_a_read_that_waits_past_the_deadline_is_cut_short():
    gevent = pytest.importorskip("gevent")

    class Trickle:
        def read(self, size=-1):
            gevent.sleep(10)
            return b"x"

    reader = DeadlineReader(Trickle(), 0.05)
    with pytest.raises(BodyTimeout):
        gevent.spawn(reader.read, 1).get(timeout=5)
    assert reader.timed_out


def test_body_timeout_is_found_behind_werkzeugs_disconnect():
    from werkzeug.exceptions import ClientDisconnected

    try:
        try:
            raise BodyTimeout(60)
        except BodyTimeout:
            raise ClientDisconnected() from None
    except ClientDisconnected as exc:
        assert body_timed_out(exc) is None  # "from None" hides it: nothing to find
    try:
        try:
            raise BodyTimeout(60)
        except BodyTimeout:
            raise ClientDisconnected()  # noqa: B904 - werkzeug raises it like this
    except ClientDisconnected as exc:
        assert isinstance(body_timed_out(exc), BodyTimeout)


def headers(*pairs):
    message = Message()
    for name, value in pairs:
        message[name] = value
    return message


@pytest.mark.parametrize(
    ("pairs", "refusal"),
    [
        ([("Content-Length", "5")], None),
        ([("Transfer-Encoding", "chunked")], None),
        ([("Transfer-Encoding", " Chunked ")], None),
        ([], None),
        ([("Content-Length", "5"), ("Content-Length", "5")], "more than one Content-Length header"),
        ([("Content-Length", "5"), ("Transfer-Encoding", "chunked")], "both Content-Length and Transfer-Encoding"),
        ([("Transfer-Encoding", "gzip, chunked")], "a Transfer-Encoding other than chunked"),
        ([("Transfer-Encoding", "chunked")] * 2, "a Transfer-Encoding other than chunked"),
    ],
)
def test_smuggling_refusal(pairs, refusal):
    message = headers(*pairs)
    assert smuggling_refusal(message.get_all("Content-Length") or [], message) == refusal


# -- over HTTP ------------------------------------------------------------------------------------


def exchange(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send ``raw`` and read until the server closes the connection (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


@pytest.fixture
def serve_server(tmp_path):
    server = live.python_script(
        tmp_path, SERVERS / "two_containers.py", ready="/one/hello", api__header_timeout="1", api__body_timeout="1"
    )
    yield server
    server.stop()


SMUGGLED = b"GET /one/hello HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.e2e
@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 5\r\nContent-Length: %d\r\n" % (5 + len(SMUGGLED)),
        b"Content-Length: %d\r\nContent-Length: 5\r\n" % (5 + len(SMUGGLED)),
        b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % (5 + len(SMUGGLED)),
        b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
        b"Transfer-Encoding: xchunked\r\n",
    ],
)
def test_serve_refuses_ambiguous_framing(serve_server, framing):
    body = b"0\r\n\r\n" if b"chunked" in framing and b"xchunked" not in framing else b"hello"
    raw = b"POST /one/body HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n" + body + SMUGGLED
    answer = exchange(serve_server.port, raw)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    # nothing reached the application: neither the POST nor the request hidden in its body
    assert answer.count(b"HTTP/1.1 ") == 1 and b'"pid"' not in answer and b'"body"' not in answer


@pytest.mark.e2e
def test_serve_keeps_serving_well_framed_requests(serve_server):
    raw = b"POST /one/body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED.replace(
        b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"
    )
    answer = exchange(serve_server.port, raw)
    assert answer.count(b"HTTP/1.1 200 ") == 2 and b'"body":"hello"' in answer


class Trickler:
    """Sockets that send a login's headers and then its body a byte at a time."""

    def __init__(self, port: int, count: int, *, headers_only: bool = False):
        self.sockets: list[socket.socket] = []
        self.answers: dict[int, bytes] = {}
        request = (
            b"POST /core4/api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 4000\r\n\r\n"
        )
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setblocking(False)
            sock.send(request[:20] if headers_only else request)
            self.sockets.append(sock)
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self, seconds: float = 40.0, interval: float = 0.25) -> None:
        deadline = time.monotonic() + seconds
        while len(self.answers) < len(self.sockets) and time.monotonic() < deadline:
            for number, sock in enumerate(self.sockets):
                if number in self.answers:
                    continue
                try:
                    data = sock.recv(65536)
                    self.answers[number] = data  # an answer, or b"" for a close
                    continue
                except BlockingIOError:
                    pass
                except OSError:
                    self.answers[number] = b""
                    continue
                try:
                    sock.send(b" ")
                except BlockingIOError:
                    pass
                except OSError:
                    self.answers[number] = b""
            time.sleep(interval)

    def finish(self) -> dict[int, bytes]:
        self.thread.join(60)
        for sock in self.sockets:
            sock.close()
        return self.answers


@pytest.mark.e2e
def test_gunicorn_trickling_bodies_do_not_hold_the_server(tmp_path):
    """60 sockets trickle login bodies at one worker with 20 connections; a
    normal client is still served, and every trickling socket is answered 408
    or closed once the body bound has passed."""
    server = live.gunicorn(
        tmp_path,
        workers=1,
        ready="/core4/api/v1/health",
        env={"CORE4_WORKER_CONNECTIONS": "20"},
        api__header_timeout="2",
        api__body_timeout="2",
    )
    try:
        trickler = Trickler(server.port, 60)
        # without the bound every slot stays taken for as long as the bodies trickle (40 s)
        response = server.get("/core4/api/v1/health", timeout=20)
        assert response.status_code == 200
        answers = trickler.finish()
    finally:
        server.stop()
    assert len(answers) == 60, "every trickling socket is answered or closed"
    assert all(answer == b"" or answer.startswith(b"HTTP/1.1 408 ") for answer in answers.values())
    assert any(answer.startswith(b"HTTP/1.1 408 ") for answer in answers.values())


@pytest.mark.e2e
def test_serve_closes_slow_headers_and_bodies(serve_server):
    bodies = Trickler(serve_server.port, 10)
    headers_only = Trickler(serve_server.port, 10, headers_only=True)
    assert serve_server.get("/one/hello", timeout=10).status_code == 200
    body_answers = bodies.finish()
    header_answers = headers_only.finish()
    assert len(body_answers) == 10 and len(header_answers) == 10
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in body_answers.values())
    assert all(answer == b"" or answer.startswith(b"HTTP/1.1 400 ") for answer in header_answers.values())
