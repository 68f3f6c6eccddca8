"""Request ids and the current time, as core4 stamps its answers.

A pure helper: every request gets a 24-hex ``_id`` that is a valid BSON
ObjectId (core4 made one per request), and envelopes carry naive UTC times.
"""

from __future__ import annotations

import datetime
import itertools
import os
import time

__all__ = ["new_identifier", "utcnow"]


class _IdentifierSource:
    """ObjectId-compatible request ids: 4 bytes of time, 5 random bytes per
    process, a 3-byte counter. Cheaper than ``bson.ObjectId`` on the hot path."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.process = os.urandom(5).hex()
        self.counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
        self._second = -1
        self._prefix = ""

    def __call__(self, now: float | None = None) -> str:
        second = int(time.time() if now is None else now) & 0xFFFFFFFF
        if second != self._second:
            self._prefix = f"{second:08x}{self.process}"
            self._second = second
        return f"{self._prefix}{next(self.counter) & 0xFFFFFF:06x}"


#: A new request ``_id`` (24-hex, a valid ObjectId), optionally for epoch seconds ``now``.
new_identifier = _IdentifierSource()


def utcnow() -> datetime.datetime:
    """The current time as naive UTC."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
