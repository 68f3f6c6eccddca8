"""``AuthUser``: the authenticated user a handler sees as ``self.user``.

An immutable snapshot of one ``sys.role`` document with its cascaded
permissions and roles, shared by the requests of one worker for a moment
(see :mod:`.authenticator`). It never holds the password hash.

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from .permissions import PermissionSet, cascade

__all__ = ["AuthUser", "load_user"]


class AuthUser:
    """An authenticated user (a ``sys.role`` document with a password)."""

    __slots__ = (
        "_id",
        "name",
        "realname",
        "email",
        "perm",
        "role",
        "is_active",
        "etag",
        "created",
        "updated",
        "last_login",
        "perm_total",
        "role_total",
        "permissions",
        "password_tag",
    )

    def __init__(
        self,
        doc: Mapping[str, Any],
        *,
        perm_total: list[str],
        role_total: list[str],
        role_names: list[str],
        password_tag: str = "",
    ) -> None:
        #: the user's id (24 hex digits)
        self._id: str = doc["_id"]
        #: the user name
        self.name: str = doc["name"]
        #: the real name, if any
        self.realname: str | None = doc.get("realname")
        #: the email address, if any
        self.email: str | None = doc.get("email")
        #: the user's own permissions (sorted)
        self.perm: list[str] = sorted(doc.get("perm") or ())
        #: the names of the user's own roles (sorted)
        self.role: list[str] = sorted(role_names)
        #: False for a deactivated user
        self.is_active: bool = bool(doc.get("is_active", True))
        #: the document's etag
        self.etag: str | None = doc.get("etag")
        #: creation time (naive UTC)
        self.created: datetime.datetime | None = doc.get("created")
        #: last update (naive UTC), if any
        self.updated: datetime.datetime | None = doc.get("updated")
        #: last password login (naive UTC), if any
        self.last_login: datetime.datetime | None = doc.get("last_login")
        #: own and inherited permissions (sorted)
        self.perm_total: list[str] = list(perm_total)
        #: every role reached through active roles (sorted names)
        self.role_total: list[str] = list(role_total)
        #: ``perm_total`` ready for access checks
        self.permissions = PermissionSet(perm_total)
        #: keyed tag of the password hash; tokens carry it as ``pwv``
        self.password_tag = password_tag

    def __repr__(self) -> str:
        return f"AuthUser(name={self.name!r}, _id={self._id!r})"

    def is_admin(self) -> bool:
        """Whether the user holds ``cop``."""
        return self.permissions.is_admin

    def has_api_access(self, qual_name: str, method: str = "GET") -> bool:
        """Whether the handler ``qual_name`` may be called with ``method``."""
        return self.permissions.has_api_access(qual_name, method)

    def has_info_access(self, qual_name: str) -> bool:
        """Whether the handler ``qual_name`` may be listed."""
        return self.permissions.has_info_access(qual_name)

    def has_client_access(self, client: str) -> bool:
        """Whether the tenant ``client`` is granted."""
        return self.permissions.has_client_access(client)

    def detail(self) -> dict[str, Any]:
        """core4's detail shape: the record with role names, cascades, no password."""
        record: dict[str, Any] = {"_id": self._id, "name": self.name}
        for key in ("realname", "email"):
            value = getattr(self, key)
            if value is not None:
                record[key] = value
        record.update(
            is_active=self.is_active,
            created=self.created,
            updated=self.updated,
            etag=self.etag,
            last_login=self.last_login,
            role=list(self.role),
            perm=list(self.perm),
            perm_total=list(self.perm_total),
            role_total=list(self.role_total),
        )
        return record


def load_user(store: Any, doc: Mapping[str, Any], password_tag: str = "") -> AuthUser:
    """Build the :class:`AuthUser` of ``doc``, cascading its roles from ``store``."""
    loaded: dict[str, Mapping[str, Any]] = {}

    def load(ids: list[Any]) -> list[Mapping[str, Any]]:
        docs = store.role_get_many(list(ids))
        for role in docs:
            loaded[role["_id"]] = role
        return docs

    perm_total, role_total = cascade(doc, load)
    own = [loaded[i]["name"] for i in dict.fromkeys(doc.get("role") or ()) if i in loaded and i != doc["_id"]]
    return AuthUser(doc, perm_total=perm_total, role_total=role_total, role_names=own, password_tag=password_tag)
