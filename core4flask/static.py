"""Static files: ``CoreStaticFileHandler`` and the ``_asset`` route.

Layer: the request core (a handler, below the container); it knows nothing of
authentication or the features.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import flask
from werkzeug.security import safe_join
from werkzeug.wrappers import Response as WerkzeugResponse

from .errors import HTTPError, error_response
from .handler import CoreRequestHandler
from .paths import module_dir, project_root, resolve_folder
from .resource import Resource
from .templating import PACKAGE_STATIC
from .types import Mount


class CoreStaticFileHandler(CoreRequestHandler):
    """Serves the files of a folder below the rule's pattern.

    The container appends ``(?:/(.*))?$`` to the pattern. ``path`` is the
    folder: relative to the container's module, ``/x`` from its project root.
    """

    is_static = True
    title = "core4 static file handler"
    author = "mra"
    #: the folder to serve
    path: str | None = None
    #: the file served for a folder URL
    default_filename: str = "index.html"
    perm_base = "container"
    propagate = (*CoreRequestHandler.propagate, "path", "default_filename")

    @classmethod
    def enter_target(cls, root: str, pattern: str, kwargs: dict[str, Any]) -> str:
        """Where the enter page of this resource leads."""
        explicit = kwargs.get("enter_url") or cls.enter_url
        if explicit:
            return explicit
        base = pattern[: -len(r"(?:/(.*))?$")] if pattern.endswith(r"(?:/(.*))?$") else pattern
        return (root + base) or "/"

    def verify_access(self, method: str | None = None) -> bool:
        """Static folders are granted by the container's qual_name."""
        container = self.resource.container.qual_name() if self.resource else self.qual_name()
        return self.user is not None and self.user.has_api_access(container, method or self.request.method)

    def folder(self) -> Path:
        """The folder this resource serves."""
        container = self.resource.container if self.resource else type(self)
        module = container.__module__
        return resolve_folder(self.path or "", module, relative_to=module_dir(module))

    def get(self, rest: str | None = None) -> Any:
        """Serve a file, the default file of a folder, or redirect to add a slash."""
        request = self.request
        if rest is None:
            return flask.redirect(request.path + "/", 301)
        folder = self.folder()
        target = safe_join(str(folder), rest) if rest else str(folder)
        if target is None:
            raise HTTPError(403, "path leaves the static folder")
        if os.path.isdir(target):
            if rest and not rest.endswith("/"):
                return flask.redirect(request.path + "/", 301)
            rest = (rest or "") + self.default_filename
        return send_file_from(folder, rest)


def send_file_from(folder: Path, name: str) -> WerkzeugResponse:
    """Send ``name`` from ``folder`` (404 when missing, never outside it)."""
    path = safe_join(str(folder), name)
    if path is None:
        raise HTTPError(403, "path leaves the static folder")
    if not os.path.isfile(path):
        raise HTTPError(404, f"file [{name}] not found")
    return flask.send_file(path, conditional=True, max_age=0)


def serve_asset(app: Mount, mode: str, rsc_id: str, path: str) -> WerkzeugResponse:
    """``<root>/_asset/(default|project)/<rsc_id>/<path>``."""
    resource: Resource | None = app.resources.get(rsc_id)
    if resource is None:
        return error_response(HTTPError(404, f"resource [{rsc_id}] not found"))
    handler: CoreRequestHandler = resource.handler(resource)
    try:
        method = handler.request.method
        if method == "OPTIONS":
            return handler.make_response(None)
        if method not in ("GET", "HEAD"):
            raise HTTPError(405, headers={"Allow": "GET, HEAD, OPTIONS"})
        if mode == "default":
            handler.prepare_protection()
            folder = app.ext.config.api.default_static or PACKAGE_STATIC
            return handler.make_response(send_file_from(Path(folder), path))
        folder, path = _project_file(handler, resource, path)
        return handler.make_response(send_file_from(folder, path))
    except Exception as exc:  # noqa: BLE001 - every failure becomes an error response
        return error_response(exc, handler.state)


def _project_file(handler: CoreRequestHandler, resource: Resource, path: str) -> tuple[Path, str]:
    """The folder and name of a ``project`` asset, once the client may have it.

    A public handler's assets are public only from the ``static_path`` its
    author chose. Its module folder (the default, which holds its source)
    and the project root (``//path``) are the project's files: like core4,
    they need a login, and the handler's permission where it is protected.
    """
    if any(part.startswith(".") for part in path.split("/")):
        raise HTTPError(404, "hidden files are not served")
    from_root = path.startswith("/")
    if handler.protected or from_root or not getattr(handler, "static_path", None):
        handler.prepare_protection() if handler.protected else handler.require_login()
    if from_root:
        return project_root(resource.handler.__module__), path.lstrip("/")
    return handler.static_folder(), path
