"""The roles REST API: ``/core4/api/v1/roles`` manages users and roles.

Arguments and answers follow core4's ``RoleHandler``; the rules behind them
(privileges, etags, the last cop) live in :mod:`core4flask.roles.model`.

Layer: the roles feature; it may use authentication, the request core and the
helpers, never the apps feature.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from core4flask.errors import HTTPError
from core4flask.handler import CoreRequestHandler
from core4flask.pagination import CorePager, PageResult
from core4flask.store.base import normalize_id
from core4flask.store.query import QueryError, validate_query, validate_sort

from .model import Manager, RoleService
from .validation import confirm_current_password

__all__ = ["RULES", "RoleHandler", "parse_filter", "search_query"]

#: fields a free-text ``filter`` searches, case-insensitively
SEARCH_FIELDS = ("name", "realname", "email")
#: answer of a PUT that changes nothing (core4's wording)
NO_CHANGES = "no changes"

# (argument, model field, type) of the fields a client may send
_ARGUMENTS = (
    ("name", "name", str),
    ("realname", "realname", str),
    ("is_active", "is_active", bool),
    ("role", "role", list),
    ("email", "email", str),
    ("passwd", "password", str),
    ("perm", "perm", list),
)


def search_query(text: str) -> dict:
    """The query of a free-text search: ``text`` literally, in any field, any case."""
    pattern = re.escape(text)
    return {"$or": [{field: {"$regex": pattern, "$options": "i"}} for field in SEARCH_FIELDS]}


def parse_filter(value: Any) -> dict:
    """Turn the ``filter`` argument into a validated store query.

    A JSON object (or a string holding one) is a query in the safe subset of
    :mod:`core4flask.store.query` (``{"name": "x"}`` matches exactly; the
    password is unreachable); any other non-empty text is a literal,
    case-insensitive search in name, realname and email.
    """
    if value is None:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        if not text.startswith("{"):
            return search_query(text)
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise HTTPError(400, f"cannot parse filter [{text}]") from None
    if not isinstance(value, dict):
        raise HTTPError(400, "parameter [filter] expected a JSON object or a search text")
    try:
        return validate_query(value)
    except QueryError as exc:
        raise HTTPError(400, f"invalid filter: {exc}") from None


class RoleHandler(CoreRequestHandler):
    """Manage users and roles.

    Users are roles with an email and a password. Managers who are not
    ``cop`` may grant only permissions and roles they hold themselves and
    may not change users more privileged than they are. A new password
    must pass the password policy; changing the own password or email needs
    ``current_passwd``.

    Methods:
        GET /roles: paginated list of users and roles.
        GET /roles/<_id>: one user or role with ``perm_total`` and ``role_total``.
        GET /roles/distinct: all names.
        POST /roles: create a user or role.
        PUT /roles/<_id>: change a user or role (needs ``etag``).
        DELETE /roles/<_id>?etag=<etag> or /roles/<_id>/<etag>: delete one.

    Parameters:
        page (int): 0-based page of the list, default 0
        per_page (int): items per page, default 10
        sort (str): field to sort the list by, default ``_id``
        order (int): 1 ascending, -1 descending
        filter (str): a JSON query such as ``{"name": "x"}`` or a search text
        name (str): user or role name (required on POST)
        realname (str): full name
        email (str): email; users have one, roles do not
        passwd (str): password; users have one, roles do not
        perm (list): permissions such as ``api://my.project``
        role (list): names of the roles held
        is_active (bool): inactive users cannot log in, inactive roles grant nothing
        etag (str): the current etag, required by PUT and DELETE
        current_passwd (str): the own current password, required to change
            the own ``passwd`` or ``email`` (not another user's)

    Returns:
        The record (never a password), a page of records, the names,
        ``"no changes"``, or ``true`` after a deletion.

    Raises:
        400: bad arguments, weak password (names the rule), duplicate name
            or email, the last active cop, missing or wrong ``current_passwd``
        403: missing privileges
        404: unknown id or role name
        409: stale etag
    """

    title = "users and roles"
    author = "core4flask"

    def get(self, path: str = "") -> Any:
        """List users and roles, show one, or list all names (``distinct``)."""
        service = self._service()
        if not path:
            return self._page(service)
        if path == "distinct":
            return service.distinct_names()
        return service.detail(service.require(path))

    def post(self, path: str = "") -> Any:
        """Create a user or role; any id in the path is ignored."""
        self.get_argument("name")  # core4's 400 "Missing argument name"
        fields = self._fields()
        service = self._service()
        return service.create(fields, actor=self._manager(service))

    def put(self, path: str = "") -> Any:
        """Change the given fields of a user or role."""
        if not path:
            raise HTTPError(400, "PUT needs the id: /roles/<_id>")
        etag = self.get_argument("etag", as_type=str)
        service = self._service()
        fields = self._fields()
        user = self.user
        if user is not None and normalize_id(path) is not None and normalize_id(path) == normalize_id(user._id):
            # the own record: what the user signs in with changes only with its current password
            own = service.require(path)
            confirm_current_password(self, own["name"], own.get("email"), fields)
        result = service.update(path, etag, fields, actor=self._manager(service))
        if result is None:
            return NO_CHANGES
        self._changed()
        return result

    def delete(self, path: str = "") -> Any:
        """Delete a user or role (``etag`` as argument or as last path part)."""
        _id, slash, etag = path.partition("/")
        if not slash:
            etag = self.get_argument("etag", as_type=str)
        if not _id:
            raise HTTPError(400, "DELETE needs the id: /roles/<_id>")
        service = self._service()
        service.delete(_id, etag, actor=self._manager(service))
        self._changed()
        return True

    # -- helpers ---------------------------------------------------------------------

    def _service(self) -> RoleService:
        return RoleService(self.ext.store)

    def _changed(self) -> None:
        """Permissions, activity or existence of users changed: every worker
        must see it with the next request."""
        auth = getattr(self._ext, "auth", None)
        if auth is not None:
            auth.changed()

    def _manager(self, service: RoleService) -> Manager:
        if self.user is None:
            raise self.unauthorized()
        return service.manager(getattr(self.user, "_id", None))

    def _fields(self) -> dict[str, Any]:
        """The client fields present in the request, converted."""
        fields: dict[str, Any] = {}
        for argument, field, kind in _ARGUMENTS:
            if argument not in self.arguments:
                continue
            if kind is str and isinstance(self.arguments[argument][-1], dict | list):
                raise HTTPError(400, f"parameter [{argument}] expected as_type [str]")
            value = self.get_argument(argument, as_type=kind, default=None)
            if kind is list and value is None:
                value = []
            fields[field] = value
        password = fields.get("password")
        if "password" in fields and not (password or "").strip():
            # core4 ignored a blank passwd; blank with a blank email turns a user into a role
            if "email" in fields and not (fields["email"] or "").strip():
                fields["password"] = None
            else:
                del fields["password"]
        return fields

    def _page(self, service: RoleService) -> PageResult:
        query = parse_filter(self.get_argument("filter", default=None))
        sort = self.get_argument("sort", as_type=str, default="_id")
        order = self.get_argument("order", as_type=int, default=1)
        try:
            sort, order = validate_sort(sort, order)
        except QueryError as exc:
            raise HTTPError(400, f"invalid sort: {exc}") from None

        def length(query: dict) -> int:
            return service.count(query)

        def page(skip: int, limit: int, query: dict, sort_by: Any) -> list[dict]:
            return service.find(query, sort=sort, order=order, skip=skip, limit=limit)

        pager = CorePager(
            length,
            page,
            per_page=self.get_argument("per_page", as_type=int, default=10),
            current_page=self.get_argument("page", as_type=int, default=0),
            filter=query,
        )
        return pager.page()


#: the routes of the roles API inside the standard container
RULES = [
    (r"/roles", RoleHandler),
    (r"/roles/(.*)", RoleHandler),
]
