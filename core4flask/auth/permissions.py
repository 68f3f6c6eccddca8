"""Permission strings: validation, matching, privilege checks and role cascades.

Everything here works on plain data (strings, dicts, callables) so the rules
can be tested without Flask or a database.

Permission strings follow core4:

* ``cop`` - the superuser ("core operator"); grants everything.
* ``api://<regex>`` or ``api://<regex>/<letters>`` - handlers whose qual_name
  matches ``<regex>`` from its start (:func:`re.match`); ``<letters>`` is a
  subset of ``crud`` limiting the HTTP methods (see :data:`METHOD_LETTERS`).
* ``app://<key>`` - a free-form application key; ``app://client/<name>``
  grants the tenant ``<name>`` (exact string equality, slashes allowed).
* ``job://<regex>/<x|r>`` - job execution or read access.
* ``mongodb://<database>`` - read access to one database.

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "COP",
    "METHOD_LETTERS",
    "ApiGrant",
    "InvalidPermission",
    "PermissionSet",
    "cascade",
    "validate_permission",
]

log = logging.getLogger(__name__)

#: The superuser permission.
COP = "cop"

_CRUD = frozenset("crud")

#: Which CRUD letters each HTTP method (or core4 pseudo-method) needs; an
#: ``api://`` permission with letters grants the method when the two sets meet.
METHOD_LETTERS: Mapping[str, frozenset[str]] = {
    "GET": frozenset("r"),
    "HEAD": frozenset("r"),
    "OPTIONS": frozenset("r"),
    "POST": frozenset("c"),
    "PUT": frozenset("u"),
    "PATCH": frozenset("u"),
    "DELETE": frozenset("d"),
    # mini-application endpoints; core4 spelled them with a leading X
    "CARD": _CRUD,
    "HELP": _CRUD,
    "ENTER": frozenset("r"),
    "XCARD": _CRUD,
    "XHELP": _CRUD,
    "XENTER": frozenset("r"),
}

# fullmatch, unlike core4's "$", does not accept a trailing newline
_FORMS = {
    "cop": re.compile(r"cop"),
    "api": re.compile(r"api://(?P<regex>[^\s/]+)(?:/(?P<letters>[crud]*))?"),
    "app": re.compile(r"app://\S+"),
    "job": re.compile(r"job://(?P<regex>[^\s/]+)/[xr]"),
    "mongodb": re.compile(r"mongodb://\S+"),
}

_CLIENT_PREFIX = "app://client/"


class InvalidPermission(ValueError):
    """A permission string that is not one of the known forms."""


@dataclass(frozen=True)
class ApiGrant:
    """One parsed ``api://`` permission."""

    #: The permission string as stored.
    perm: str
    #: The regex source between ``api://`` and the optional ``/letters``.
    source: str
    #: The compiled regex, matched from the start of a qual_name.
    regex: re.Pattern[str]
    #: The CRUD letters, or None when the permission grants every method.
    letters: frozenset[str] | None

    def matches(self, qual_name: str) -> bool:
        """Whether the handler ``qual_name`` falls under this grant."""
        return self.regex.match(qual_name) is not None

    def allows(self, method: str) -> bool:
        """Whether this grant's letters admit ``method`` (unknown: no)."""
        if self.letters is None:
            return True
        return bool(self.letters & METHOD_LETTERS.get(method.upper(), frozenset()))


def validate_permission(p: str) -> str:
    """Return ``p`` unchanged if it is a valid permission string.

    Raises:
        InvalidPermission: ``p`` is not a string, has an unknown form, or
            carries an ``api://``/``job://`` regex that does not compile.
    """
    if not isinstance(p, str):
        raise InvalidPermission(f"invalid permission protocol [{p!r}]")
    scheme = p.split(":", 1)[0]
    form = _FORMS.get(scheme)
    found = form.fullmatch(p) if form is not None else None
    if found is None:
        raise InvalidPermission(f"invalid permission protocol [{p}]")
    regex = found.groupdict().get("regex")
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            raise InvalidPermission(f"invalid permission protocol [{p}]: bad regex ({exc})") from exc
    return p


@lru_cache(maxsize=4096)
def _api_grant(perm: str) -> ApiGrant | None:
    """Parse ``perm`` into an :class:`ApiGrant`; None for other or bad forms.

    Cached: permission sets are built on every request from the same few
    strings, and compiling the regexes each time would dominate.
    """
    if not perm.startswith("api://"):
        return None
    try:
        validate_permission(perm)
    except InvalidPermission as exc:
        log.warning("ignoring %s", exc)
        return None
    found = _FORMS["api"].fullmatch(perm)
    assert found is not None  # validated above
    letters = found.group("letters")
    return ApiGrant(
        perm=perm,
        source=found.group("regex"),
        regex=re.compile(found.group("regex")),
        letters=None if letters is None else frozenset(letters),
    )


class PermissionSet:
    """The cascaded permissions of one user, ready for access checks.

    Invalid strings (which only old data can contain) are ignored with a
    warning rather than failing every request of that user.
    """

    def __init__(self, perms: Iterable[str]) -> None:
        #: The permission strings, de-duplicated, in their original order.
        self.perms: tuple[str, ...] = tuple(dict.fromkeys(perms))
        self._perm_set = frozenset(self.perms)
        grants = (_api_grant(p) for p in self.perms if isinstance(p, str))
        self._api = tuple(g for g in grants if g is not None)

    def __repr__(self) -> str:
        return f"PermissionSet({list(self.perms)!r})"

    def __contains__(self, perm: object) -> bool:
        return perm in self._perm_set

    @property
    def is_admin(self) -> bool:
        """Whether the set holds ``cop``."""
        return COP in self._perm_set

    @property
    def api_patterns(self) -> tuple[ApiGrant, ...]:
        """The parsed ``api://`` permissions."""
        return self._api

    def has_api_access(self, qual_name: str, method: str = "GET") -> bool:
        """Whether handler ``qual_name`` may be called with ``method``.

        Patterns match from the start of the qual_name and are case-sensitive;
        a permission without letters grants every method, one with letters
        only the methods listed in :data:`METHOD_LETTERS`.
        """
        if COP in self._perm_set:
            return True
        return any(g.matches(qual_name) and g.allows(method) for g in self._api)

    def has_info_access(self, qual_name: str) -> bool:
        """Whether handler ``qual_name`` may be listed, whatever the letters."""
        if self.is_admin:
            return True
        return any(g.matches(qual_name) for g in self._api)

    def has_client_access(self, client: str) -> bool:
        """Whether the tenant ``client`` is granted (``app://client/<client>``)."""
        if self.is_admin:
            return True
        return bool(client) and _CLIENT_PREFIX + client in self._perm_set

    def covers(self, other_perm: str) -> bool:
        """Whether a holder of this set may grant ``other_perm`` to others.

        A cop may grant anything; nobody else may grant ``cop``. Otherwise the
        holder must hold the permission: the identical string, or for
        ``api://`` an own grant whose letters are a superset (no letters
        meaning all) and whose regex is a prefix of the granted regex.

        The prefix rule is deliberately conservative: it refuses some grants
        that are in fact narrower (``api://a.b`` cannot grant ``api://a.(b)``).
        It also refuses suffixes that would change how the own regex parses,
        such as ``a`` -> ``a|.*`` or ``a`` -> ``a*``, which are wider
        despite the common prefix.
        """
        if self.is_admin:
            return True
        if other_perm == COP or not isinstance(other_perm, str):
            return False
        if other_perm in self._perm_set:
            return True
        wanted = _api_grant(other_perm)
        if wanted is None:
            return False
        return any(_grant_covers(own, wanted) for own in self._api)


def _grant_covers(own: ApiGrant, wanted: ApiGrant) -> bool:
    """Whether ``own`` holds everything ``wanted`` grants (conservatively)."""
    if own.letters is not None and (wanted.letters is None or not wanted.letters <= own.letters):
        return False
    if not wanted.source.startswith(own.source):
        return False
    return _is_narrowing_suffix(own.source, wanted.source[len(own.source) :])


def _is_narrowing_suffix(prefix: str, suffix: str) -> bool:
    """Whether ``prefix + suffix`` parses as ``(?:prefix)(?:suffix)``.

    Then every string matched from the start by the whole regex is matched
    from the start by ``prefix`` too. The checks reject every way a suffix
    can reach back into the prefix: a quantifier on its last item, an
    alternation, digits extending a trailing escape, completing a ``{m,n}``
    left open, or references to the prefix's groups.
    """
    if not suffix:
        return True
    if suffix[0] in "*+?{" or "|" in suffix:
        return False
    if suffix[0].isdigit() and re.search(r"\\[0-9]*\Z", prefix):
        return False
    if prefix.rfind("{") > prefix.rfind("}"):
        return False
    try:
        re.compile(suffix)
    except re.error:
        return False
    return True


def cascade(
    user_doc: Mapping[str, Any],
    load: Callable[[list[Any]], Iterable[Mapping[str, Any]]],
) -> tuple[list[str], list[str]]:
    """Collect the permissions and role names a user has through its roles.

    Args:
        user_doc: the user (or role) document with ``_id``, ``perm`` and
            ``role`` (a list of role ids).
        load: returns the role documents (``_id``, ``name``, ``perm``,
            ``role``, ``is_active``) for a list of ids; unknown ids are left
            out.

    Returns:
        ``(perm_total, role_total)``: the sorted, de-duplicated permissions
        (the document's own ``perm`` always counts) and the sorted names of
        every role reached through active roles. Cycles are allowed; the
        document itself never appears in ``role_total``; an inactive role
        drops out together with everything reached only through it. The
        documents are not modified.
    """
    perms = set(user_doc.get("perm") or ())
    names: set[str] = set()
    visited: set[Hashable] = set()
    if user_doc.get("_id") is not None:
        visited.add(user_doc["_id"])
    # an explicit stack: the role graph comes from users and may be deep
    pending: list[list[Any]] = [list(user_doc.get("role") or ())]
    while pending:
        ids = [i for i in dict.fromkeys(pending.pop()) if i not in visited]
        if not ids:
            continue
        for role in load(ids):
            role_id = role.get("_id")
            if role_id in visited:
                continue
            visited.add(role_id)
            if not role.get("is_active", True):
                continue
            names.add(role["name"])
            perms.update(role.get("perm") or ())
            pending.append(list(role.get("role") or ()))
    return sorted(perms), sorted(names)
