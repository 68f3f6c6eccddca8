"""Static files: ``CoreStaticFileHandler``, the ``_asset`` route, Flask's ``/static``.

Every route that serves files from a folder asks :func:`servable_file` for
the file. It refuses, whatever the configuration, what no client may read:
paths leaving the folder (also through a symlink), dot-files and
dot-folders, Python sources and byte code, configuration files (by their
suffix, and the file ``CORE4_CONFIG`` names), the store's database files and
anything in the application's instance folder. ``download()`` is not such a
route: it sends the one file its handler's author chose.

Layer: the request core (a handler, below the container); it knows nothing of
authentication or the features.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
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

#: Suffixes (lower case) of files no route serves: sources, configuration, keys, databases.
NEVER_SERVED_SUFFIXES = (
    ".py",
    ".pyc",
    ".pyo",
    ".pyd",
    ".yaml",
    ".yml",
    ".cfg",
    ".conf",
    ".ini",
    ".toml",
    ".env",
    ".pem",
    ".key",
    ".sqlite",
    ".sqlite3",
    ".db",
    "-wal",
    "-shm",
    "-journal",
)
#: Folder names no route serves anything below.
NEVER_SERVED_FOLDERS = frozenset(("__pycache__",))


class CoreStaticFileHandler(CoreRequestHandler):
    """Serves the files of a folder below the rule's pattern.

    The container appends ``(?:/(.*))?$`` to the pattern. ``path`` is the
    folder: relative to the container's module, ``/x`` from its project root.
    Dot-files, sources and configuration files are never served, and no
    symlink leads out of the folder (see :func:`servable_file`).
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


def private_paths() -> list[Path]:
    """Files and folders of this application no route serves: its instance
    folder and the configuration file ``CORE4_CONFIG`` names (or the default one)."""
    paths = [Path(os.environ.get("CORE4_CONFIG") or "~/.core4/local.yaml").expanduser()]
    if flask.has_app_context():
        paths.append(Path(flask.current_app.instance_path))
    return paths


def refused_name(parts: Iterable[str]) -> str | None:
    """Why a file with these path parts (below its folder) is never served, or None."""
    parts = [part for part in parts if part not in ("", ".")]
    for part in parts:
        if part.startswith("."):
            return "hidden files are not served"
        if part in NEVER_SERVED_FOLDERS:
            return "Python byte code is not served"
    name = parts[-1].lower() if parts else ""
    if name.endswith(NEVER_SERVED_SUFFIXES):
        return "sources, configuration and database files are not served"
    return None


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def servable_file(folder: str | os.PathLike[str], name: str, private: Iterable[Path] | None = None) -> str:
    """The real path of the file ``name`` below ``folder``, once it may be served.

    Raises 403 for a path that leaves the folder by ``..``, and 404 for a
    file that is missing, reached through a symlink out of the folder, or
    never served (:func:`refused_name`, the instance folder, the
    configuration file). ``private`` defaults to :func:`private_paths`.
    """
    if not name.strip("/"):
        raise HTTPError(404, "no file named")
    joined = safe_join(os.fspath(folder), name)
    if joined is None:
        raise HTTPError(403, "path leaves the static folder")
    reason = refused_name(posixpath.normpath(name).split("/"))
    real_folder = os.path.realpath(folder)
    real = os.path.realpath(joined)
    if reason is None and not _inside(real, real_folder):
        reason = "the path leads out of the static folder"
    if reason is None:
        # a symlink inside the folder may point at a hidden or private file in it
        reason = refused_name(Path(os.path.relpath(real, real_folder)).parts)
    if reason is None:
        for path in private_paths() if private is None else private:
            if _inside(real, os.path.realpath(path)):
                reason = "the instance folder and the configuration are not served"
                break
    if reason is not None:
        raise HTTPError(404, f"file [{name}] not found: {reason}")
    if not os.path.isfile(real):
        raise HTTPError(404, f"file [{name}] not found")
    return real


def send_file_from(folder: Path, name: str) -> WerkzeugResponse:
    """Send ``name`` from ``folder`` (see :func:`servable_file`)."""
    return flask.send_file(servable_file(folder, name), conditional=True, max_age=0)


def guard_flask_static(app: flask.Flask) -> None:
    """Let Flask's own ``/static`` route serve only what :func:`servable_file` allows."""
    view = app.view_functions.get("static")
    folder = app.static_folder
    if view is None or folder is None:
        return

    def static(filename: str) -> Any:
        try:
            servable_file(folder, filename)
        except HTTPError:
            flask.abort(404)
        return view(filename=filename)

    app.view_functions["static"] = static


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
        handler.prepare_protection()
        if mode == "default":
            folder = app.ext.config.api.default_static or PACKAGE_STATIC
            return handler.make_response(send_file_from(Path(folder), path))
        folder, path = project_asset(handler, path)
        return handler.make_response(send_file_from(folder, path))
    except Exception as exc:  # noqa: BLE001 - every failure becomes an error response
        return error_response(exc, handler.state)


def project_asset(handler: CoreRequestHandler, path: str) -> tuple[Path, str]:
    """The folder and name of a ``project`` asset: only below the handler's ``static_path``.

    ``path`` is relative to the static folder; with a leading ``/`` (core4's
    ``static_url("/x")``) it is relative to the project root, and still must
    lie below the static folder. A handler without a ``static_path`` has no
    assets: its module folder holds its source, the project root its
    configuration.
    """
    if not getattr(handler, "static_path", None):
        raise HTTPError(404, f"[{handler.qual_name()}] declares no static_path")
    folder = handler.static_folder()
    if not path.startswith("/"):
        return folder, path
    wanted = posixpath.normpath(path.lstrip("/")) if path.strip("/") else ""
    if wanted.startswith(".."):
        raise HTTPError(403, "path leaves the project")
    relative = os.path.relpath(project_root(type(handler).__module__) / wanted, folder)
    if relative == os.curdir or relative.startswith(os.pardir):
        raise HTTPError(404, f"file [{path}] is not below the static folder")
    return folder, Path(relative).as_posix()
