"""The standard containers every core4flask application serves.

``CoreApiServer`` at ``/core4/api/v1`` holds login, logout, profile, the
roles API, the cross-user store, avatars, settings and the OpenAPI document;
``CoreAppManager`` at ``/`` serves the launcher. Each part is added when its
package is present.
"""

from __future__ import annotations

import importlib
from typing import Any

from .container import CoreApiContainer

#: (module, attribute) of each standard rule list, in order.
_RULE_SOURCES = (
    ("core4flask.auth.routes", "RULES"),
    ("core4flask.roles.api", "RULES"),
    ("core4flask.roles.store", "RULES"),
    ("core4flask.roles.avatar", "RULES"),
    ("core4flask.apps.routes", "RULES"),
)


def _standard_rules() -> list[Any]:
    rules: list[Any] = []
    for module_name, attribute in _RULE_SOURCES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        rules.extend(getattr(module, attribute))
    return rules


class CoreApiServer(CoreApiContainer):
    """core4's standard API: login, logout, profile, roles, store, avatar, settings."""

    root = "/core4/api/v1"
    rules = _standard_rules()


def standard_containers() -> list[type[CoreApiContainer]]:
    """The containers ``create_app`` always adds."""
    containers: list[type[CoreApiContainer]] = [CoreApiServer]
    try:
        from .apps.routes import CoreAppManager
    except ImportError:
        return containers
    containers.append(CoreAppManager)
    return containers
