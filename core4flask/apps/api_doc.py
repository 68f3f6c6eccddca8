"""``/core4/api/v1/openapi.json`` and the API reference page.

Both describe the containers and rules of this application as far as the
requesting user may call them: each resource with its full routing regexes
(roots included) and the docstrings of the HTTP methods it answers go through
:func:`~.openapi.build_openapi`, public handlers for everyone, protected ones
only with the methods the user's permissions grant (``api://...`` with its
``crud`` letters, the handler's own ``verify_access``). A ``cop`` sees
everything. Both are self-service: every signed-in user may ask for its map.

Layer: the apps feature; it uses the request core and the helpers, never
authentication or roles.
"""

from __future__ import annotations

from typing import Any

from ..envelope import dumps
from ..exceptions import HTTPError
from ..handler import HTTP_METHODS, CoreRequestHandler
from ..pages import description_of
from ..templating import package_environment
from ..version import __version__
from .openapi import build_openapi

#: Methods an OpenAPI operation is made for (OPTIONS is CORS, HEAD is GET).
DOCUMENTED_METHODS = tuple(m for m in HTTP_METHODS if m not in ("options", "head"))


def resource_descriptions(ext: Any, may_call: Any = None) -> list[dict[str, Any]]:
    """The resources of every container, in routing order, for ``build_openapi``.

    ``may_call(resource, method)`` keeps only the methods it allows (and
    drops resources left with none); without it every method is described.
    """
    descriptions = []
    for app in ext.containers:
        for route in app.routes:
            resource = route.resource
            handler = resource.handler
            description = description_of(resource)
            methods = {}
            for name in DOCUMENTED_METHODS:
                func = getattr(handler, name, None)
                if callable(func) and (may_call is None or may_call(resource, name.upper())):
                    # core4 handlers often document every method in the class docstring
                    methods[name.upper()] = func.__doc__ or description or None
            if not methods and may_call is not None:
                continue
            descriptions.append(
                {
                    "rsc_id": resource.rsc_id,
                    "qual_name": resource.qual_name,
                    "title": resource.attribute("title"),
                    "subtitle": resource.attribute("subtitle") or resource.qual_name,
                    "description": description,
                    "protected": bool(resource.attribute("protected")),
                    "tag": list(resource.attribute("tag") or []),
                    "patterns": [app.root + route.source],
                    "methods": methods,
                    "container": app.qual_name,
                }
            )
    return descriptions


def permitted_for(user: Any, request: Any) -> Any:
    """``may_call(resource, method)`` for ``user``: what the handler itself would allow.

    Public handlers are open to everybody and a ``cop`` may call anything;
    otherwise the handler's ``verify_access`` decides, as it would for a
    request (a tenant handler without a client in the URL by its handler
    permission alone).
    """

    def may_call(resource: Any, method: str) -> bool:
        if not resource.attribute("protected") or user.is_admin():
            return True
        handler = resource.handler(resource, request)
        handler.user, handler.current_user = user, user.name
        try:
            return bool(handler.verify_access(method))
        except HTTPError:
            return bool(CoreRequestHandler.verify_access(handler, method))

    return may_call


def app_openapi(ext: Any, user: Any = None, request: Any = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of an application; with ``user``, only what that user may call."""
    may_call = permitted_for(user, request) if user is not None else None
    return build_openapi(resource_descriptions(ext, may_call), title="core4flask API", version=__version__)


class OpenApiHandler(CoreRequestHandler):
    """The OpenAPI 3.1 document of the APIs this server offers the signed-in user.

    Methods:
        GET /openapi.json - the document

    Returns:
        the OpenAPI document (not wrapped in an envelope)
    """

    title = "OpenAPI document"
    author = "core4flask"
    icon = "mdi-api"

    def verify_access(self, method: str | None = None) -> bool:
        """Every signed-in user may see the map of what it may call."""
        return True

    def get(self) -> Any:
        """The OpenAPI document as JSON."""
        document = app_openapi(self.ext, self.user, self.request)
        self.finish_body(dumps(document), "application/json; charset=UTF-8")
        return None


class ApiReferenceHandler(CoreRequestHandler):
    """A readable reference of the APIs this server offers the signed-in user.

    Methods:
        GET /api - the API reference page (HTML)
    """

    title = "API reference"
    author = "core4flask"
    icon = "mdi-book-open-variant"
    tag = ["operations"]

    def verify_access(self, method: str | None = None) -> bool:
        """Every signed-in user may read the reference of what it may call."""
        return True

    def get(self) -> Any:
        """The API reference as an HTML page."""
        template = package_environment().get_template("core4/apidoc.html")
        body = template.render(
            spec=app_openapi(self.ext, self.user, self.request),
            spec_url=f"{self.root}/openapi.json",
            static_url_for=lambda name: f"{self.root}/_asset/default/{self.rsc_id}/{name}",
        )
        self.finish_body(body, "text/html; charset=UTF-8")
        return None
