"""Password hashing: argon2id for new hashes, core4's pbkdf2_sha256 still verifies.

core4 stored passlib ``pbkdf2_sha256`` hashes
(``$pbkdf2-sha256$<rounds>$<salt>$<checksum>``); they keep working without
passlib and :func:`needs_rehash` reports them so a login can upgrade them.

Hashing is deliberately slow and CPU-bound. Under gevent it would stall
every other request of the worker, so the work is moved to gevent's thread
pool when gevent's monkey patching is active (see :func:`run_off_loop`).

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import TypeVar

import argon2
import gevent
from gevent import monkey

__all__ = [
    "ARGON2_MEMORY_COST",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "hash_password",
    "needs_rehash",
    "random_password",
    "run_off_loop",
    "verify_password",
]

T = TypeVar("T")

# One of the argon2id configurations recommended by OWASP's Password Storage
# Cheat Sheet: 19 MiB of memory, 2 iterations, 1 degree of parallelism.
#: argon2id memory cost in KiB.
ARGON2_MEMORY_COST = 19 * 1024
#: argon2id number of iterations.
ARGON2_TIME_COST = 2
#: argon2id degree of parallelism.
ARGON2_PARALLELISM = 1

_HASHER = argon2.PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_COST,
    parallelism=ARGON2_PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=argon2.Type.ID,
)

# passlib's "adapted base64": the standard alphabet with "." for "+", unpadded
_PBKDF2_SHA256 = re.compile(
    r"\$pbkdf2-sha256\$(?P<rounds>[1-9][0-9]{0,9})"
    r"\$(?P<salt>[./A-Za-z0-9]*)\$(?P<checksum>[./A-Za-z0-9]{43})"
)
_PBKDF2_MAX_ROUNDS = 2**32 - 1

#: Characters of generated passwords: letters and digits minus look-alikes.
PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"


def run_off_loop(fn: Callable[..., T], *args: object) -> T:
    """Call ``fn(*args)`` without blocking gevent's event loop.

    With gevent's monkey patching active the call runs in the hub's thread
    pool while the calling greenlet waits cooperatively; otherwise (plain
    threads, tests, scripts) it is called directly.
    """
    if monkey.is_module_patched("socket"):
        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)


def hash_password(plain: str) -> str:
    """Return an argon2id hash of ``plain``.

    Raises:
        TypeError: ``plain`` is not a string.
        ValueError: ``plain`` is empty; an empty password is never stored.
    """
    if not isinstance(plain, str):
        raise TypeError("password must be a string")
    if not plain:
        raise ValueError("password must not be empty")
    return run_off_loop(_HASHER.hash, plain)


def verify_password(plain: str, stored: str | None) -> bool:
    """Whether ``plain`` matches the ``stored`` argon2 or pbkdf2_sha256 hash.

    Anything malformed (no hash, an unknown scheme, bad encoding) gives
    False, never an exception.
    """
    if not isinstance(plain, str) or not plain or not isinstance(stored, str):
        return False
    if stored.startswith("$argon2"):
        return run_off_loop(_verify_argon2, plain, stored)
    if stored.startswith("$pbkdf2-sha256$"):
        return run_off_loop(_verify_pbkdf2_sha256, plain, stored)
    return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` should be replaced by a fresh :func:`hash_password`.

    True for core4's pbkdf2_sha256 hashes, for argon2 hashes made with other
    parameters than the current ones, and for anything unrecognised.
    """
    if not isinstance(stored, str) or not stored.startswith("$argon2"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except (argon2.exceptions.InvalidHashError, ValueError):
        return True


def random_password(length: int = 32) -> str:
    """Return a random password of ``length`` characters from a secure source."""
    if length < 1:
        raise ValueError("length must be positive")
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def _verify_argon2(plain: str, stored: str) -> bool:
    try:
        return _HASHER.verify(stored, plain)
    except (argon2.exceptions.VerificationError, ValueError):
        # covers mismatches and InvalidHashError (a ValueError)
        return False


def _verify_pbkdf2_sha256(plain: str, stored: str) -> bool:
    found = _PBKDF2_SHA256.fullmatch(stored)
    if found is None:
        return False
    rounds = int(found["rounds"])
    if rounds > _PBKDF2_MAX_ROUNDS:
        return False
    try:
        salt = _ab64_decode(found["salt"])
        checksum = _ab64_decode(found["checksum"])
    except (binascii.Error, ValueError):
        return False
    if len(checksum) != 32:
        return False
    derived = hashlib.pbkdf2_hmac("sha256", plain.encode("utf-8"), salt, rounds)
    return hmac.compare_digest(derived, checksum)


def _ab64_decode(text: str) -> bytes:
    """Decode passlib's adapted base64 ("." for "+", no padding)."""
    if len(text) % 4 == 1:
        raise ValueError("impossible base64 length")
    padded = text.replace(".", "+") + "=" * (-len(text) % 4)
    return base64.b64decode(padded, validate=True)
