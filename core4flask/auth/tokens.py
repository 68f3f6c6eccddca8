"""Session tokens: made by flask-jwt-extended, verified by PyJWT with a cache.

A token's claims are flask-jwt-extended's (``sub`` = the user's ``_id``,
``jti``, ``iat``, ``nbf``, ``exp``, ``type``, ``fresh``) plus core4's
``name`` and ``timestamp`` (issue time, float seconds) and four of ours:
``auth_time`` (the password login the session started with, kept across
refreshes), ``sid`` (the session: the ``jti`` of that login's token, which
logout revokes), and ``pwv`` (a keyed tag of the password hash, so changing
the password ends every older token).

Verification runs on every protected request, so it is cached: a token
verified once is remembered with its claims until it expires or falls out of
the bounded cache; anything forged, malformed, of another algorithm or
expired is simply ``None``.

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""

from __future__ import annotations

import datetime
import functools
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from werkzeug.http import dump_cookie

__all__ = [
    "COOKIE_NAME",
    "REQUIRED_CLAIMS",
    "TokenService",
    "expired_token_cookie",
    "expires_at",
    "token_cookie",
]

#: The cookie (and response header) carrying the token.
COOKIE_NAME = "token"
#: Claims every session token has; tokens lacking one are refused.
REQUIRED_CLAIMS = ("exp", "iat", "sub", "jti", "name", "timestamp", "auth_time", "sid", "pwv")
#: Longer strings are not even parsed.
MAX_TOKEN_LENGTH = 8192

_STRING_CLAIMS = ("sub", "jti", "name", "sid", "pwv")
_NUMBER_CLAIMS = ("exp", "iat", "timestamp", "auth_time")


class TokenService:
    """Issues and verifies the session tokens of one signing key."""

    def __init__(
        self,
        key: bytes,
        algorithm: str,
        *,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.time,
        through_extension: bool = True,
    ) -> None:
        #: the signing key (never log it)
        self.key = key
        #: tokens are made by flask-jwt-extended (False: the host application
        #: configures flask-jwt-extended for its own tokens; PyJWT makes ours)
        self.through_extension = through_extension
        #: the only algorithm accepted
        self.algorithm = algorithm
        self._algorithms = [algorithm]
        self._options: Any = {"require": list(REQUIRED_CLAIMS)}
        self._cache: dict[str, dict[str, Any]] = {}
        self._cache_size = max(0, int(cache_size))
        self._clock = clock

    def __repr__(self) -> str:
        return f"TokenService(algorithm={self.algorithm!r})"

    def issue(self, subject: str, claims: Mapping[str, Any], lifetime: float) -> str:
        """A new token for ``subject`` with extra ``claims``, valid ``lifetime`` s.

        Made by flask-jwt-extended's ``create_access_token`` (needs an
        application context with the JWTManager :func:`~.setup.install` set
        up); in an application whose own flask-jwt-extended setup is left
        alone, PyJWT writes the same claims with this service's key.
        """
        if not self.through_extension:
            now = int(self._clock())
            payload = {
                "fresh": False,
                "iat": now,
                "nbf": now,
                "jti": uuid.uuid4().hex,
                "type": "access",
                "sub": subject,
                "exp": now + max(1, int(lifetime)),
                **claims,
            }
            return jwt.encode(payload, self.key, algorithm=self.algorithm)
        from flask_jwt_extended import create_access_token

        return create_access_token(
            identity=subject,
            additional_claims=dict(claims),
            expires_delta=datetime.timedelta(seconds=lifetime),
        )

    def decode(self, token: Any) -> dict[str, Any] | None:
        """The claims of a valid token, else None. Do not modify the result."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        claims = self._cache.get(token)
        if claims is not None:
            if claims["exp"] > self._clock():
                return claims
            self._cache.pop(token, None)
            return None
        try:
            claims = jwt.decode(token, self.key, algorithms=self._algorithms, options=self._options)
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        if not _well_formed(claims):
            return None
        self._remember(token, claims)
        return claims

    def forget(self, token: str) -> None:
        """Drop a token from the verification cache."""
        self._cache.pop(token, None)

    def _remember(self, token: str, claims: dict[str, Any]) -> None:
        if not self._cache_size:
            return
        while len(self._cache) >= self._cache_size:
            try:
                self._cache.pop(next(iter(self._cache)))
            except (StopIteration, KeyError, RuntimeError):
                break
        self._cache[token] = claims


def _well_formed(claims: Any) -> bool:
    if not isinstance(claims, dict) or claims.get("type", "access") != "access":
        return False
    for name in _STRING_CLAIMS:
        if not isinstance(claims.get(name), str) or not claims[name]:
            return False
    for name in _NUMBER_CLAIMS:
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
    return True


def expires_at(claims: Mapping[str, Any]) -> datetime.datetime:
    """The ``exp`` claim as a naive UTC datetime."""
    return _utc_datetime(claims["exp"])


@functools.lru_cache(maxsize=1024)
def _utc_datetime(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).replace(tzinfo=None)


def token_cookie(token: str, max_age: int, *, secure: bool) -> str:
    """The ``Set-Cookie`` value carrying ``token``: HttpOnly, SameSite=Lax, Path=/."""
    return dump_cookie(
        COOKIE_NAME,
        token,
        max_age=max(0, int(max_age)),
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )


def expired_token_cookie(*, secure: bool) -> str:
    """The ``Set-Cookie`` value that removes the token cookie."""
    return dump_cookie(
        COOKIE_NAME,
        "",
        max_age=0,
        expires=0,
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )
