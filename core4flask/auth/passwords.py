"""Passwords: the policy for new ones, argon2id hashing, core4's pbkdf2_sha256 still verifies.

:func:`enforce_password_policy` is what every password a user sets passes
(NIST SP 800-63B): a minimum and a maximum length, no composition rules,
not one of the common passwords shipped with the package, not the user
name nor containing it. The common passwords (``common_passwords.txt.gz``)
are the entries of at least 8 characters of a public frequency-ranked list
of the 30,000 most used passwords, most used first.

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
import functools
import gzip
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import argon2
import gevent
from gevent import monkey

__all__ = [
    "ARGON2_MEMORY_COST",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "PasswordPolicy",
    "WeakPassword",
    "common_passwords",
    "current_password_policy",
    "enforce_password_policy",
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


#: The shortest minimum length a policy may set (NIST SP 800-63B).
MIN_LENGTH_FLOOR = 8
#: The least maximum length a policy may set (NIST SP 800-63B: at least 64).
MAX_LENGTH_FLOOR = 64
#: The common passwords, one a line, most used first (gzip).
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt.gz")
#: User names shorter than this are refused as the whole password, not as a part of it.
USER_NAME_PART_MIN = 3


class WeakPassword(ValueError):
    """A password the policy refuses; :attr:`rule` names the rule it broke."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"password refused by rule [{rule}]: {message}")
        #: ``min_length``, ``max_length``, ``common`` or ``user_name``
        self.rule = rule


@dataclass(frozen=True)
class PasswordPolicy:
    """What a new password must be (configuration ``api.password``)."""

    #: the fewest characters (Unicode code points)
    min_length: int = 8
    #: the most characters
    max_length: int = 256

    def __post_init__(self) -> None:
        if not MIN_LENGTH_FLOOR <= self.min_length <= self.max_length or self.max_length < MAX_LENGTH_FLOOR:
            raise ValueError(
                f"password policy needs {MIN_LENGTH_FLOOR} <= min_length <= max_length and "
                f"max_length >= {MAX_LENGTH_FLOOR}, not {self.min_length} and {self.max_length}"
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PasswordPolicy:
        """The policy of ``api.password``; ValueError for impossible settings."""
        section = (config.get("api") or {}).get("password") or {}
        defaults = cls()
        return cls(
            min_length=int(section.get("min_length") or defaults.min_length),
            max_length=int(section.get("max_length") or defaults.max_length),
        )


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common passwords shipped with the package, lower case."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().casefold() for line in lines if line.strip())


def enforce_password_policy(
    password: str, *, user_names: Iterable[str | None] = (), policy: PasswordPolicy | None = None
) -> None:
    """Raise :class:`WeakPassword` unless ``password`` may be set.

    Rules, checked in this order: ``min_length`` and ``max_length``
    (counted in code points), ``user_name`` (the password is a user name or,
    for names of 3 characters or more, contains one; case-insensitive) and
    ``common`` (one of :func:`common_passwords`, case-insensitive). There
    are deliberately no composition rules.
    """
    policy = policy or PasswordPolicy()
    if len(password) < policy.min_length:
        raise WeakPassword("min_length", f"it must have at least {policy.min_length} characters")
    if len(password) > policy.max_length:
        raise WeakPassword("max_length", f"it may have at most {policy.max_length} characters")
    folded = password.casefold()
    for name in user_names:
        name = (name or "").strip().casefold()
        if name and (folded == name or (len(name) >= USER_NAME_PART_MIN and name in folded)):
            raise WeakPassword("user_name", "it must not be or contain the user name")
    if folded in common_passwords():
        raise WeakPassword("common", "it is one of the most common passwords")


def current_password_policy() -> PasswordPolicy:
    """The policy configured for the application in whose context this runs
    (a request, a ``flask users`` command), else the defaults."""
    import flask

    if flask.has_app_context():
        ext = flask.current_app.extensions.get("core4flask")
        if ext is not None:
            return PasswordPolicy.from_config(ext.config)
    return PasswordPolicy()


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
