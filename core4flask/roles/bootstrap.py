"""The built-in admin user and the default user role, created at first start.

:func:`bootstrap` inserts what is missing and never overwrites an existing
document, so a changed configuration does not reset a password or the
permissions an operator edited. Several workers may run it at once: the
store's unique names decide who wins, the others find the document there.

The password policy is for passwords users set (roles API, profile,
``flask users``). The operator's ``api.admin_password`` is taken as it is,
so that configurations such as the seed's ``admin``/``hans`` keep working;
one the policy would refuse is reported as a warning at every start (without
the password). A generated admin password always passes the policy.

Layer: the roles feature; it may use authentication, the request core and the
helpers, never the apps feature.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from core4flask.auth.passwords import (
    PasswordPolicy,
    WeakPassword,
    enforce_password_policy,
    hash_password,
    random_password,
)
from core4flask.auth.permissions import COP
from core4flask.store.base import DuplicateKey, Store, new_id

from .validation import EMAIL_PATTERN, RoleValidationError, validate_role_fields

__all__ = ["DEFAULT_EMAIL_DOMAIN", "bootstrap"]

log = logging.getLogger(__name__)

#: domain of the admin's email when ``api.admin_email`` is empty
DEFAULT_EMAIL_DOMAIN = "localhost.localdomain"

_DEFAULTS = {
    "admin_username": "admin",
    "admin_realname": "admin user",
    "user_rolename": "standard_user",
    "user_realname": "standard user group",
}


def bootstrap(store: Store, config: Mapping[str, Any]) -> str | None:
    """Create the admin user and the default user role unless they exist.

    Args:
        store: the user and role store (set up already).
        config: the core4flask configuration; read are ``api.admin_username``,
            ``api.admin_realname``, ``api.admin_email`` (default
            ``<admin>@localhost.localdomain``), ``api.admin_password``,
            ``api.user_rolename``, ``api.user_realname`` and
            ``api.user_permission``.

    Returns:
        The generated admin password when this call created the admin and no
        ``api.admin_password`` was configured (show it once), else None.

    Raises:
        ValueError: a configured name, email or permission is invalid, or the
            admin's email belongs to another user.
    """
    api = config.get("api") or {}
    try:
        policy = PasswordPolicy.from_config(config)
    except ValueError as exc:
        raise ValueError(f"invalid configuration api.password: {exc}") from None
    _warn_about_weak_admin_password(api, policy)
    password = _create_admin(store, api)
    _create_user_role(store, api)
    return password


def _setting(api: Mapping[str, Any], key: str) -> Any:
    value = api.get(key)
    return _DEFAULTS.get(key) if value is None else value


def _create_admin(store: Store, api: Mapping[str, Any]) -> str | None:
    name = _setting(api, "admin_username")
    if store.role_by_name(name) is not None:
        return None
    configured = api.get("admin_password")
    password = configured or random_password()
    # the password is the operator's: the policy only warns about it (see above)
    fields = _checked(
        {
            "name": name,
            "realname": _setting(api, "admin_realname"),
            "email": api.get("admin_email") or _default_email(name),
            "perm": [COP],
        },
        "api.admin_*",
    )
    doc = _new_doc(store, fields)
    doc["password"] = hash_password(password)
    if not _insert(store, doc):
        return None
    log.info("created the admin user [%s]", doc["name"])
    return None if configured else password


def _warn_about_weak_admin_password(api: Mapping[str, Any], policy: PasswordPolicy) -> None:
    configured = api.get("admin_password")
    if not configured:
        return
    try:
        enforce_password_policy(str(configured), user_names=[_setting(api, "admin_username")], policy=policy)
    except WeakPassword as exc:
        log.warning(
            "the configured api.admin_password breaks the password policy (rule [%s]); "
            "it is used as configured, but choose a stronger one for anything but a trial",
            exc.rule,
        )


def _create_user_role(store: Store, api: Mapping[str, Any]) -> None:
    name = _setting(api, "user_rolename")
    if not name or store.role_by_name(name) is not None:
        return
    fields = _checked(
        {
            "name": name,
            "realname": _setting(api, "user_realname"),
            "perm": list(api.get("user_permission") or ()),
        },
        "api.user_*",
    )
    if _insert(store, _new_doc(store, fields)):
        log.info("created the default user role [%s]", fields["name"])


def _default_email(name: str) -> str:
    candidate = f"{name.strip().lower()}@{DEFAULT_EMAIL_DOMAIN}"
    if re.fullmatch(EMAIL_PATTERN, candidate) is None:
        return f"admin@{DEFAULT_EMAIL_DOMAIN}"
    return candidate


def _checked(fields: dict[str, Any], section: str) -> dict[str, Any]:
    try:
        return validate_role_fields(fields, creating=True)
    except RoleValidationError as exc:
        raise ValueError(f"invalid configuration {section}: {exc}") from None


def _new_doc(store: Store, fields: Mapping[str, Any]) -> dict[str, Any]:
    doc = {
        "_id": new_id(),
        "name": fields["name"],
        "realname": fields.get("realname"),
        "email": fields.get("email"),
        "perm": fields["perm"],
        "role": [],
        "is_active": True,
        "created": store.now(),
        "etag": new_id(),
    }
    return {key: value for key, value in doc.items() if value is not None}


def _insert(store: Store, doc: dict[str, Any]) -> bool:
    """Insert ``doc``; False when another worker created the same name first."""
    try:
        store.role_insert(doc)
    except DuplicateKey as exc:
        if store.role_by_name(doc["name"]) is not None:
            return False
        raise ValueError(f"cannot create [{doc['name']}]: its {exc.field} is taken by another user") from None
    return True
