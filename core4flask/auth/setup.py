"""``install(ext)``: wire authentication into a :class:`~core4flask.Core4` extension.

Called by ``Core4.init_app``. It sets ``ext.auth``, adds ``<root>/login``
and ``<root>/logout`` to every container, checks the secret and bootstraps
the admin user before serving, and sets up flask-jwt-extended (which makes
the tokens) with the same key and algorithm the authenticator verifies with.

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from flask_jwt_extended import JWTManager

from ..store.base import StoreUnavailable
from ..types import Extension
from .authenticator import Authenticator
from .routes import LoginHandler, LogoutHandler
from .tokens import COOKIE_NAME

__all__ = ["configure_jwt", "install", "prepare"]

log = logging.getLogger("core4flask")


def install(ext: Extension) -> None:
    """Install authentication on ``ext`` (before containers are registered)."""
    ext.auth = Authenticator(ext)
    ext.automatic_rules.append((r"/login", LoginHandler))
    ext.automatic_rules.append((r"/logout", LogoutHandler))
    ext.on_prepare.append(prepare)
    if ext.app is not None:
        configure_jwt(ext.app, ext.auth)


def prepare(ext: Extension) -> None:
    """Before serving: refuse to start without a usable secret; bootstrap the admin.

    A store that is down does not stop the server: requests answer 503 and
    the first request after the store is back finishes the preparation.
    """
    auth = ext.auth
    if not isinstance(auth, Authenticator):
        return
    try:
        auth.ensure_ready()
    except StoreUnavailable:
        log.warning("the store is not reachable; serving 503 until it is", exc_info=True)


def configure_jwt(app: Any, auth: Authenticator) -> JWTManager | None:
    """Set up flask-jwt-extended on ``app`` to make and accept core4flask tokens.

    Its own decorators (``@jwt_required()``) then accept the session tokens
    too, with the same key, algorithm and revocation list. An application
    that set up flask-jwt-extended itself keeps its configuration, its
    loaders and its tokens: core4flask then makes its tokens with PyJWT.
    """
    if "flask-jwt-extended" in app.extensions:
        auth.tokens_through_extension = False
        return None
    app.config.update(
        JWT_ALGORITHM=auth.algorithm,
        JWT_DECODE_ALGORITHMS=[auth.algorithm],
        JWT_ACCESS_TOKEN_EXPIRES=datetime.timedelta(seconds=auth.expiration),
        JWT_TOKEN_LOCATION=["headers", "cookies"],
        JWT_ACCESS_COOKIE_NAME=COOKIE_NAME,
        JWT_COOKIE_CSRF_PROTECT=False,
    )
    manager = JWTManager(app)
    manager.encode_key_loader(lambda _identity: auth.signing_key())
    manager.decode_key_loader(lambda _header, _payload: auth.signing_key())
    manager.token_in_blocklist_loader(lambda _header, payload: auth.is_revoked(payload))
    return manager
