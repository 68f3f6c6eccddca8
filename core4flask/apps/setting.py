"""``/core4/api/v1/setting[/<key>/...]``: per-user settings, as in core4.

One document per user (keyed by the user's ``_id``) merged over the config
defaults ``user_setting``. Level-1 keys are ``_general`` (system data, only
keys present in the defaults may start with ``_``) and any project name.
The launcher keeps its favourites, order and filters under ``launcher``.

Layer: the apps feature; it uses the request core and the helpers, never
authentication or roles.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..arguments import merged_arguments
from ..errors import PlainHTTPError
from ..handler import CoreRequestHandler

#: core4's error texts, sent as the bare ``error`` (see :class:`PlainHTTPError`).
INVALID_NAME = "Invalid resource name"
EMPTY_BODY = "Body in request is empty"
NOT_FOUND = "Resource not found"


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``update`` merged in; dicts merge, others replace."""
    merged = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def split_path(path: str | None) -> list[str]:
    """The key path below ``/setting``; an empty segment is a 400."""
    if not path:
        return []
    parts = path.rstrip("/").split("/") if path.strip("/") else []
    if any(part == "" for part in parts):
        raise PlainHTTPError(400, INVALID_NAME)
    return parts


def check_level1(key: Any, defaults: Mapping[str, Any]) -> None:
    """A level-1 key is non-empty; ``_``-keys must exist in the defaults."""
    if not isinstance(key, str) or not key or (key.startswith("_") and key not in defaults):
        raise PlainHTTPError(400, INVALID_NAME)


def validate(parts: list[str], data: Any, defaults: Mapping[str, Any]) -> None:
    """core4's rules for what may be written at a path.

    No path: a dict of dicts with valid level-1 and non-empty level-2 keys.
    One segment: a valid level-1 name and a dict without empty keys. Deeper:
    only the level-1 name is checked.
    """
    if not data:
        raise PlainHTTPError(400, EMPTY_BODY)
    if not parts:
        if not isinstance(data, dict):
            raise PlainHTTPError(400, INVALID_NAME)
        for key, value in data.items():
            check_level1(key, defaults)
            if not isinstance(value, dict) or any(not isinstance(k, str) or not k for k in value):
                raise PlainHTTPError(400, INVALID_NAME)
        return
    check_level1(parts[0], defaults)
    if len(parts) == 1 and (not isinstance(data, dict) or any(not isinstance(k, str) or not k for k in data)):
        raise PlainHTTPError(400, INVALID_NAME)


def nest(parts: list[str], data: Any) -> dict[str, Any]:
    """``["a", "b"], 1`` → ``{"a": {"b": 1}}``."""
    for key in reversed(parts):
        data = {key: data}
    return data


def walk(doc: Any, parts: list[str]) -> Any:
    """The value at ``parts`` (400 when a key is missing)."""
    for key in parts:
        if not isinstance(doc, dict) or key not in doc:
            raise PlainHTTPError(400, INVALID_NAME)
        doc = doc[key]
    return doc


def unset(doc: dict[str, Any], parts: list[str]) -> bool:
    """Remove the value at ``parts``; False when there was none."""
    node: Any = doc
    for key in parts[:-1]:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    if not isinstance(node, dict) or parts[-1] not in node:
        return False
    del node[parts[-1]]
    return True


class SettingHandler(CoreRequestHandler):
    """Per-user settings, merged over the configured defaults.

    Methods:
        GET /setting - all settings, defaults included
        GET /setting/<key>/... - one sub-tree or value
        POST /setting[/<key>/...] - deep-merge ``data`` into the settings
        PUT /setting[/<key>/...] - same as POST
        DELETE /setting[/<key>/...] - remove all settings or one key

    Parameters:
        data (dict): the settings to merge (POST and PUT; any JSON value
            below the second level)
        username (str): another user's settings (cop only)

    Returns:
        data (dict): GET the merged settings; POST/PUT the posted data;
        DELETE an empty dict

    Raises:
        400: Invalid resource name, or Body in request is empty
        401: Unauthorized
        404: Resource not found (DELETE of nothing)
    """

    title = "user settings"
    author = "core4flask"
    icon = "mdi-cog"

    def verify_access(self, method: str | None = None) -> bool:
        """Every signed-in user keeps their own settings."""
        return True

    @property
    def defaults(self) -> dict[str, Any]:
        """Config ``user_setting`` as plain data."""
        return copy.deepcopy(dict(self.config.get("user_setting") or {}))

    def owner_id(self) -> str:
        """The user whose settings are addressed (``username=`` for cops)."""
        # the credential parser takes ``username`` out of the arguments, so
        # read it from the request itself
        names = merged_arguments(self.request).get("username")
        if names and self.user is not None and self.user.is_admin() and names[-1] != self.user.name:
            doc = self.ext.store.role_by_name(str(names[-1]))
            if doc is None:
                raise PlainHTTPError(404, f"user [{names[-1]}] not found")
            return str(doc["_id"])
        if self.user is None:
            raise PlainHTTPError(401, "login required")
        return str(self.user._id)

    def stored(self, user_id: str) -> dict[str, Any]:
        """The stored settings document of a user (empty when none)."""
        return self.ext.store.setting_get(user_id) or {}

    def get(self, path: str | None = None) -> Any:
        """The merged settings, or the value at the path."""
        parts = split_path(path)
        merged = deep_merge(self.defaults, self.stored(self.owner_id()))
        return walk(merged, parts)

    def post(self, path: str | None = None) -> Any:
        """Deep-merge ``data`` into the settings at the path."""
        parts = split_path(path)
        data = self.get_argument("data", default=None)
        validate(parts, data, self.defaults)
        user_id = self.owner_id()
        self.ext.store.setting_put(user_id, deep_merge(self.stored(user_id), nest(parts, data)))
        return data

    put = post

    def delete(self, path: str | None = None) -> Any:
        """Remove all settings, or the key at the path."""
        parts = split_path(path)
        user_id = self.owner_id()
        store = self.ext.store
        if not parts:
            if not store.setting_delete(user_id):
                raise PlainHTTPError(404, NOT_FOUND)
            return {}
        doc = self.stored(user_id)
        if not unset(doc, parts):
            raise PlainHTTPError(404, NOT_FOUND)
        store.setting_put(user_id, doc)
        return {}
