"""``/core4/api/v1/store``: core4's cross-user store, the App Manager's branding.

Documents live at paths (``/``, ``/client-1``, ``/client-1/team-A``). A
user's ``app://store/<path>`` permission picks their path (the first one in
sort order; without one, ``/``). Their document is the ``store.default``
configuration with the stored documents from ``/`` down to that path laid
over it, key by key (a stored key replaces the whole value of that key), as
core4's ``CoreStore`` builds it; it carries the ``_id`` of the deepest
stored document applied.

``PUT /store`` answers that document to every signed-in user. ``GET``,
``POST`` and ``DELETE`` manage the stored documents and need ``cop`` or an
``api://`` permission for this handler (letters r, c, d). The handler lives
in ``roles`` on purpose: the branding applies to users by their roles'
permissions, and ``api://core4flask.apps``, which every standard user holds,
must not let anyone rewrite it.

Layer: the roles feature; it may use authentication, the request core and the
helpers, never the apps feature.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from core4flask.arguments import json_body
from core4flask.auth.user import AuthUser
from core4flask.errors import HTTPError
from core4flask.handler import CoreRequestHandler

__all__ = [
    "MAX_DOCUMENT_SIZE",
    "RULES",
    "StoreHandler",
    "check_document",
    "direct_children",
    "lineage",
    "normalize_path",
    "overlay",
    "store_path_of",
]

#: the largest document ``POST`` accepts, in bytes of JSON (MongoDB's own limit is 16 MiB)
MAX_DOCUMENT_SIZE = 8 * 1024 * 1024
#: the longest store path
MAX_PATH_LENGTH = 1024
#: how deeply a document may nest
MAX_DEPTH = 32
#: the permission prefix that places a user in the store
STORE_PERMISSION = "app://store"

_INT64 = (-(2**63), 2**63 - 1)


def normalize_path(xpath: str | None) -> str:
    """The store path of a URL remainder: ``None`` or empty → ``/``; ``a//b/./c/`` → ``/a/b/c``.

    ``..`` never climbs above ``/``. Raises a 400 for an overlong path.
    """
    if not xpath:
        return "/"
    if len(xpath) > MAX_PATH_LENGTH:
        raise HTTPError(400, f"store path longer than {MAX_PATH_LENGTH} characters")
    # a leading "//" would survive normpath (POSIX leaves it alone)
    return posixpath.normpath("/" + xpath.lstrip("/"))


def parent_of(path: str) -> str:
    """``/a/b`` → ``/a``; ``/a`` → ``/``."""
    return posixpath.dirname(path)


def lineage(path: str) -> list[str]:
    """The paths from ``/`` down to ``path``: ``/a/b`` → ``["/", "/a", "/a/b"]``."""
    parts = [part for part in path.split("/") if part]
    return ["/"] + ["/" + "/".join(parts[: n + 1]) for n in range(len(parts))]


def direct_children(path: str, below: Iterable[str]) -> list[str]:
    """Those of ``below`` (paths under ``path``) that sit one level under it."""
    prefix = "/" if path == "/" else path + "/"
    return [p for p in below if p.startswith(prefix) and "/" not in p[len(prefix) :]]


def store_path_of(perms: Iterable[str]) -> str:
    """The store path a user's permissions select: the first ``app://store[/...]`` in sort order."""
    chosen = sorted(p for p in perms if p == STORE_PERMISSION or p.startswith(STORE_PERMISSION + "/"))
    return normalize_path(chosen[0][len(STORE_PERMISSION) :]) if chosen else "/"


def plain(value: Any) -> Any:
    """``value`` with every mapping a plain dict and every sequence a list (config data is not)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def overlay(default: Mapping[str, Any] | None, stored: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """``default`` with each stored ``(path, document)`` laid over it in turn, key by key.

    Every document applied sets ``_id`` to its path, so the result names the
    deepest one (no ``_id`` when none was stored).
    """
    doc = plain(default or {})
    for path, found in stored:
        doc.update(copy.deepcopy(dict(found)))
        doc["_id"] = path
    return doc


def check_document(value: Any) -> dict[str, Any]:
    """``value`` if both stores can keep it as a store document, else a 400 naming the problem.

    A JSON object; no ``_id`` (the path names the document); no key that
    starts with ``$`` or holds a ``.``; integers within 64 bits; at most
    :data:`MAX_DEPTH` levels.
    """
    if not isinstance(value, dict):
        raise HTTPError(400, "the store document must be a JSON object")
    if "_id" in value:
        raise HTTPError(400, "key [_id] is not allowed: the URL path names the document")
    _check_value(value, 1)
    return value


def _check_value(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise HTTPError(400, f"the store document nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$") or "." in key:
                raise HTTPError(400, f"key [{key}] is not allowed: keys must not start with $ or contain .")
            _check_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_value(item, depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
        raise HTTPError(400, f"integer [{value}] does not fit in 64 bits")


class StoreHandler(CoreRequestHandler):
    """core4's cross-user store: the signed-in user's branding document, and its management.

    Methods:
        PUT /store - the signed-in user's document (any signed-in user)
        GET /store/<path> - one stored document with its children and what it inherits
        POST /store/<path> - create or replace the document at the path
        DELETE /store/<path> - delete the document (and those below it with ``recursive``)

    Parameters:
        path (str): the document's place in the URL; ``/store`` and ``/store/`` are ``/``
        body (dict): POST, the document as a JSON object
        recursive (bool): DELETE, also delete the documents below (default false)

    Returns:
        data (dict): PUT ``parents`` (the paths from ``/`` to the user's) and
        ``doc`` (the configured defaults with the stored documents laid over
        them); GET ``children``, ``root``, ``body`` (the stored document) and
        ``inherited``; POST the stored document; DELETE the deleted paths

    Raises:
        400: the body is not a JSON object fit for the store; DELETE without a
            path, or of a document with others below it and no ``recursive``
        401: not signed in
        403: GET, POST or DELETE without ``cop`` or an ``api://`` permission
        404: POST below a path that holds no document; DELETE of a missing one
        405: PUT with a path
        413: a document larger than 8 MiB
    """

    title = "cross-user store"
    subtitle = "branding and defaults for users by their app://store permission"
    author = "core4flask"
    icon = "mdi-palette"

    def verify_access(self, method: str | None = None) -> bool:
        """Every signed-in user reads their own document with PUT; the rest needs a permission."""
        if (method or self.request.method) == "PUT":
            return True
        return super().verify_access(method)

    @property
    def defaults(self) -> Mapping[str, Any]:
        """The configured ``store.default`` document."""
        return self.config.get_path("store.default") or {}

    def put(self, xpath: str | None = None) -> dict[str, Any]:
        """The signed-in user's document and the paths it was built from."""
        if xpath is not None:
            raise HTTPError(
                405,
                "PUT takes no path: it answers the signed-in user's own document",
                headers={"Allow": "GET, HEAD, POST, DELETE, OPTIONS"},
            )
        user = self.user
        if not isinstance(user, AuthUser):  # a user of core4flask's authentication has perm_total
            raise self.unauthorized()
        parents = lineage(store_path_of(user.perm_total))
        found = self.ext.store.store_doc_get_many(parents)
        return {"parents": parents, "doc": overlay(self.defaults, ((p, found[p]) for p in parents if p in found))}

    def get(self, xpath: str | None = None) -> dict[str, Any]:
        """The document at the path, its direct children and what it inherits."""
        path = normalize_path(xpath)
        store = self.ext.store
        parents = lineage(path)
        found = store.store_doc_get_many(parents)
        inherited = overlay(self.defaults, ((p, found[p]) for p in parents if p in found))
        inherited.pop("_id", None)
        body = found.get(path, None if path == "/" else {})
        return {
            "children": direct_children(path, store.store_doc_paths_below(path)),
            "root": path,
            "body": body,
            "inherited": inherited,
        }

    def post(self, xpath: str | None = None) -> dict[str, Any]:
        """Create or replace the document at the path (its parent must exist)."""
        path = normalize_path(xpath)
        doc = check_document(self._posted_json())
        store = self.ext.store
        if path != "/" and store.store_doc_get(parent_of(path)) is None:
            raise HTTPError(404, f"parent [{parent_of(path)}] of [{path}] not found: create it first")
        store.store_doc_put(path, doc)
        return doc

    def delete(self, xpath: str | None = None) -> list[str]:
        """Delete the document at the path; ``recursive`` also those below it."""
        if xpath is None:
            raise HTTPError(400, "DELETE needs a path: /store/ for the root document")
        path = normalize_path(xpath)
        recursive = self.get_argument("recursive", as_type=bool, default=False)
        store = self.ext.store
        below = store.store_doc_paths_below(path)
        if below and not recursive:
            raise HTTPError(400, f"[{path}] has {len(below)} document(s) below it: pass recursive=true")
        if store.store_doc_get(path) is None:
            raise HTTPError(404, f"store document [{path}] not found")
        return sorted(store.store_doc_delete([path, *below]), reverse=True)

    def _posted_json(self) -> Any:
        too_large = HTTPError(413, f"store document larger than {MAX_DOCUMENT_SIZE} bytes")
        if (self.request.content_length or 0) > MAX_DOCUMENT_SIZE:
            raise too_large
        value = json_body(self.request, self.max_json_depth())  # an unreadable body is its 400/413 here
        if value is None:
            raise HTTPError(400, "failed to parse JSON: the body must be a JSON object")
        if len(self.request.get_data(cache=True)) > MAX_DOCUMENT_SIZE:
            raise too_large
        return value


#: The store's rules of the standard container (``/core4/api/v1``).
RULES = [
    (r"/store", StoreHandler),
    (r"/store(/.*)", StoreHandler),
]
