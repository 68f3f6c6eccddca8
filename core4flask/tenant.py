"""``CoreTenantHandler``: handlers serving one client (tenant) per URL."""

from __future__ import annotations

from typing import Any

from .errors import HTTPError
from .handler import CoreRequestHandler


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
        """Access to the handler and to the client named in the URL."""
        if not super().verify_access(method):
            return False
        if self.client is None:
            raise HTTPError(400, "this tenant URL names no client")
        return bool(self.user.has_client_access(self.client))
