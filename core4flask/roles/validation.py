"""Field validation for user and role documents, with core4's error messages.

A *user* is a role with an email and a password; a *role* has neither. The
functions here check and normalise the fields a client sends; they neither
hash passwords nor resolve role names, which is the model's job. Every
password set through them (the roles API, the profile, the ``flask users``
commands) must pass the password policy
(:func:`~core4flask.auth.passwords.enforce_password_policy`).

Layer: the roles feature; it may use authentication, the request core and the
helpers, never the apps feature.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from core4flask.auth.passwords import (
    PasswordPolicy,
    WeakPassword,
    current_password_policy,
    enforce_password_policy,
)
from core4flask.auth.permissions import InvalidPermission, validate_permission
from core4flask.exceptions import HTTPError

__all__ = [
    "EMAIL_PATTERN",
    "REAUTHENTICATED_FIELDS",
    "NAME_MAX_LENGTH",
    "NAME_PATTERN",
    "RoleValidationError",
    "confirm_current_password",
    "validate_role_fields",
]

#: Longest accepted role or user name.
NAME_MAX_LENGTH = 64
#: Role and user names: no whitespace, no control characters, 1-64 characters.
NAME_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f]{1,64}$"
#: Emails (checked after lower-casing): dotted local part that may hold ``+``,
#: dotted domain, alphabetic TLD of two or more letters.
EMAIL_PATTERN = (
    r"^[a-z0-9_+-]+(\.[a-z0-9_+-]+)*"
    r"@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$"
)
_EMAIL_MAX_LENGTH = 254

_NAME = re.compile(NAME_PATTERN)
_EMAIL = re.compile(EMAIL_PATTERN)

# fields the server maintains; they may appear in a stored document
_SERVER_FIELDS = ("_id", "etag", "created", "updated", "last_login")
# computed on read; core4 silently dropped them when sent back
_COMPUTED_FIELDS = ("perm_total", "role_total")


#: Fields a user changes on its own record only with its current password
#: (``current_passwd``): they are what it signs in with, or recovers it by.
REAUTHENTICATED_FIELDS = ("password", "email")


class RoleValidationError(ValueError):
    """A user or role field with a wrong type or value."""


def validate_role_fields(
    fields: Mapping[str, Any],
    *,
    creating: bool,
    existing: Mapping[str, Any] | None = None,
    password_policy: PasswordPolicy | None = None,
) -> dict[str, Any]:
    """Check and normalise the fields of a user or role.

    Args:
        fields: the client's fields: ``name``, ``realname``, ``email``,
            ``password`` (the REST API's ``passwd``), ``perm``, ``role``
            (role names), ``is_active``. Server fields (``_id``, ``etag``,
            ``created``, ``updated``, ``last_login``) pass unchanged;
            ``perm_total`` and ``role_total`` are dropped.
        creating: True for a new document, False for an update.
        existing: on update, the stored document; its ``email`` and
            ``password`` take part in the user check, its ``name`` in the
            password policy.
        password_policy: what a new password must be; default: the policy
            configured for the current application
            (:func:`~core4flask.auth.passwords.current_password_policy`).

    Returns:
        The normalised fields: name and realname stripped, an empty realname,
        email or password as None, email lower-cased, ``role`` and ``perm``
        de-duplicated (``role`` sorted). When creating, missing optional
        fields get core4's defaults (``realname`` None, ``is_active`` True,
        empty ``role`` and ``perm``).

    Raises:
        RoleValidationError: with core4's message for the first bad field,
            when the email/password pair does not make a user, or naming
            the rule of the password policy a new password breaks.
    """
    unknown = set(fields) - set(_FIELD_CHECKS) - {*_SERVER_FIELDS, *_COMPUTED_FIELDS}
    if unknown:
        raise RoleValidationError(f"unknown field [{min(unknown)}]")
    if creating and "name" not in fields:
        raise RoleValidationError("field [name] is mandatory")
    result: dict[str, Any] = {k: fields[k] for k in _SERVER_FIELDS if k in fields}
    for key, check in _FIELD_CHECKS.items():
        if key in fields:
            result[key] = check(fields[key])
        elif creating and key in _CREATE_DEFAULTS:
            result[key] = _CREATE_DEFAULTS[key]()
    _check_user(result, creating=creating, existing=existing or {})
    if result.get("password"):
        names = (result.get("name"), (existing or {}).get("name"))
        try:
            enforce_password_policy(
                result["password"], user_names=names, policy=password_policy or current_password_policy()
            )
        except WeakPassword as exc:
            raise RoleValidationError(str(exc)) from None
    return result


def _check_user(result: Mapping[str, Any], *, creating: bool, existing: Mapping[str, Any]) -> None:
    """Refuse a password without email, or on update half a user."""
    merged = {**existing, **result}
    has_email = bool(merged.get("email"))
    has_password = bool(merged.get("password"))
    if creating:
        if has_password and not has_email:
            raise RoleValidationError("user role requires email on creation")
    elif has_email != has_password:
        raise RoleValidationError("user role requires email and password")


def _require_type(key: str, value: Any, kind: type, label: str) -> None:
    if not isinstance(value, kind):
        raise RoleValidationError(f"field [{key}] must be of type [{label}]")


def _check_name(value: Any) -> str:
    if value is None:
        raise RoleValidationError("field [name] is mandatory")
    _require_type("name", value, str, "str")
    name = value.strip()
    if not name:
        raise RoleValidationError("field [name] is mandatory")
    if _NAME.fullmatch(name) is None or any(unicodedata.category(c).startswith("C") for c in name):
        raise RoleValidationError(f"field [name] must match [{NAME_PATTERN}]")
    return name


def _check_realname(value: Any) -> str | None:
    if value is None:
        return None
    _require_type("realname", value, str, "str")
    return value.strip() or None


def _check_is_active(value: Any) -> bool:
    _require_type("is_active", value, bool, "bool")
    return value


def _check_role(value: Any) -> list[str]:
    _require_type("role", value, list, "list")
    if not all(isinstance(v, str) for v in value):
        raise RoleValidationError("field [role] must be of type [list of str]")
    return sorted(set(value))


def _check_email(value: Any) -> str | None:
    if value is None:
        return None
    _require_type("email", value, str, "str")
    email = value.strip().lower()
    if not email:
        return None
    if len(email) > _EMAIL_MAX_LENGTH or _EMAIL.fullmatch(email) is None:
        raise RoleValidationError(f"field [email] must match [{EMAIL_PATTERN}]")
    return email


def _check_password(value: Any) -> str | None:
    if value is None:
        return None
    _require_type("password", value, str, "str")
    return value if value.strip() else None


def _check_perm(value: Any) -> list[str]:
    _require_type("perm", value, list, "list")
    try:
        return list(dict.fromkeys(validate_permission(p) for p in value))
    except InvalidPermission as exc:
        raise RoleValidationError(str(exc)) from exc


# core4's validation order
_FIELD_CHECKS = {
    "name": _check_name,
    "realname": _check_realname,
    "is_active": _check_is_active,
    "role": _check_role,
    "email": _check_email,
    "password": _check_password,
    "perm": _check_perm,
}

_CREATE_DEFAULTS: dict[str, Callable[[], Any]] = {
    "realname": lambda: None,
    "is_active": lambda: True,
    "role": list,
    "perm": list,
}


def confirm_current_password(handler: Any, name: str, email: str | None, fields: Mapping[str, Any]) -> None:
    """Refuse a change of the own password or email without the current password.

    ``handler`` serves the request; ``name`` and ``email`` are the signed-in
    user's, ``fields`` the changes asked for (model names: ``password``,
    ``email``). When they set a password or change the email, the request
    must carry ``current_passwd``, checked like a login from the client's
    address (it counts towards the login throttle: 429 while throttled).
    Raises a 400 naming ``current_passwd`` when it is missing or wrong.
    """
    password = fields.get("password")
    new_email = fields.get("email")
    changes_password = isinstance(password, str) and bool(password.strip())
    changes_email = "email" in fields and (str(new_email or "").strip().lower() or None) != (email or None)
    if not (changes_password or changes_email):
        return
    current = handler.get_argument("current_passwd", default=None)
    if current is None or current == "":
        raise HTTPError(400, "parameter [current_passwd] (the current password) is needed to change password or email")
    auth = handler.ext.auth
    if not isinstance(current, str) or not auth.check_password(handler.request.remote_addr, name, current):
        raise HTTPError(400, "current_passwd is not the current password")
