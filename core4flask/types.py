"""The shapes the layers meet at, as Protocols.

A pure helper: the request core is written against these, and the parts
above it (the ``Core4`` extension, authentication, the features) fill them
in. So the core never imports what sits above it:

* :class:`Extension` is what the core needs of :class:`core4flask.app.Core4`
  (configuration, the store, the hooks the features fill);
* :class:`Authenticator` is ``ext.auth`` (:mod:`core4flask.auth` fills it):
  it reads a :class:`CredentialSource` and returns an
  :class:`Authentication`, which the handler applies;
* :class:`User` is ``handler.user``;
* :class:`Mount` is a container as mounted (:class:`core4flask.container.ContainerApp`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeAlias

from flask import Request
from werkzeug.wrappers import Response as WerkzeugResponse

from .config import ConfigDict

__all__ = [
    "Authentication",
    "Authenticator",
    "CredentialSource",
    "Entries",
    "Extension",
    "Mount",
    "Rule",
    "User",
]

#: A container rule: ``(pattern, handler[, kwargs[, name]])``.
Rule: TypeAlias = tuple[Any, ...]
#: Listing entries of mini applications (``<root>/_info``): one dict per resource.
Entries: TypeAlias = list[dict[str, Any]]


class User(Protocol):
    """The signed-in user (``handler.user``; :class:`core4flask.auth.user.AuthUser`)."""

    #: the user's id (24 hex digits)
    _id: str
    #: the user name
    name: str

    def is_admin(self) -> bool:
        """Whether the user holds ``cop``."""
        ...

    def has_api_access(self, qual_name: str, method: str = "GET") -> bool:
        """Whether the handler ``qual_name`` may be called with ``method``."""
        ...

    def has_info_access(self, qual_name: str) -> bool:
        """Whether the handler ``qual_name`` may be listed."""
        ...

    def has_client_access(self, client: str) -> bool:
        """Whether the tenant ``client`` is granted."""
        ...


class CredentialSource(Protocol):
    """What authentication reads of a request.

    The credential arguments (``token``, ``username``, ``password``) are
    taken out of :attr:`arguments`, so the handler never sees a password.
    """

    @property
    def request(self) -> Request:
        """The request."""
        ...

    @property
    def arguments(self) -> dict[str, list[Any]]:
        """Its merged arguments (query, form, JSON body)."""
        ...


class Authentication(Protocol):
    """What authentication found; the handler applies it to itself and its response."""

    @property
    def user(self) -> User:
        """The user."""
        ...

    @property
    def session(self) -> object:
        """How the request authenticated (for login and logout)."""
        ...

    @property
    def token_exp(self) -> datetime.datetime | None:
        """When the token the client holds after this response expires (None: no token)."""
        ...

    @property
    def new_token(self) -> str | None:
        """A fresh token the response carries (header ``token``), else None."""
        ...

    @property
    def token_cookie(self) -> str | None:
        """The ``Set-Cookie`` value carrying :attr:`new_token`."""
        ...


class Authenticator(Protocol):
    """``ext.auth``: who is calling."""

    def authenticate(self, source: CredentialSource) -> Authentication | None:
        """What the request's credentials prove, or None without valid ones."""
        ...


class Extension(Protocol):
    """What the request core needs of the ``Core4`` extension (see its hooks)."""

    #: the configuration
    config: ConfigDict
    #: the authenticator; None without authentication
    auth: Authenticator | None
    #: every resource of every registered container, by rsc_id
    resources: Mapping[str, Any]
    #: rules every container gets before its own
    leading_rules: list[Rule]
    #: rules every container gets after its own
    automatic_rules: list[Rule]
    #: the listing entries of every live server (card and help pages merge theirs)
    registry_entries: Callable[[Any, str], Entries] | None

    @property
    def store(self) -> Any:
        """The user and role store."""
        ...

    def container_of(self, root: str) -> object | None:
        """The registered container at ``root``."""
        ...

    def finish_response(self, request: Request, response: WerkzeugResponse, started: float) -> WerkzeugResponse:
        """CORS headers and the access-log line of a finished request."""
        ...


class Mount(Protocol):
    """A container as mounted: its root, its resources by rsc_id, the extension."""

    #: the normalised root (``""`` for the site root)
    root: str
    #: resources mounted in this container, by rsc_id
    resources: Mapping[str, Any]
    #: the extension serving it
    ext: Extension
