"""Where a request's credentials come from, in the contract's order.

1. ``Authorization: Bearer <token>`` or ``Authorization: Basic <base64>``;
2. the ``token`` argument (query string, form or JSON body);
3. the ``username`` and ``password`` arguments (both non-empty);
4. the ``token`` cookie.

The first source present decides: a bad token in the header is not rescued
by a good cookie. An ``Authorization`` header that cannot be used (another
scheme, malformed base64, no ``:``) counts as absent, and so does a
placeholder where a token belongs (:func:`is_placeholder_token`). The three credential
arguments are always taken out of the handler's arguments, so handlers
never see a password. Parsing never raises.

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, NamedTuple

from ..types import CredentialSource
from .tokens import COOKIE_NAME

__all__ = [
    "CREDENTIAL_ARGUMENTS",
    "Credentials",
    "PLACEHOLDER_TOKENS",
    "find_credentials",
    "is_placeholder_token",
    "parse_authorization",
    "take_credential_arguments",
]

#: Request arguments that carry credentials and are removed from handlers.
CREDENTIAL_ARGUMENTS = ("token", "username", "password")
#: What browser front ends send for a token they do not have (JavaScript's
#: ``undefined`` and ``null`` turned into text; core4's UI puts ``-1`` into
#: avatar URLs). None of them can be a token.
PLACEHOLDER_TOKENS = frozenset(("", "undefined", "null", "-1"))


def is_placeholder_token(value: str) -> bool:
    """Whether a bearer value or ``token`` argument stands for "no token".

    core4's App Manager signs in with the cookie but sends ``Bearer
    undefined`` and ``?token=-1``; counting these as absent lets the cookie
    speak. Anything else, however malformed, is still checked as a token.
    """
    return value.strip() in PLACEHOLDER_TOKENS


class Credentials(NamedTuple):
    """Credentials found in a request: a token, or a username and password."""

    #: ``bearer``, ``basic``, ``argument`` or ``cookie``
    source: str
    #: the session token (token credentials)
    token: str | None = None
    #: the username as sent (password credentials)
    username: str | None = None
    #: the password (password credentials)
    password: str | None = None

    @property
    def is_password(self) -> bool:
        """Whether these are username and password rather than a token."""
        return self.token is None

    def __repr__(self) -> str:
        kind = "password" if self.is_password else "token"
        return f"Credentials(source={self.source!r}, kind={kind!r}, username={self.username!r})"


def parse_authorization(header: str | None) -> Credentials | None:
    """Credentials of an ``Authorization`` header; None when unusable."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    scheme = scheme.lower()
    if not value:
        return None
    if scheme == "bearer":
        return None if is_placeholder_token(value) else Credentials("bearer", token=value)
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username or not password:
        return None
    return Credentials("basic", username=username, password=password)


def take_credential_arguments(source: CredentialSource) -> dict[str, Any]:
    """Remove ``token``, ``username`` and ``password`` from the request's
    arguments; return the last value of each that was present."""
    environ = source.request.environ
    # read the WSGI environ directly: request properties cost more than the check
    if (
        not environ.get("QUERY_STRING")
        and environ.get("CONTENT_LENGTH") in (None, "", "0")
        and "HTTP_TRANSFER_ENCODING" not in environ
    ):
        return {}
    arguments = source.arguments
    taken: dict[str, Any] = {}
    for name in CREDENTIAL_ARGUMENTS:
        values = arguments.pop(name, None)
        if values:
            taken[name] = values[-1]
    return taken


def find_credentials(source: CredentialSource) -> Credentials | None:
    """The credentials of ``source``'s request, or None."""
    request = source.request
    arguments = take_credential_arguments(source)
    found = parse_authorization(request.environ.get("HTTP_AUTHORIZATION"))
    if found is not None:
        return found
    token = arguments.get("token")
    if isinstance(token, str) and not is_placeholder_token(token):
        return Credentials("argument", token=token)
    username, password = arguments.get("username"), arguments.get("password")
    if isinstance(username, str) and isinstance(password, str) and username and password:
        return Credentials("argument", username=username, password=password)
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        return Credentials("cookie", token=cookie)
    return None
