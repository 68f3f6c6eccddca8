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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeAlias

from flask import Flask, Request
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
    """The ``Core4`` extension as the layers below it see it: its configuration,
    its store, and the hooks authentication and the features fill (see
    :class:`core4flask.app.Core4` for what fills each hook and when it runs)."""

    #: the authenticator; None without authentication
    auth: Authenticator | None
    #: ``registry_entries(ext, environ)``: the listing entries of every live server
    #: (``environ``: the asking request's WSGI environment, never its Host header)
    registry_entries: Callable[[Any, Mapping[str, Any]], Entries] | None

    @property
    def app(self) -> Flask | None:
        """The Flask application (None before ``init_app``)."""
        ...

    @property
    def config(self) -> ConfigDict:
        """The configuration."""
        ...

    @property
    def store(self) -> Any:
        """The user and role store (a :class:`core4flask.store.Store`)."""
        ...

    @property
    def resources(self) -> Mapping[str, Any]:
        """Every resource of every registered container, by rsc_id."""
        ...

    @property
    def containers(self) -> Sequence[Any]:
        """The registered containers, in registration order."""
        ...

    @property
    def leading_rules(self) -> list[Rule]:
        """Rules every container gets before its own."""
        ...

    @property
    def automatic_rules(self) -> list[Rule]:
        """Rules every container gets after its own."""
        ...

    @property
    def on_prepare(self) -> list[Callable[[Any], None]]:
        """``callback(ext)`` once before serving starts."""
        ...

    @property
    def on_start(self) -> list[Callable[[Any, int | None], None]]:
        """``callback(ext, port)`` in every serving process."""
        ...

    @property
    def on_stop(self) -> list[Callable[[Any], None]]:
        """``callback(ext)`` when a serving process stops."""
        ...

    @property
    def on_auth_ready(self) -> list[Callable[[Any], None]]:
        """``callback(ext)`` once per process when authentication gets ready."""
        ...

    def container_of(self, root: str) -> object | None:
        """The registered container at ``root``."""
        ...

    def finish_response(self, request: Request, response: WerkzeugResponse, started: float) -> WerkzeugResponse:
        """CORS headers and the access-log line of a finished request."""
        ...


class Mount(Protocol):
    """A container as mounted: its root, its resources by rsc_id, the extension."""

    @property
    def root(self) -> str:
        """The normalised root (``""`` for the site root)."""
        ...

    @property
    def resources(self) -> Mapping[str, Any]:
        """The resources mounted in this container, by rsc_id."""
        ...

    @property
    def ext(self) -> Extension:
        """The extension serving it."""
        ...
