"""The token secret: configured, kept by the embedded store, or refused.

``api.token.secret`` wins. Without it, the embedded SQLite store generates
one random secret per installation and keeps it, so every worker process
agrees. A MongoDB store is shared by servers on several hosts, which must be
given the same secret explicitly; a production start (``CORE4_PRODUCTION``)
never generates one. In both cases the server refuses to start.

Tokens are signed with the secret itself, so any JWT tool given
``api.token.secret`` verifies them. PyJWT advises (a warning, once) when a
configured secret is shorter than the algorithm's digest.
Neither the secret nor the key is ever printed or logged.

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "ALGORITHMS",
    "MIN_SECRET_LENGTH",
    "SecretError",
    "check_algorithm",
    "production_mode",
    "resolve_secret",
    "signing_key",
]

#: Token algorithms a server may be configured with: HMAC only, so a public
#: key can never be mistaken for a shared secret (algorithm confusion).
ALGORITHMS: Mapping[str, Callable[..., Any]] = {
    "HS256": hashlib.sha256,
    "HS384": hashlib.sha384,
    "HS512": hashlib.sha512,
}
#: Shortest configured secret accepted.
MIN_SECRET_LENGTH = 16
#: Where the embedded store keeps a generated secret.
KEPT_NAMESPACE, KEPT_KEY = "auth", "token_secret"
#: Environment variable that marks a production start.
PRODUCTION_ENV = "CORE4_PRODUCTION"


class SecretError(RuntimeError):
    """No usable token secret: the server must not start."""


def production_mode(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``CORE4_PRODUCTION`` asks for a production start."""
    value = (os.environ if environ is None else environ).get(PRODUCTION_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def check_algorithm(algorithm: Any) -> str:
    """Return the configured algorithm if it is one of :data:`ALGORITHMS`."""
    if algorithm not in ALGORITHMS:
        raise SecretError(f"api.token.algorithm [{algorithm}] is not supported; use one of {', '.join(ALGORITHMS)}")
    return str(algorithm)


def resolve_secret(
    config: Any,
    store: Callable[[], Any],
    *,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Return the token secret for ``config``; ``store()`` opens the store if needed.

    Raises:
        SecretError: no secret is configured and none may be generated, or
            the configured one is not a string of at least
            :data:`MIN_SECRET_LENGTH` characters.
    """
    configured = config.get_path("api.token.secret")
    if configured not in (None, ""):
        if not isinstance(configured, str) or len(configured) < MIN_SECRET_LENGTH:
            raise SecretError(f"api.token.secret must be a string of at least {MIN_SECRET_LENGTH} characters")
        return configured
    if config.get("mongo_url"):
        raise SecretError(
            "api.token.secret is not set: servers sharing a MongoDB store must all be given "
            "the same secret (for example CORE4_OPTION_api__token__secret)"
        )
    if production_mode(environ):
        kept = store().kv_get(KEPT_NAMESPACE, KEPT_KEY)
        if isinstance(kept, str) and kept:
            return kept
        raise SecretError(
            f"api.token.secret is not set and {PRODUCTION_ENV} forbids generating one; "
            "configure it (for example CORE4_OPTION_api__token__secret)"
        )
    kept = store().kv_set_if_absent(KEPT_NAMESPACE, KEPT_KEY, secrets.token_urlsafe(64))
    return str(kept)


def signing_key(secret: str, algorithm: str) -> bytes:
    """The key tokens are signed with: the secret's UTF-8 bytes."""
    check_algorithm(algorithm)
    return secret.encode("utf-8")
