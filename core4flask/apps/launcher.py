"""The App Manager at ``/``: the user's mini applications as cards.

Browsers get a server-rendered page (``core4/launcher.html``) filtered by the
GET parameters ``search``, ``tag`` and ``api``; ``launcher.js`` adds instant
filtering and favourites kept in the user's settings. JSON clients get the
``_info`` listing.

Layer: the apps feature; it uses the request core and the helpers, never
authentication or roles.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from ..docstrings import parse_docstring
from ..templating import package_environment
from .info import InfoHandler, filter_entries, parse_search, parse_tags, tag_counts

#: Where the launcher keeps its choices (launcher.js PUTs ``{"launcher": ...}``).
SETTINGS_URL = "/core4/api/v1/setting"
#: The logout endpoint of the standard container.
LOGOUT_URL = "/core4/api/v1/logout"

_LITERAL = re.compile(r"``(.+?)``")


def summary_of(entry: dict[str, Any]) -> str:
    """The first paragraph of a resource's description."""
    description = entry.get("description") or ""
    if description in ("", "None"):
        return ""
    summary = str(parse_docstring(description)["summary"] or "")
    return _LITERAL.sub(r"\1", summary)


def card_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The variables of one card in ``launcher.html``.

    The entry's links are paths on this server for what it serves and
    absolute URLs of another server for the rest (see ``live_entries``).
    """
    tags = list(entry.get("tag") or [])
    return {
        "rsc_id": entry["rsc_id"],
        "qual_name": entry.get("qual_name"),
        "title": entry.get("title"),
        "subtitle": entry.get("subtitle"),
        "description": summary_of(entry),
        "tag": tags,
        "icon": entry.get("icon"),
        "target": entry.get("target"),
        "is_new": "new" in tags,
        "help_url": entry.get("help_url"),
        "card_url": entry.get("card_url"),
        "enter_url": entry.get("enter_url"),
    }


class LauncherHandler(InfoHandler):
    """The App Manager: every mini application the user may use, as cards.

    Methods:
        GET / - the launcher page (browsers) or the ``_info`` listing (JSON)

    Parameters:
        search (str): filter by text; a leading ``!`` includes API endpoints
        tag (str): filter by tag
        api (bool): include resources tagged ``api``

    Raises:
        401: Unauthorized (browsers are sent to the login page)
    """

    title = "App Manager"
    subtitle = "core4flask mini applications"
    author = "core4flask"
    icon = "mdi-apps"

    def get(self) -> Any:
        """The launcher page, or the listing for JSON clients."""
        if not self.wants_html():
            return super().get()
        self.set_header("Cache-Control", "no-store")
        self.render_launcher()
        return None

    def render_launcher(self) -> None:
        """Render the cards of the filtered resources."""
        visible = self.visible_entries()
        include_api = self.get_argument("api", as_type=bool, default=False)
        raw_search = self.get_argument("search", as_type=str, default="") or ""
        search, include_api = parse_search(raw_search, include_api)
        tags = parse_tags(self.get_arguments("tag"))
        chosen = filter_entries(visible, search=search, tags=tags, include_api=include_api)
        shown = filter_entries(visible, include_api=include_api)
        counts = tag_counts(shown, [])
        template = package_environment().get_template("core4/launcher.html")
        body = template.render(
            apps=[card_of(entry) for entry in chosen],
            tags=[{"name": name, "count": counts[name]["count"]} for name in sorted(counts)],
            search=raw_search.strip(),
            selected_tag=tags[0] if tags else "",
            show_api=include_api and not raw_search.strip().startswith("!"),
            user_name=getattr(self.user, "name", None),
            logout_url=LOGOUT_URL,
            settings_url=SETTINGS_URL,
            static_url_for=self._static_url_for,
        )
        self.finish_body(body, "text/html; charset=UTF-8")

    def _static_url_for(self, filename: str) -> str:
        return f"{self.root}/_asset/default/{self.rsc_id}/{quote(filename)}"
