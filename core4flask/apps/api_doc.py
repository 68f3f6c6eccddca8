"""``/core4/api/v1/openapi.json`` and the API reference page.

Both describe every container and rule of this application: each resource
with its full routing regexes (roots included) and the docstrings of the
HTTP methods it answers go through :func:`~.openapi.build_openapi`. That
lists protected handlers too, so both are protected like any other standard
endpoint: a matching ``api://`` permission (``api://core4flask`` grants all)
or ``cop``.

Layer: the apps feature; it uses the request core and the helpers, never
authentication or roles.
"""

from __future__ import annotations

from typing import Any

from ..envelope import dumps
from ..handler import HTTP_METHODS, CoreRequestHandler
from ..pages import description_of
from ..templating import package_environment
from ..version import __version__
from .openapi import build_openapi

#: Methods an OpenAPI operation is made for (OPTIONS is CORS, HEAD is GET).
DOCUMENTED_METHODS = tuple(m for m in HTTP_METHODS if m not in ("options", "head"))


def resource_descriptions(ext: Any) -> list[dict[str, Any]]:
    """The resources of every container, in routing order, for ``build_openapi``."""
    descriptions = []
    for app in ext.containers:
        for route in app.routes:
            resource = route.resource
            handler = resource.handler
            description = description_of(resource)
            methods = {}
            for name in DOCUMENTED_METHODS:
                func = getattr(handler, name, None)
                if callable(func):
                    # core4 handlers often document every method in the class docstring
                    methods[name.upper()] = func.__doc__ or description or None
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


def app_openapi(ext: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 document of an application."""
    return build_openapi(resource_descriptions(ext), title="core4flask API", version=__version__)


class OpenApiHandler(CoreRequestHandler):
    """The OpenAPI 3.1 document of every API this server offers.

    Methods:
        GET /openapi.json - the document

    Returns:
        the OpenAPI document (not wrapped in an envelope)
    """

    title = "OpenAPI document"
    author = "core4flask"
    icon = "mdi-api"

    def get(self) -> Any:
        """The OpenAPI document as JSON."""
        self.finish_body(dumps(app_openapi(self.ext)), "application/json; charset=UTF-8")
        return None


class ApiReferenceHandler(CoreRequestHandler):
    """A readable reference of every API this server offers.

    Methods:
        GET /api - the API reference page (HTML)
    """

    title = "API reference"
    author = "core4flask"
    icon = "mdi-book-open-variant"
    tag = ["operations"]

    def get(self) -> Any:
        """The API reference as an HTML page."""
        template = package_environment().get_template("core4/apidoc.html")
        body = template.render(
            spec=app_openapi(self.ext),
            spec_url=f"{self.root}/openapi.json",
            static_url_for=lambda name: f"{self.root}/_asset/default/{self.rsc_id}/{name}",
        )
        self.finish_body(body, "text/html; charset=UTF-8")
        return None
