"""Users and roles: reading, creating, changing and deleting them.

:class:`RoleService` keeps core4's semantics on top of a
:class:`~core4flask.store.base.Store`: a *user* is a role with an email and a
password; ``role`` is a list of role names in the API and of ids in the
store; every change replaces the ``etag`` (optimistic locking); a cascade
collects the permissions of nested roles.

Where core4 was weak, the service is strict: a stale etag is a conflict
(409), managers who are not ``cop`` may only hand out what they hold
themselves and may not touch users more privileged than they are, the last
active cop cannot be removed, and nobody deletes themselves. Every change
that affects authentication or permissions stamps the changed id in the
key-value namespace :data:`AUTH_CHANGES_NS`, which the authenticator polls
to drop its caches.

Layer: the roles feature; it may use authentication, the request core and the
helpers, never the apps feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core4flask.auth.passwords import hash_password, random_password, verify_password
from core4flask.auth.permissions import COP, PermissionSet, cascade
from core4flask.errors import HTTPError
from core4flask.store.base import DuplicateKey, Store, new_id, normalize_id
from core4flask.store.query import QueryError, validate_sort

from .validation import RoleValidationError, validate_role_fields

__all__ = [
    "AUTH_CHANGES_NS",
    "CLIENT_FIELDS",
    "Manager",
    "RoleConflict",
    "RoleError",
    "RoleForbidden",
    "RoleInvalid",
    "RoleNotFound",
    "RoleService",
    "profile_fields",
]

#: key-value namespace stamped with ``<_id> -> <iso time>`` on every change
#: that affects authentication or permissions
AUTH_CHANGES_NS = "auth_changes"
#: fields a client may set (``password`` is the REST API's ``passwd``)
CLIENT_FIELDS = frozenset(("name", "realname", "email", "password", "perm", "role", "is_active"))
#: fields a user may change on their own profile
PROFILE_FIELDS = frozenset(("realname", "email", "password"))

# the public fields of a record, in core4's order; never the password
_RECORD_FIELDS = (
    "_id",
    "name",
    "realname",
    "is_active",
    "created",
    "updated",
    "etag",
    "role",
    "email",
    "perm",
    "last_login",
)
# changes that alter who may log in or what they may do
_AUTH_FIELDS = frozenset(("name", "password", "email", "perm", "role", "is_active"))
# changes that may take cop away from the last active cop
_COP_FIELDS = frozenset(("password", "email", "perm", "role", "is_active"))


class RoleError(HTTPError):
    """A refused user or role operation; an :class:`HTTPError` with its status."""

    #: the HTTP status of this kind of refusal
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(self.status, message)


class RoleInvalid(RoleError):
    """Bad input: a field, an id, a duplicate name or email, a protected cop."""

    status = 400


class RoleForbidden(RoleError):
    """The manager may not do this (privilege escalation, self-deletion)."""

    status = 403


class RoleNotFound(RoleError):
    """The user or role does not exist."""

    status = 404


class RoleConflict(RoleError):
    """The etag is stale: someone else changed the document meanwhile."""

    status = 409


@dataclass(frozen=True)
class Manager:
    """Who asks for a change, with the permissions they hold right now."""

    #: the manager's user id
    user_id: str
    #: the manager's name, for messages
    name: str
    #: the manager's cascaded permissions
    perms: PermissionSet

    @property
    def is_cop(self) -> bool:
        """Whether the manager holds ``cop``."""
        return self.perms.is_admin


class RoleService:
    """Users and roles with core4's rules, on top of a store.

    Methods that change something take ``actor``: the :class:`Manager`
    asking, or None for the operator (bootstrap, command line), who is not
    limited by privileges but still cannot remove the last active cop.
    """

    def __init__(self, store: Store) -> None:
        #: the store holding the documents
        self.store = store

    # -- reading ---------------------------------------------------------------------

    def get(self, _id: str) -> dict | None:
        """Return the stored document (with password hash) of ``_id``, or None."""
        return self.store.role_get(_id) if isinstance(_id, str) else None

    def by_name(self, name: str) -> dict | None:
        """Return the stored document named ``name`` (exact, ignoring case), or None."""
        return self.store.role_by_name(name) if isinstance(name, str) else None

    def require(self, _id: Any) -> dict:
        """Return the document of ``_id``; 400 for a malformed id, 404 if missing."""
        if normalize_id(_id) is None:
            raise RoleInvalid(f"failed to parse ObjectId [{_id}]")
        doc = self.store.role_get(_id)
        if doc is None:
            raise RoleNotFound(f"role [{_id}] not found")
        return doc

    def require_name(self, name: str) -> dict:
        """Return the document named ``name``; 404 if there is none."""
        doc = self.by_name(name)
        if doc is None:
            raise RoleNotFound(f"role [{name}] not found")
        return doc

    def cascade(self, doc: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """Return ``(perm_total, role_total)`` of a document: sorted perms and role names."""
        return cascade(doc, self.store.role_get_many)

    def manager(self, user_id: Any) -> Manager:
        """Build the :class:`Manager` of a user from its current document."""
        normalized = normalize_id(user_id)
        doc = self.store.role_get(normalized) if normalized is not None else None
        if doc is None:
            raise RoleForbidden("the requesting user no longer exists")
        perm_total, _ = self.cascade(doc)
        return Manager(doc["_id"], doc["name"], PermissionSet(perm_total))

    def record(self, doc: Mapping[str, Any], names: Mapping[str, str] | None = None) -> dict:
        """Return the public fields of ``doc``: role names, no password, no nulls."""
        if names is None:
            names = self._role_names(doc.get("role") or ())
        result: dict[str, Any] = {}
        for key in _RECORD_FIELDS:
            value = doc.get(key)
            if value is None:
                continue
            if key == "role":
                value = sorted(names[i] for i in dict.fromkeys(value) if i in names)
            result[key] = value
        return result

    def records(self, docs: Iterable[Mapping[str, Any]]) -> list[dict]:
        """Return :meth:`record` of many documents, resolving role names at once."""
        docs = list(docs)
        names = self._role_names(i for doc in docs for i in doc.get("role") or ())
        return [self.record(doc, names) for doc in docs]

    def detail(self, doc: Mapping[str, Any]) -> dict:
        """Return the record plus ``perm_total`` and ``role_total``.

        ``perm`` is sorted; ``role`` and ``role_total`` leave the document
        itself out (a role may list itself).
        """
        perm_total, role_total = self.cascade(doc)
        own_ids = [i for i in doc.get("role") or () if i != doc.get("_id")]
        result = self.record({**doc, "role": own_ids})
        result["role"] = result.get("role", [])
        result["perm"] = sorted(doc.get("perm") or ())
        result["perm_total"] = perm_total
        result["role_total"] = role_total
        return result

    def find(
        self,
        query: dict | None = None,
        *,
        sort: str = "_id",
        order: int = 1,
        skip: int = 0,
        limit: int | None = None,
    ) -> list[dict]:
        """Return the records matching ``query`` (see :mod:`core4flask.store.query`)."""
        try:
            sort, order = validate_sort(sort, order)
            docs = self.store.role_find(self._role_names_as_ids(query), sort=sort, order=order, skip=skip, limit=limit)
        except QueryError as exc:
            raise RoleInvalid(f"invalid filter or sort: {exc}") from None
        return self.records(docs)

    def count(self, query: dict | None = None) -> int:
        """Return how many documents match ``query``."""
        try:
            return self.store.role_count(self._role_names_as_ids(query))
        except QueryError as exc:
            raise RoleInvalid(f"invalid filter: {exc}") from None

    def _role_names_as_ids(self, query: Any) -> Any:
        """``query`` with role names under ``role`` replaced by the roles' ids.

        Records show a user's roles by name, the documents keep their ids: a
        client filters by what it was shown (ids still work, as in core4).
        """
        if isinstance(query, list):
            return [self._role_names_as_ids(part) for part in query]
        if not isinstance(query, dict):
            return query
        result: dict[str, Any] = {}
        for key, value in query.items():
            if key == "role":
                value = self._role_value_ids(value)
            elif key in ("$and", "$or", "$nor"):
                value = self._role_names_as_ids(value)
            result[key] = value
        return result

    def _role_value_ids(self, value: Any) -> Any:
        if isinstance(value, str):
            doc = self.store.role_by_name(value)
            return doc["_id"] if doc is not None else value
        if isinstance(value, list):
            return [self._role_value_ids(item) if isinstance(item, str) else item for item in value]
        if isinstance(value, dict):
            comparing = ("$eq", "$ne", "$in", "$nin", "$all")
            return {op: self._role_value_ids(item) if op in comparing else item for op, item in value.items()}
        return value

    def distinct_names(self) -> list[str]:
        """Return every user and role name, sorted."""
        return self.store.role_distinct_names()

    # -- changing --------------------------------------------------------------------

    def create(self, fields: Mapping[str, Any], *, actor: Manager | None = None) -> dict:
        """Create a user or role from client fields and return its record.

        A user created with an email but no password gets a random one (the
        user cannot log in until a password is set).
        """
        values = self._validate(fields, creating=True)
        roles = self._resolve_roles(values["role"])
        self._check_grants(actor, values["perm"], roles)
        if values.get("email") and not values.get("password"):
            values["password"] = random_password()
        doc = {
            "_id": new_id(),
            "name": values["name"],
            "realname": values.get("realname"),
            "is_active": values["is_active"],
            "created": self.store.now(),
            "etag": new_id(),
            "role": [r["_id"] for r in roles],
            "email": values.get("email"),
            "perm": values["perm"],
        }
        if values.get("password"):
            doc["password"] = hash_password(values["password"])
        doc = {key: value for key, value in doc.items() if value is not None}
        try:
            self.store.role_insert(doc)
        except DuplicateKey:
            raise RoleInvalid("name or email exists") from None
        return self.record(doc)

    def update(
        self,
        _id: Any,
        etag: Any,
        fields: Mapping[str, Any],
        *,
        actor: Manager | None = None,
    ) -> dict | None:
        """Change a user or role; return its new record, or None for "no changes".

        Only the given fields change; ``realname``, ``email`` and ``password``
        given as None are removed (a user without email and password becomes
        a role). ``etag`` must be the stored one, else :class:`RoleConflict`.
        """
        doc = self.require(_id)
        etag = self._check_etag(etag)
        self._check_target(actor, doc)
        if doc["etag"] != etag:
            raise RoleConflict(f"update [{doc['_id']}] with etag [{etag}] failed")
        values = self._validate(fields, creating=False, existing=doc)
        changes, unset = self._diff(doc, values, actor)
        if not changes and not unset:
            return None
        new_doc = {key: value for key, value in {**doc, **changes}.items() if key not in unset}
        touched = set(changes) | set(unset)
        if touched & _COP_FIELDS:
            self._guard_last_cop(changed=new_doc)
        changes["etag"] = new_doc["etag"] = new_id()
        changes["updated"] = new_doc["updated"] = self.store.now()
        try:
            updated = self.store.role_update(doc["_id"], etag, changes, unset)
        except DuplicateKey:
            raise RoleInvalid("name or email exists") from None
        if not updated:
            self._raise_lost(doc["_id"], etag, "update")
        if touched & _AUTH_FIELDS:
            self._stamp(doc["_id"])
        return self.record(new_doc)

    def update_profile(self, user_doc: Mapping[str, Any], etag: Any, fields: Mapping[str, Any]) -> dict | None:
        """Change a user's own ``realname``, ``email`` or ``password`` (see
        :func:`profile_fields`); return the new record, or None for "no changes".

        The caller has verified the current password when ``password`` is
        given. The rules are those of :meth:`update`: a user keeps an email
        and a password, so removing the email is :class:`RoleInvalid` (400).
        Raises :class:`RoleConflict` (409) for a stale etag.
        """
        return self.update(user_doc["_id"], etag, profile_fields(fields))

    def delete(self, _id: Any, etag: Any, *, actor: Manager | None = None) -> None:
        """Delete a user or role and pull it from every other document's roles."""
        doc = self.require(_id)
        etag = self._check_etag(etag)
        if actor is not None and actor.user_id == doc["_id"]:
            raise RoleForbidden("you cannot delete yourself")
        self._check_target(actor, doc)
        if doc["etag"] != etag:
            raise RoleConflict(f"delete [{doc['_id']}] with etag [{etag}] failed")
        self._guard_last_cop(removed=doc["_id"])
        if not self.store.role_delete(doc["_id"], etag):
            self._raise_lost(doc["_id"], etag, "delete")
        self.store.setting_delete(doc["_id"])
        self._stamp(doc["_id"])

    # -- helpers ---------------------------------------------------------------------

    def _validate(self, fields: Mapping[str, Any], *, creating: bool, existing: Mapping | None = None) -> dict:
        unknown = set(fields) - CLIENT_FIELDS
        if unknown:
            raise RoleInvalid(f"unknown field [{min(unknown)}]")
        try:
            return validate_role_fields(fields, creating=creating, existing=existing)
        except RoleValidationError as exc:
            raise RoleInvalid(str(exc)) from None

    @staticmethod
    def _check_etag(etag: Any) -> str:
        normalized = normalize_id(etag)
        if normalized is None:
            raise RoleInvalid(f"failed to parse ObjectId [{etag}]")
        return normalized

    def _resolve_roles(self, names: Iterable[str]) -> list[dict]:
        """Role documents of ``names`` in that order; 404 for an unknown name."""
        roles: dict[str, dict] = {}
        for name in names:
            doc = self.require_name(name)
            roles.setdefault(doc["_id"], doc)
        return list(roles.values())

    def _role_names(self, ids: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(ids))
        return {doc["_id"]: doc["name"] for doc in self.store.role_get_many(wanted)} if wanted else {}

    def _diff(self, doc: Mapping[str, Any], values: Mapping[str, Any], actor: Manager | None) -> tuple[dict, list]:
        """The fields to set and to remove; grant checks for what is added."""
        changes: dict[str, Any] = {}
        unset: list[str] = []
        for key, value in values.items():
            old = doc.get(key)
            if key == "role":
                roles = self._resolve_roles(value)
                added = [r for r in roles if r["_id"] not in (old or ())]
                self._check_grants(actor, [], added)
                value = [r["_id"] for r in roles]
                if sorted(value) != sorted(old or ()):
                    changes[key] = value
            elif key == "perm":
                self._check_grants(actor, [p for p in value if p not in (old or ())], [])
                if set(value) != set(old or ()):
                    changes[key] = value
            elif value is None:
                if old is not None:
                    unset.append(key)
            elif key == "password":
                if not verify_password(value, old):
                    changes[key] = hash_password(value)
            elif value != old:
                changes[key] = value
        return changes, unset

    def _check_grants(self, actor: Manager | None, perms: Iterable[str], roles: Iterable[Mapping]) -> None:
        """Refuse perms or roles a non-cop manager does not hold itself."""
        if actor is None or actor.is_cop:
            return
        for perm in perms:
            if perm == COP:
                raise RoleForbidden("only a cop may grant [cop]")
            if not actor.perms.covers(perm):
                raise RoleForbidden(f"[{actor.name}] may not grant [{perm}] without holding it")
        for role in roles:
            perm_total, _ = self.cascade(role)
            if COP in perm_total:
                raise RoleForbidden(f"only a cop may grant role [{role['name']}], it carries [cop]")
            missing = [p for p in perm_total if not actor.perms.covers(p)]
            if missing:
                raise RoleForbidden(
                    f"[{actor.name}] may not grant role [{role['name']}], it carries {missing} not held"
                )

    def _check_target(self, actor: Manager | None, doc: Mapping[str, Any]) -> None:
        """Refuse changes by a non-cop manager to someone more privileged."""
        if actor is None or actor.is_cop:
            return
        perm_total, _ = self.cascade(doc)
        if COP in perm_total or not all(actor.perms.covers(p) for p in perm_total):
            raise RoleForbidden(f"[{actor.name}] may not change [{doc['name']}], who holds more permissions")

    def _guard_last_cop(self, *, changed: dict | None = None, removed: str | None = None) -> None:
        """Refuse a change after which no active user holds ``cop`` any more."""
        docs = {doc["_id"]: doc for doc in self.store.role_find()}
        if not _active_cops(docs):
            return
        if removed is not None:
            docs.pop(removed, None)
        if changed is not None:
            docs[changed["_id"]] = changed
        if not _active_cops(docs):
            raise RoleInvalid("refused: this would remove the last active cop (user with [cop])")

    def _raise_lost(self, _id: str, etag: str, action: str) -> None:
        """Explain why a compare-and-set write matched nothing."""
        if self.store.role_get(_id) is None:
            raise RoleNotFound(f"role [{_id}] not found")
        raise RoleConflict(f"{action} [{_id}] with etag [{etag}] failed")

    def _stamp(self, _id: str) -> None:
        self.store.kv_set(AUTH_CHANGES_NS, _id, self.store.now().isoformat())


def profile_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a profile change: ``realname``, ``email``, ``password``.

    Any other field is :class:`RoleInvalid`. A blank password is no password
    change (core4 ignored a blank ``passwd``): on the profile it never turns
    the user into a role.
    """
    unknown = set(fields) - PROFILE_FIELDS
    if unknown:
        raise RoleInvalid(f"field [{min(unknown)}] cannot be changed on the profile")
    password = fields.get("password")
    if "password" in fields and (password is None or (isinstance(password, str) and not password.strip())):
        return {key: value for key, value in fields.items() if key != "password"}
    return dict(fields)


def _active_cops(docs: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Ids of active users (with a password) whose cascade holds ``cop``."""

    def load(ids: list[str]) -> list[Mapping[str, Any]]:
        return [docs[i] for i in ids if i in docs]

    return {
        _id
        for _id, doc in docs.items()
        if doc.get("is_active", True) and doc.get("password") and COP in cascade(doc, load)[0]
    }
