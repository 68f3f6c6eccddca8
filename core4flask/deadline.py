"""Bounds on how long a client may take to send its request.

A client that sends its headers or its body a byte at a time holds a worker
connection for as long as it likes unless the server stops waiting. Both
servers core4flask documents apply two bounds from the configuration:

* ``api.header_timeout`` (default 10 s): from the moment a connection waits
  for a request until its headers are complete. ``serve()`` applies it to
  every request of a connection (so it also ends idle keep-alive
  connections); under gunicorn it is the smaller of it and gunicorn's
  ``keepalive``, which already bounds the headers of later requests.
* ``api.body_timeout`` (default 60 s): from the end of the headers until the
  last byte of the body. Past it, a read of the body raises
  :class:`BodyTimeout`: the application answers 408 and the connection is
  closed; a body the application never read is dropped under the same
  bound.

:class:`DeadlineReader` wraps the body stream of a request; the server glue
lives in :mod:`core4flask.serve` and :mod:`core4flask.gunicorn_conf`.

Layer: pure helper (the request core's ``arguments`` reads a timed-out body
from it); it imports nothing of core4flask.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["BodyTimeout", "DeadlineReader", "HeaderTimeout", "body_timed_out", "timeouts_of"]

#: defaults when a configuration names no bound, seconds
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 60.0


class BodyTimeout(TimeoutError):
    """The client did not send its whole body within ``api.body_timeout``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(errno.ETIMEDOUT, f"request body not received within {seconds:g} s")
        #: the bound that passed
        self.seconds = seconds


class HeaderTimeout(TimeoutError):
    """The client did not send its request headers within ``api.header_timeout``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(errno.ETIMEDOUT, f"request headers not received within {seconds:g} s")


def timeouts_of(config: Mapping[str, Any] | None) -> tuple[float, float]:
    """``(header_timeout, body_timeout)`` of a core4flask configuration."""
    api = (config or {}).get("api") or {}
    header = api.get("header_timeout")
    body = api.get("body_timeout")
    return (
        float(header) if header else DEFAULT_HEADER_TIMEOUT,
        float(body) if body else DEFAULT_BODY_TIMEOUT,
    )


def body_timed_out(exc: BaseException | None) -> BodyTimeout | None:
    """The :class:`BodyTimeout` behind ``exc`` (werkzeug reports it as a disconnect)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, BodyTimeout):
            return exc
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        seen += 1
    return None


class DeadlineReader:
    """A request body stream whose reads end at a deadline.

    Each read waits at most until ``deadline`` (``time.monotonic()``
    seconds), cooperatively under gevent; once the deadline has passed every
    read raises :class:`BodyTimeout`. :attr:`timed_out` tells the server glue
    to close the connection afterwards.
    """

    def __init__(self, stream: Any, seconds: float, *, clock: Any = time.monotonic) -> None:
        self.stream = stream
        self.seconds = seconds
        self.deadline = clock() + seconds
        self.timed_out = False
        self._clock = clock

    def read(self, *args: Any) -> bytes:
        """Read like the wrapped stream, within the deadline."""
        data: bytes = self._bounded(self.stream.read, *args)
        return data

    def readline(self, *args: Any) -> bytes:
        """Read a line like the wrapped stream, within the deadline."""
        line: bytes = self._bounded(self.stream.readline, *args)
        return line

    def readlines(self, *args: Any) -> list[bytes]:
        """Read lines like the wrapped stream, within the deadline."""
        lines: list[bytes] = self._bounded(self.stream.readlines, *args)
        return lines

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer`` within the deadline (werkzeug's streams use it)."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def _bounded(self, read: Any, *args: Any) -> Any:
        import gevent

        remaining = self.deadline - self._clock()
        if remaining <= 0:
            self.timed_out = True
            raise BodyTimeout(self.seconds)
        error = BodyTimeout(self.seconds)
        try:
            with gevent.Timeout(remaining, error):
                return read(*args)
        except BodyTimeout as exc:
            if exc is error:
                self.timed_out = True
            raise
