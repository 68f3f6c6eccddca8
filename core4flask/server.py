"""The standard containers every core4flask application serves.

``CoreApiServer`` at ``/core4/api/v1`` holds login and logout (the ``auth``
part), the profile, the roles API, the cross-user store and avatars
(``roles``), settings, the OpenAPI document and the API reference (``apps``)
and the liveness and readiness probes (``health``); ``CoreAppManager`` at
``/`` serves the launcher. Below the composition root (:mod:`core4flask.app`),
above the features whose rules it gathers.
"""

from __future__ import annotations

from .apps.routes import RULES as APPS_RULES
from .apps.routes import CoreAppManager
from .auth.routes import RULES as AUTH_RULES
from .container import CoreApiContainer
from .health import RULES as HEALTH_RULES
from .roles.api import RULES as ROLES_RULES
from .roles.avatar import RULES as AVATAR_RULES
from .roles.profile import RULES as PROFILE_RULES
from .roles.store import RULES as STORE_RULES
from .types import Rule

__all__ = ["CoreApiServer", "CoreAppManager", "standard_containers"]

#: The rules of ``/core4/api/v1``, in routing order.
STANDARD_RULES: list[Rule] = [
    *AUTH_RULES,
    *PROFILE_RULES,
    *ROLES_RULES,
    *STORE_RULES,
    *AVATAR_RULES,
    *APPS_RULES,
    *HEALTH_RULES,
]


class CoreApiServer(CoreApiContainer):
    """core4's standard API: login, logout, profile, roles, store, avatar, settings, probes."""

    root = "/core4/api/v1"
    rules = STANDARD_RULES


def standard_containers() -> list[type[CoreApiContainer]]:
    """The containers ``create_app`` always adds."""
    return [CoreApiServer, CoreAppManager]
