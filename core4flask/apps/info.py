"""``<root>/_info``: the mini applications the user may use.

The listing spans every live server sharing the store (see
:mod:`core4flask.apps.registry`), keeps the resources the user may see and
filters them by ``search`` (or, without one, ``filter``), ``tag`` and
``api``. The filters are plain functions over the merged entries so the
launcher shares them.

Layer: the apps feature; it uses the request core and the helpers, never
authentication or roles.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

import orjson

from ..arguments import parse_datetime
from ..errors import ArgumentParsingError, HTTPError
from ..handler import CoreRequestHandler
from ..pagination import CorePager
from ..paths import project_of
from ..store.query import MAX_QUERY_DEPTH, QueryError, QueryRules, match, validate_query
from ..version import __version__
from .registry import live_entries, project_version

#: Fields the free-text search looks at.
SEARCH_FIELDS = ("title", "subtitle", "author", "qual_name", "description")
#: Entry fields holding datetimes: ``filter`` strings for them are parsed as dates.
DATE_FIELDS = frozenset(("created_at", "started_at"))
#: How deep ``$and``/``$or``/``$nor`` may nest in a ``filter``.
MAX_FILTER_DEPTH = MAX_QUERY_DEPTH


def may_see(user: Any, entry: dict[str, Any]) -> bool:
    """Whether ``user`` may list ``entry`` (cop sees everything).

    Handlers are granted by their qual_name; handlers with ``perm_base ==
    "container"`` (static folders) by any container mounting them.
    """
    if user is None:
        return True
    if user.is_admin():
        return True
    if entry.get("perm_base") == "container":
        return any(user.has_info_access(name) for name in entry.get("container") or [])
    return bool(user.has_info_access(entry.get("qual_name") or ""))


def parse_search(search: str | None, include_api: bool) -> tuple[str, bool]:
    """Trim the search text; a leading ``!`` includes ``api`` resources."""
    text = (search or "").strip()
    if text.startswith("!"):
        return text[1:].strip(), True
    return text, include_api


def parse_tags(values: Iterable[Any]) -> list[str]:
    """Tags from ``tag`` arguments: JSON lists, or plain single tags."""
    tags: list[str] = []
    for value in values:
        if isinstance(value, list):
            items: Iterable[Any] = value
        elif isinstance(value, str) and value.strip().startswith("["):
            try:
                items = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise HTTPError(400, "parameter [tag] expected as_type [list]") from None
            if not isinstance(items, list):
                raise HTTPError(400, "parameter [tag] expected as_type [list]")
        else:
            items = [value]
        tags.extend(str(item).strip() for item in items if item is not None and str(item).strip())
    return list(dict.fromkeys(tags))


def _filter_date(value: str) -> datetime.datetime:
    return parse_datetime(value, "filter")


#: What a ``filter`` may use: any entry field, no regular expressions (every
#: signed-in user may list, and a client's pattern could make the server
#: backtrack for minutes), dates for the date fields.
FILTER_RULES = QueryRules(
    date_fields=DATE_FIELDS,
    parse_date=_filter_date,
    regex=False,
    regex_hint="search for text instead",
    max_depth=MAX_FILTER_DEPTH,
)


def parse_filter(value: Any) -> dict[str, Any]:
    """Check a ``filter`` (core4: a MongoDB query over the entries) and normalize it.

    The subset of :mod:`core4flask.store.query` under :data:`FILTER_RULES`:
    implicit equality (against a list field it means "contains"), ``$eq $ne
    $in $nin $gt $gte $lt $lte $exists`` and ``$and $or $nor`` over top-level
    entry fields, no ``$regex`` (``search`` is the text search). The result
    is evaluated by :func:`core4flask.store.query.match`. Anything else is a
    400 naming the parameter.
    """
    if value is None:
        return {}
    try:
        return validate_query(value, FILTER_RULES)
    except QueryError as exc:
        raise ArgumentParsingError(f"parameter [filter]: {exc}") from None


def search_text(entry: dict[str, Any]) -> str:
    """The lower-case text a search matches as a substring."""
    parts = [str(entry.get(name) or "") for name in SEARCH_FIELDS]
    parts.extend(str(tag) for tag in entry.get("tag") or [])
    return "\n".join(parts).lower()


def filter_entries(
    entries: Iterable[dict[str, Any]],
    *,
    search: str = "",
    tags: Iterable[str] = (),
    include_api: bool = False,
    query: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Entries matching the filters, sorted by (title, subtitle) ignoring case.

    ``search`` is plain text matched case-insensitively as a substring, never
    a regular expression. ``query`` is a :func:`parse_filter` result.
    """
    wanted = set(tags)
    needle = search.lower()
    chosen = []
    for entry in entries:
        entry_tags = entry.get("tag") or []
        if not include_api and "api" in entry_tags:
            continue
        if wanted and not wanted & set(entry_tags):
            continue
        if needle and needle not in search_text(entry):
            continue
        if query and not match(entry, query):
            continue
        chosen.append(entry)
    chosen.sort(key=lambda e: (str(e.get("title") or "").lower(), str(e.get("subtitle") or "").lower()))
    return chosen


def tag_counts(entries: Iterable[dict[str, Any]], defaults: Iterable[str]) -> dict[str, dict[str, Any]]:
    """core4's ``?tag`` answer: ``{tag: {"count": n, "default": bool}}``."""
    counts: dict[str, dict[str, Any]] = {}
    for entry in entries:
        for tag in entry.get("tag") or []:
            counts.setdefault(tag, {"count": 0, "default": False})["count"] += 1
    for tag in defaults or []:
        counts.setdefault(str(tag), {"count": 0, "default": False})["default"] = True
    return counts


class InfoHandler(CoreRequestHandler):
    """Lists the mini applications (handler resources) the current user may
    access, from every live server sharing the store.

    Methods:
        GET /_info - list of resources
        GET /_info?tag - tag counts
        GET /_info?version - versions
        POST /_info - versions

    Parameters:
        search (str): text matched case-insensitively against title,
            subtitle, author, tag, qual_name and description; a leading
            ``!`` includes resources tagged ``api``
        filter (dict): used only without search text, a MongoDB-style query
            over the listed fields, e.g. ``{"author": "mra"}`` or
            ``{"tag": {"$in": ["app"]}}`` (no ``$regex``)
        tag (list): only resources with one of these tags (a JSON list or
            a single tag)
        api (bool): include resources tagged ``api``
        page (int): 0-based page number
        per_page (int): resources per page

    Returns:
        data (list): one dict per resource, paginated (page, page_count,
        total_count, per_page, count)

    Raises:
        400: invalid page, per_page, filter or tag
        401: Unauthorized
    """

    title = "mini applications"
    author = "core4flask"
    icon = "mdi-view-dashboard"

    def verify_access(self, method: str | None = None) -> bool:
        """Any signed-in user may list what they may use."""
        return True

    def get(self) -> Any:
        """List the resources the user may access."""
        if "version" in self.request.args:
            return self.version_info()
        if "tag" in self.request.args and not any(self.request.args.getlist("tag")):
            defaults = self.config.get_path("api.tag", []) or []
            return tag_counts(self.visible_entries(), defaults)
        return self.listing()

    def post(self) -> Any:
        """Versions of the project and of core4flask."""
        return self.version_info()

    def visible_entries(self) -> list[dict[str, Any]]:
        """Every live resource the user may see."""
        entries = live_entries(self.ext, self.request.environ)
        return [entry for entry in entries if may_see(self.user, entry)]

    def filtered_entries(self) -> list[dict[str, Any]]:
        """The visible resources matching ``search`` (else ``filter``), ``tag`` and ``api``."""
        include_api = self.get_argument("api", as_type=bool, default=False)
        search, include_api = parse_search(self.get_argument("search", as_type=str, default=""), include_api)
        # checked even when a search makes core4 ignore it, so a broken filter never passes silently
        query = parse_filter(self.get_argument("filter", as_type=dict, default=None))
        tags = parse_tags(self.get_arguments("tag"))
        return filter_entries(
            self.visible_entries(), search=search, tags=tags, include_api=include_api, query=None if search else query
        )

    def listing(self) -> Any:
        """One page of the filtered resources."""
        per_page = self.get_argument("per_page", as_type=int, default=10)
        page = self.get_argument("page", as_type=int, default=0)
        items = self.filtered_entries()
        pager = CorePager(
            length=lambda _filter: len(items),
            query=lambda skip, limit, _filter, _sort: items[skip : skip + limit],
            per_page=per_page,
            current_page=page,
        )
        return pager.page()

    def version_info(self) -> dict[str, Any]:
        """``project``, ``version`` and ``core4`` (core4flask's version)."""
        container = self.resource.container if self.resource is not None else type(self)
        project = project_of(container)
        return {"project": project, "version": project_version(project), "core4": __version__}
