"""Rules of the mini-application part of the standard containers.

``RULES`` go into ``CoreApiServer`` at ``/core4/api/v1`` (settings, the
OpenAPI document, the API reference page); ``CoreAppManager`` serves the
launcher at ``/``. Every container also gets ``<root>/_info`` (see
:mod:`core4flask.container`).

Layer: the apps feature; it uses the request core and the helpers, never
authentication or roles.
"""

from __future__ import annotations

from ..container import CoreApiContainer
from .api_doc import ApiReferenceHandler, OpenApiHandler
from .launcher import LauncherHandler
from .setting import SettingHandler

__all__ = ["RULES", "CoreAppManager"]

#: Rules of ``/core4/api/v1`` provided by this package.
RULES = [
    (r"/setting", SettingHandler),
    (r"/setting/(.*)", SettingHandler),
    (r"/openapi\.json", OpenApiHandler),
    (r"/api", ApiReferenceHandler),
]


class CoreAppManager(CoreApiContainer):
    """The App Manager (launcher) at the site root."""

    root = ""
    rules = [(r"/?", LauncherHandler)]
