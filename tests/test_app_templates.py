"""The mini application templates rendered with plain Jinja2."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Undefined

from core4flask.apps.docstrings import method_docs, parse_docstring, render_docstring_html
from core4flask.apps.openapi import build_openapi

PACKAGE = Path(__file__).resolve().parent.parent / "core4flask"
XSS = '<script>alert("x")</script>'


@pytest.fixture(params=[Undefined, StrictUndefined], ids=["lenient", "strict"])
def env(request: pytest.FixtureRequest) -> Environment:
    """Plain Jinja2, and the strict undefined of core4flask's own environment."""
    return Environment(loader=FileSystemLoader(str(PACKAGE / "templates")), autoescape=True, undefined=request.param)


def static_url_for(filename: str) -> str:
    return f"/test/_asset/default/abc/{filename}"


class _Handler:
    """Shows the sales figures.

    Visit the dashboard for details.
    """

    def get(self) -> None:
        """Sales per region.

        Parameters:
            region (str): the region
            this line is broken
        """

    def post(self) -> None:
        pass


def help_meta(**overrides: Any) -> dict[str, Any]:
    parsed = parse_docstring(_Handler.__doc__)
    meta = {
        "title": "Sales",
        "subtitle": "regional sales",
        "author": "mra",
        "qual_name": "demo.api.SalesHandler",
        "tag": ["app", "new"],
        "icon": "mdi-chart-line",
        "protected": True,
        "pattern": [{"regex": "/sales/(?P<region>.*)$", "name": "sales"}],
        "description_html": render_docstring_html(parsed),
        "description_error": parsed["errors"],
        "method": [{k: v for k, v in m.items() if k != "parsed"} for m in method_docs(_Handler)],
        "help_url": "/demo/_info/help/abc",
        "card_url": "/demo/_info/card/abc",
        "enter_url": "/demo/_info/enter/abc",
        "version": "1.2.3",
        "created_at": "01.02.2024 10:30",
    }
    meta.update(overrides)
    return meta


def app(rsc_id: str, title: str, **overrides: Any) -> dict[str, Any]:
    entry = {
        "rsc_id": rsc_id,
        "title": title,
        "subtitle": f"{title} subtitle",
        "description": f"{title} description",
        "tag": ["app"],
        "icon": "mdi-cog",
        "enter_url": f"/demo/_info/enter/{rsc_id}",
        "help_url": f"/demo/_info/help/{rsc_id}",
        "card_url": f"/demo/_info/card/{rsc_id}",
        "target": None,
        "is_new": False,
    }
    entry.update(overrides)
    return entry


def render_launcher(env: Environment, apps: list[dict[str, Any]], **context: Any) -> str:
    values = {
        "apps": apps,
        "tags": [{"name": "app", "count": 2}, {"name": "new", "count": 1}],
        "search": "",
        "selected_tag": "",
        "user_name": "admin",
        "logout_url": "/core4/api/v1/logout",
        "settings_url": "/core4/api/v1/setting/core4flask_launcher",
        "static_url_for": static_url_for,
    }
    values.update(context)
    return env.get_template("core4/launcher.html").render(**values)


class _Forms(HTMLParser):
    """Collects forms with their fields, and all element ids."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self.labels: set[str] = set()
        self.controls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if tag == "form":
            self.forms.append({"attrs": attributes, "fields": {}})
        elif tag in ("input", "select") and self.forms:
            self.forms[-1]["fields"][attributes.get("name")] = attributes
            if attributes.get("type") not in ("hidden", "submit"):
                self.controls.append(str(attributes.get("id")))
        elif tag == "label" and attributes.get("for"):
            self.labels.add(str(attributes["for"]))


def parse(html: str) -> _Forms:
    parser = _Forms()
    parser.feed(html)
    return parser


def test_no_external_urls_in_templates_and_assets() -> None:
    files = [*(PACKAGE / "templates" / "core4").glob("*.html"), *(PACKAGE / "static").glob("*.css")]
    files += list((PACKAGE / "static").glob("*.js"))
    names = {f.name for f in files}
    assert {"help.html", "card.html", "launcher.html", "apidoc.html", "_base.html", "core4.css", "launcher.js"} <= names
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), path
        assert not re.search(r"""(src|href)\s*=\s*["']//""", text), path
        assert "@import" not in text, path


def test_help_page(env: Environment) -> None:
    html = env.get_template("core4/help.html").render(meta=help_meta(), static_url_for=static_url_for)
    assert "<title>Sales · Help</title>" in html
    assert "<h1>Sales</h1>" in html and "regional sales" in html
    assert 'href="/test/_asset/default/abc/core4.css"' in html
    assert "Protected" in html and "Login required" in html
    assert "<code>/sales/(?P&lt;region&gt;.*)$</code>" in html and "(sales)" in html
    assert "Visit the dashboard for details." in html
    assert "01.02.2024 10:30" in html and "1.2.3" in html and "demo.api.SalesHandler" in html
    assert '<span class="http-method http-get">GET</span>' in html
    assert "<td><code>region</code></td><td>str</td><td>the region</td>" in html
    assert "This method is not documented." in html  # POST has no docstring
    assert 'href="/demo/_info/enter/abc"' in html and 'href="/demo/_info/card/abc"' in html


def test_help_shows_parser_errors(env: Environment) -> None:
    html = env.get_template("core4/help.html").render(meta=help_meta())
    assert "Documentation warnings" in html
    assert "Parameters: cannot parse line &#39;this line is broken&#39;" in html
    assert '<ul class="warning-list" aria-label="Warnings for GET">' in html


def test_help_escapes_and_handles_sparse_meta(env: Environment) -> None:
    meta = help_meta(title=XSS, subtitle=XSS, author=XSS, tag=[XSS], pattern=[[XSS, None]], protected=False)
    meta["method"] = [{"method": "GET", "doc": None, "html": None, "parser_error": None, "parts": None}]
    html = env.get_template("core4/help.html").render(meta=meta)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "Public" in html and "Documentation warnings" not in html
    sparse = env.get_template("core4/help.html").render(meta={"qual_name": "m.H", "method": []})
    assert "defines no HTTP methods" in sparse and "No introduction" in sparse


def test_pages_render_with_only_the_required_variables(env: Environment) -> None:
    help_page = env.get_template("core4/help.html").render(meta={"qual_name": "m.H", "method": []})
    assert "<h1>m.H</h1>" in help_page
    card = env.get_template("core4/card.html").render(meta={"title": "Bare"})
    assert '<h1 id="card-title" class="app-title">Bare</h1>' in card
    bare_app = {"rsc_id": "b1", "title": "Bare app", "enter_url": "/e", "help_url": "/h"}
    launcher = env.get_template("core4/launcher.html").render(apps=[bare_app], tags=[])
    assert '<h2 class="app-title" id="app-b1-title">Bare app</h2>' in launcher
    assert "App Manager" in launcher and "<script" not in launcher
    apidoc = env.get_template("core4/apidoc.html").render(spec={"openapi": "3.1.0", "info": {}, "paths": {}})
    assert "This API has no documented endpoints." in apidoc


def test_card(env: Environment) -> None:
    meta = help_meta(description_html="<p>Shows <em>sales</em></p>")
    html = env.get_template("core4/card.html").render(meta=meta, static_url_for=static_url_for)
    assert '<h1 id="card-title" class="app-title">Sales</h1>' in html
    assert "<p>Shows <em>sales</em></p>" in html
    assert '<span class="icon-badge" aria-hidden="true" title="mdi-chart-line">CL</span>' in html
    assert 'href="/demo/_info/enter/abc"' in html and ">Open<" in html
    assert 'href="/demo/_info/help/abc"' in html and ">Help<" in html
    escaped = env.get_template("core4/card.html").render(meta=help_meta(title=XSS, subtitle=XSS))
    assert "<script>" not in escaped


def test_launcher_cards(env: Environment) -> None:
    apps = [
        app("a1", "Sales", is_new=True, tag=["app", "new"]),
        app("a2", "Link", target="blank", icon=None),
    ]
    html = render_launcher(env, apps)
    assert '<h2 class="app-title" id="app-a1-title">Sales</h2>' in html
    assert '<h2 class="app-title" id="app-a2-title">Link</h2>' in html
    assert html.count('<span class="badge badge-new">NEW</span>') == 1
    assert '<a class="button button-primary" href="/demo/_info/enter/a1">' in html
    assert 'href="/demo/_info/enter/a2" target="_blank" rel="noopener noreferrer"' in html
    assert 'href="/demo/_info/help/a2"' in html
    assert "Sales description" in html and "Sales subtitle" in html
    assert 'href="?tag=new"' in html
    assert "2 applications" in html
    assert '<span class="icon-badge" aria-hidden="true">L</span>' in html  # initials of the title
    assert 'data-settings-url="/core4/api/v1/setting/core4flask_launcher"' in html
    assert '<script src="/test/_asset/default/abc/launcher.js" defer></script>' in html
    assert "admin" in html


def test_launcher_form_works_without_javascript(env: Environment) -> None:
    html = render_launcher(env, [app("a1", "Sales")], search="sal es", selected_tag="new")
    page = parse(html)
    search_forms = [f for f in page.forms if "search" in f["fields"]]
    assert len(search_forms) == 1
    form = search_forms[0]
    assert form["attrs"]["method"] == "get"
    assert form["fields"]["search"]["value"] == "sal es"
    assert form["fields"]["tag"] is not None
    assert '<option value="new" selected>new (1)</option>' in html
    assert 'href="?"' in html  # clear filters
    logout = [f for f in page.forms if f["attrs"].get("action") == "/core4/api/v1/logout"]
    assert logout and logout[0]["attrs"]["method"] == "post"
    # JavaScript-only controls start hidden, so the plain page stays coherent
    assert re.search(r'<div class="field" data-js-only hidden>', html)
    assert re.search(r'class="favourite-toggle"[^>]*\shidden>', html)


def test_launcher_unknown_selected_tag_is_kept(env: Environment) -> None:
    html = render_launcher(env, [], selected_tag="rare")
    assert '<option value="rare" selected>rare</option>' in html
    assert "No application matches your filter." in html


def test_launcher_empty_state(env: Environment) -> None:
    html = render_launcher(env, [], tags=[])
    assert "No applications are available to you yet." in html
    assert '<p class="empty-state" id="launcher-empty">' in html
    assert "0 applications" in html


def test_launcher_escapes(env: Environment) -> None:
    apps = [app("a1", XSS, subtitle=XSS, description=XSS, tag=[XSS])]
    html = render_launcher(env, apps, search=XSS, selected_tag=XSS, user_name=XSS, tags=[{"name": XSS, "count": 1}])
    assert "<script>" not in html
    assert 'value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"' in html


def test_pages_are_accessible_shapes(env: Environment) -> None:
    pages = [
        render_launcher(env, [app("a1", "Sales"), app("a2", "Other")]),
        env.get_template("core4/help.html").render(meta=help_meta()),
        env.get_template("core4/card.html").render(meta=help_meta()),
    ]
    for html in pages:
        page = parse(html)
        assert len(page.ids) == len(set(page.ids)), "duplicate ids"
        assert set(page.controls) <= page.labels, "every form control has a label"
        assert '<html lang="en">' in html and 'name="viewport"' in html
        assert '<main id="main"' in html and 'href="#main"' in html


def test_apidoc(env: Environment) -> None:
    resources = [
        {
            "rsc_id": "r1",
            "qual_name": "demo.RoleHandler",
            "title": "Roles",
            "subtitle": XSS,
            "description": "Manage roles.",
            "protected": True,
            "tag": [],
            "patterns": ["/core4/api/v1/roles/?$", "/core4/api/v1/roles/(?P<_id>.*)$"],
            "methods": {"GET": "List roles.\n\nParameters:\n    page (int): page\n\nRaises:\n    404: gone"},
            "container": "demo.Server",
        },
        {
            "rsc_id": "r2",
            "qual_name": "demo.Static",
            "title": XSS,
            "subtitle": None,
            "description": None,
            "protected": False,
            "tag": [],
            "patterns": ["/demo/help(?:/(.*))?$"],
            "methods": {"GET": None},
            "container": "demo.Server",
        },
    ]
    spec = build_openapi(resources, title="Demo API", version="1.0")
    html = env.get_template("core4/apidoc.html").render(
        spec=spec, spec_url="/core4/api/v1/openapi.json", static_url_for=static_url_for
    )
    assert "<title>Demo API · API reference</title>" in html
    assert "<code>/core4/api/v1/roles/{_id}</code>" in html
    assert '<span class="http-method http-get">GET</span> <code>/core4/api/v1/roles</code>' in html
    assert '<span class="op-summary">List roles.</span>' in html
    assert "<td><code>page</code></td>" in html and "<td>integer</td>" in html
    assert "<td><code>404</code></td>" in html and "<td>gone</td>" in html
    assert "Login required" in html and "with bearer or cookie or basic" in html
    assert '<span class="badge badge-public">Public</span>' in html
    assert "Routing pattern: <code>/demo/help(?:/(.*))?$</code>" in html
    assert 'id="schema-PageEnvelope"' in html and "ErrorEnvelope" in html
    assert "<script>" not in html
    assert len(parse(html).ids) == len(set(parse(html).ids))
