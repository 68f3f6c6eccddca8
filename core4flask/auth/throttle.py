"""Failed-login throttling per (username, client address), shared via the store.

Every password check (login endpoint, Basic auth, ``username``/``password``
arguments, the profile's and the roles API's ``current_passwd``) starts with
:meth:`LoginThrottle.reserve`, which counts the attempt in the store
*before* the password is verified (``throttle_reserve``, atomic across
workers and servers). A pair may have at most ``api.login.max_failures``
attempts counted within ``api.login.window`` seconds, whether they are still
being verified or have failed, so concurrent requests cannot slip more
guesses past the limit than sequential ones. A success gives the allowance
back.

Lock-outs grow instead of standing as a wall: the failure that uses up the
allowance locks the pair for ``api.login.delay`` seconds (1), and from then
on every further failure locks it again for twice as long as the last time,
up to ``api.login.backoff`` seconds (300); meanwhile only one check at a
time is let through. While locked, every attempt gets 429 with
``Retry-After``, even with the right password. A success, or ``window``
seconds without a failure after a lock-out has ended, starts the pair
afresh. So a guesser's rate falls exponentially, while the user it targets
waits at most the current delay, never a fixed quarter of an hour.
``max_failures: 0`` switches throttling off.

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""

from __future__ import annotations

import datetime
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from ..errors import HTTPError

__all__ = ["LEVEL_NAMESPACE", "LOCK_NAMESPACE", "LoginAttempt", "LoginThrottle", "lockout_delay"]

#: key-value namespace of the current lock-outs
LOCK_NAMESPACE = "auth.lockout"
#: key-value namespace of how many lock-outs in a row a pair has had
LEVEL_NAMESPACE = "auth.lockout.level"


def lockout_delay(level: int, first: float, longest: float) -> float:
    """Seconds of the lock-out after ``level`` earlier ones in a row: ``first * 2**level``, at most ``longest``."""
    return min(longest, first * 2 ** min(level, 64))


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """One counted password check; report its outcome with :meth:`failed` or :meth:`succeeded`."""

    throttle: LoginThrottle
    #: the counter key of the (username, address) pair; None when throttling is off
    key: str | None = None

    def failed(self) -> None:
        """The password was wrong: the attempt stays counted; lock the pair when it used up the allowance."""
        if self.key is not None:
            self.throttle._failed(self.key)

    def succeeded(self) -> None:
        """The password was right: forget the pair's counted attempts."""
        if self.key is not None:
            self.throttle._succeeded(self.key)


class LoginThrottle:
    """Counts password checks and locks out guessing clients."""

    def __init__(
        self, store: Callable[[], Any], *, max_failures: int, window: float, backoff: float, first_delay: float = 1.0
    ) -> None:
        self._store = store
        #: failures within the window that lock a pair out (0: never)
        self.max_failures = int(max_failures or 0)
        #: seconds in which failures are counted, and after which a pair's lock-outs are forgotten
        self.window = float(window)
        #: the longest lock-out, in seconds
        self.backoff = float(backoff)
        #: the first lock-out, in seconds; each further one lasts twice as long
        self.first_delay = min(max(float(first_delay), 1.0), self.backoff)

    @staticmethod
    def key(username: str, address: str | None) -> str:
        """The counter key of a (username, address) pair (names compare case-insensitively)."""
        text = f"{username.casefold()}\x00{address or '-'}"
        return "login:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def check(self, username: str, address: str | None) -> None:
        """Raise 429 with ``Retry-After`` while the pair is locked out."""
        if self.max_failures > 0:
            self._check_lock(self._store(), self.key(username, address))

    def reserve(self, username: str, address: str | None) -> LoginAttempt:
        """Count a password check before it runs; raise 429 if the pair may not try now.

        The caller verifies the password only after this returned, and then
        reports the outcome on the returned attempt.
        """
        if self.max_failures <= 0:
            return LoginAttempt(self)
        store = self._store()
        key = self.key(username, address)
        # a cheap read first: a locked-out client causes no writes
        self._check_lock(store, key)
        level = self._level(store, key)
        # after a lock-out, one check at a time: its failure locks the pair again
        attempt = store.throttle_reserve(key, self.window, self.max_failures if level == 0 else 1)
        if attempt is None:
            # the allowance is taken by failures or by checks still running;
            # those are about to lock the pair for the next delay
            self._refuse(lockout_delay(level, self.first_delay, self.backoff))
        try:
            # the pair may have been locked (and its count cleared) between the
            # first read and the reservation: look again before verifying
            self._check_lock(store, key)
        except HTTPError:
            store.throttle_release(key, attempt)
            raise
        return LoginAttempt(self, key)

    def _failed(self, key: str) -> None:
        store = self._store()
        level = self._level(store, key)
        if level == 0 and store.throttle_count(key, self.window) < self.max_failures:
            return
        until = store.now() + datetime.timedelta(seconds=lockout_delay(level, self.first_delay, self.backoff))
        store.kv_set(LOCK_NAMESPACE, key, until, expires=until)
        store.kv_set(LEVEL_NAMESPACE, key, level + 1, expires=until + datetime.timedelta(seconds=self.window))
        # the lock stands for the spent allowance: after it, the next check decides
        store.throttle_clear(key)

    def _succeeded(self, key: str) -> None:
        store = self._store()
        store.throttle_clear(key)
        if store.kv_get(LEVEL_NAMESPACE, key) is not None:
            store.kv_delete(LEVEL_NAMESPACE, key)

    @staticmethod
    def _level(store: Any, key: str) -> int:
        """How many lock-outs in a row the pair has had (0: none remembered)."""
        level = store.kv_get(LEVEL_NAMESPACE, key)
        return level if isinstance(level, int) and not isinstance(level, bool) and level > 0 else 0

    def _check_lock(self, store: Any, key: str) -> None:
        until = store.kv_get(LOCK_NAMESPACE, key)
        if isinstance(until, datetime.datetime):
            remaining = (until - store.now()).total_seconds()
            if remaining > 0:
                self._refuse(remaining)

    @staticmethod
    def _refuse(remaining: float) -> NoReturn:
        seconds = max(1, math.ceil(remaining))
        raise HTTPError(
            429,
            f"too many failed logins, try again in {seconds} seconds",
            headers={"Retry-After": str(seconds)},
        )
