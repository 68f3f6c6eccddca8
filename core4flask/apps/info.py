"""``<root>/_info``: the mini applications the user may use."""

from __future__ import annotations

from typing import Any

from ..handler import CoreRequestHandler
from ..pagination import CorePager


class InfoHandler(CoreRequestHandler):
    """Lists the mini applications (handler resources) the current user may
    access, as a paginated result.

    Methods:
        GET /_info - list of resources

    Parameters:
        search (str): text matched against title, subtitle, author, tag,
            qual_name and description; a leading ``!`` includes ``api`` tags
        tag (list): only resources with one of these tags
        api (bool): include resources tagged ``api``
        page (int): 0-based page number
        per_page (int): resources per page

    Returns:
        data (list): one dict per resource

    Raises:
        401: Unauthorized
    """

    title = "mini applications"
    author = "core4flask"

    def get(self) -> Any:
        """List the resources the user may access."""
        entries = [r for r in self._ext.resources.values() if self._visible(r)]
        search = (self.get_argument("search", as_type=str, default="") or "").strip()
        include_api = self.get_argument("api", as_type=bool, default=False)
        if search.startswith("!"):
            include_api, search = True, search[1:].strip()
        tags = self.get_argument("tag", as_type=list, default=None)
        from .meta import resource_meta

        items = [resource_meta(r) for r in entries]
        if not include_api:
            items = [m for m in items if "api" not in m["tag"]]
        if tags:
            items = [m for m in items if set(m["tag"]) & set(tags)]
        if search:
            needle = search.lower()
            items = [m for m in items if needle in _haystack(m)]
        items.sort(key=lambda m: ((m["title"] or "").lower(), (m["subtitle"] or "").lower()))
        pager = CorePager(
            length=lambda _f: len(items),
            query=lambda skip, limit, _f, _s: items[skip : skip + limit],
            per_page=self.get_argument("per_page", as_type=int, default=10),
            current_page=self.get_argument("page", as_type=int, default=0),
        )
        return pager.page()

    def _visible(self, resource: Any) -> bool:
        if resource.handler is InfoHandler:
            return False
        base = resource.container.qual_name() if resource.handler.perm_base == "container" else resource.qual_name
        return bool(self.user.has_api_access(base, "GET") or getattr(self.user, "is_admin", lambda: False)())


def _haystack(meta: dict[str, Any]) -> str:
    fields = ("title", "subtitle", "author", "qual_name", "description")
    return " ".join([str(meta.get(f) or "") for f in fields] + list(meta.get("tag") or [])).lower()
