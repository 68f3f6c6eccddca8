"""``CoreTenantHandler``: handlers serving one client (tenant) per URL.

Layer: the request core (a handler, below the container); it knows nothing of
authentication or the features.
"""

from __future__ import annotations

from typing import Any

from .errors import HTTPError
from .handler import CoreRequestHandler

#: the pseudo-methods of the help, card and enter pages (core4's X-forms included)
PAGE_METHODS = frozenset(("HELP", "CARD", "ENTER", "XHELP", "XCARD", "XENTER"))


class CoreTenantHandler(CoreRequestHandler):
    """A handler whose URL names a client; users need ``app://client/<name>``.

    The client comes from the named URL group ``client``, else from the first
    unnamed group; that group is not passed on to the method.
    """

    #: the client (tenant) of this request
    client: str | None = None

    def run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Take the client out of the URL arguments, then serve."""
        if "client" in kwargs:
            kwargs = dict(kwargs)
            self.client = kwargs.pop("client")
        elif args:
            self.client, args = args[0], tuple(args[1:])
        return super().run(args, kwargs)

    def verify_access(self, method: str | None = None) -> bool:
        """Access to the handler and, for a real request, to the client named in the URL.

        Help, card and enter pages (pseudo-methods) have no URL arguments and
        serve no client's data: access to the handler suffices for them.
        """
        if not super().verify_access(method):
            return False
        if (method or "").upper() in PAGE_METHODS:
            return True
        if self.client is None:
            raise HTTPError(400, "this tenant URL names no client")
        return self.user is not None and self.user.has_client_access(self.client)

    def enter(self) -> Any:
        """The landing page: needs ``enter_url``, as the GET would serve no client."""
        if self.client is None:
            raise HTTPError(400, "this tenant resource serves one client per URL: open it through one of its URLs")
        return super().enter()
