"""Failed-login throttling per (username, client address), shared via the store.

Every password check (login endpoint, Basic auth, ``username``/``password``
arguments, the profile's ``current_passwd``) asks :meth:`LoginThrottle.check`
first. Failures are counted in the store (``throttle_hit``), so every worker
process and every server sharing the store sees them. The failure that
reaches ``api.login.max_failures`` within ``api.login.window`` seconds locks
the pair for ``api.login.backoff`` seconds: every attempt then gets 429 with
``Retry-After``, even with the right password. A successful login clears the
failures. ``max_failures: 0`` switches throttling off.
"""

from __future__ import annotations

import datetime
import hashlib
import math
from collections.abc import Callable
from typing import Any

from ..errors import HTTPError

__all__ = ["LOCK_NAMESPACE", "LoginThrottle"]

#: key-value namespace of the current lock-outs
LOCK_NAMESPACE = "auth.lockout"


class LoginThrottle:
    """Counts failed password checks and locks out guessing clients."""

    def __init__(self, store: Callable[[], Any], *, max_failures: int, window: float, backoff: float) -> None:
        self._store = store
        #: failures within the window that lock a pair out (0: never)
        self.max_failures = int(max_failures or 0)
        #: seconds in which failures are counted
        self.window = float(window)
        #: seconds a lock-out lasts
        self.backoff = float(backoff)

    @staticmethod
    def key(username: str, address: str | None) -> str:
        """The counter key of a (username, address) pair (names compare case-insensitively)."""
        text = f"{username.casefold()}\x00{address or '-'}"
        return "login:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def check(self, username: str, address: str | None) -> None:
        """Raise 429 with ``Retry-After`` while the pair is locked out."""
        if self.max_failures <= 0:
            return
        store = self._store()
        until = store.kv_get(LOCK_NAMESPACE, self.key(username, address))
        if not isinstance(until, datetime.datetime):
            return
        remaining = (until - store.now()).total_seconds()
        if remaining <= 0:
            return
        seconds = max(1, math.ceil(remaining))
        raise HTTPError(
            429,
            f"too many failed logins, try again in {seconds} seconds",
            headers={"Retry-After": str(seconds)},
        )

    def failed(self, username: str, address: str | None) -> None:
        """Count a failure; lock the pair out when it is one too many."""
        if self.max_failures <= 0:
            return
        store = self._store()
        key = self.key(username, address)
        if store.throttle_hit(key, self.window) >= self.max_failures:
            until = store.now() + datetime.timedelta(seconds=self.backoff)
            store.kv_set(LOCK_NAMESPACE, key, until, expires=until)

    def succeeded(self, username: str, address: str | None) -> None:
        """Forget the failures of the pair after a successful login."""
        if self.max_failures <= 0:
            return
        store = self._store()
        key = self.key(username, address)
        if store.throttle_count(key, self.window):
            store.throttle_clear(key)
