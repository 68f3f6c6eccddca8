"""Help, card and enter pages of a resource, and the resource identity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core4flask import CoreApiContainer, CoreRequestHandler, CoreStaticFileHandler, create_app
from core4flask.container import resource_id
from core4flask.testing import create_user, issue_token, use_throwaway_store

ADMIN = {"api": {"admin_password": "hans", "token": {"secret": "meta-pages-secret-0123456789abcdef"}}}
HTML = {"Accept": "text/html"}


class Documented(CoreRequestHandler):
    """Sales per region.

    Shows the sales of {{ title }}.

    Methods:
        GET /sales - the figures

    Parameters:
        region (str): the region

    Raises:
        400: unknown region
    """

    title = "sales"
    author = "mra"
    tag = ["app"]

    def get(self):
        """The figures.

        Parameters:
            region (str): the region
        """
        return "figures"

    def post(self):
        return "posted"


class Broken(CoreRequestHandler):
    """Broken docs.

    Parameters:
        (this line is no parameter
    """

    title = "broken"

    def get(self):
        """Bad.

        Raises:
            : nothing
        """
        return "ok"


class NoArgCard(CoreRequestHandler):
    """Has the seed's card form."""

    title = "no-arg card"

    def card(self):
        return "<p id='mine'>my card</p>"


class MetaCard(CoreRequestHandler):
    """Renders its card from the meta data."""

    title = "meta card"

    def card(self, **meta):
        self.reply({"card_of": meta["title"], "help": meta["help_url"]})


class TemplateCard(CoreRequestHandler):
    """Renders a card template from its template_path (the seed's example)."""

    title = "template card"
    template_path = "/servers/custom_templates"

    def card(self):
        self.render("index.html")


class Linked(CoreRequestHandler):
    """Visit {{ enter_url }}"""

    title = "linked"
    enter_url = "https://example.org/landing"

    def get(self):
        return self.redirect(self.enter_url)


class NeedsArgs(CoreRequestHandler):
    """GET needs a URL argument."""

    title = "needs args"

    def get(self, item):
        return item


class PostOnly(CoreRequestHandler):
    """Has no GET."""

    def post(self):
        return "posted"


class First(CoreApiContainer):
    root = "/first"
    rules = [
        (r"/sales", Documented),
        (r"/sales/(?P<region>[a-z]+)", Documented),
        (r"/broken", Broken),
        (r"/noarg", NoArgCard),
        (r"/metacard", MetaCard),
        (r"/tplcard", TemplateCard),
        (r"/linked", Linked),
        (r"/item/(.+)", NeedsArgs),
        (r"/post", PostOnly),
        (r"/titled", Documented, {"title": "other sales"}),
        (r"/files", CoreStaticFileHandler, {"path": "servers/custom_templates", "title": "files"}),
    ]


class Second(CoreApiContainer):
    root = "/second"
    rules = [(r"/sales", Documented)]


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(First, Second, config=ADMIN, instance_path=str(tmp_path))
    application.extensions["core4flask"].prepare_serving()
    return application


@pytest.fixture
def client(app: Any) -> Any:
    test_client = app.test_client()
    token = test_client.get("/core4/api/v1/login?username=admin&password=hans").json["data"]["token"]
    test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return test_client


def rsc(app: Any, handler: type, **kwargs: Any) -> str:
    return resource_id(handler.qual_name(), kwargs)


def test_rsc_id_is_core4s_hash(app: Any) -> None:
    ext = app.extensions["core4flask"]
    rsc_id = rsc(app, Documented)
    assert rsc_id in ext.resources
    # the same handler with other kwargs is another resource
    assert rsc(app, Documented, title="other sales") in ext.resources
    assert rsc(app, Documented, title="other sales") != rsc_id
    # the container does not enter the hash; several patterns are one resource
    first = ext.container_of("/first").resources[rsc_id]
    second = ext.container_of("/second").resources[rsc_id]
    assert [p for p, _ in first.patterns] == ["/first/sales", "/first/sales/(?P<region>[a-z]+)"]
    assert [p for p, _ in second.patterns] == ["/second/sales"]


def test_help_page_for_browsers(client: Any, app: Any) -> None:
    response = client.get(f"/first/_info/help/{rsc(app, Documented)}", headers=HTML)
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    page = response.get_data(as_text=True)
    assert "<h1>sales</h1>" in page
    assert "Shows the sales of sales." in page  # the description is a Jinja template
    assert "region" in page and "Parameters" in page
    assert "unknown region" in page
    assert 'id="method-get"' in page and 'id="method-post"' in page
    assert "test_meta_pages.Documented" in page


def test_help_for_json_clients_is_the_envelope(client: Any, app: Any) -> None:
    response = client.get(f"/first/_info/help/{rsc(app, Documented)}")
    assert response.status_code == 200
    body = response.json
    assert body["code"] == 200 and "_id" in body
    meta = body["data"]
    assert meta["qual_name"] == "test_meta_pages.Documented"
    assert meta["description"].startswith("Sales per region.")
    assert meta["help_url"] == f"/first/_info/help/{meta['rsc_id']}"
    assert meta["pattern"] == [
        {"regex": "/first/sales", "name": None},
        {"regex": "/first/sales/(?P<region>[a-z]+)", "name": None},
    ]
    assert [m["method"] for m in meta["method"]] == ["GET", "POST"]


def test_help_shows_docstring_problems_instead_of_failing(client: Any, app: Any) -> None:
    response = client.get(f"/first/_info/help/{rsc(app, Broken)}", headers=HTML)
    assert response.status_code == 200
    assert "Documentation warnings" in response.get_data(as_text=True)
    meta = client.get(f"/first/_info/help/{rsc(app, Broken)}").json["data"]
    assert meta["description_error"] or any(m["parser_error"] for m in meta["method"])


def test_help_works_with_an_empty_registry(client: Any, app: Any) -> None:
    store = app.extensions["core4flask"].store
    assert store.registry_live(60) == []
    assert client.get(f"/second/_info/help/{rsc(app, Documented)}", headers=HTML).status_code == 200
    assert client.get(f"/second/_info/card/{rsc(app, Documented)}", headers=HTML).status_code == 200


def test_help_query_key_redirects(client: Any, app: Any) -> None:
    response = client.get("/first/sales/north?_help")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/first/_info/help/{rsc(app, Documented)}"


def test_pages_of_resources_of_other_containers_are_404(client: Any, app: Any) -> None:
    assert client.get(f"/second/_info/help/{rsc(app, Broken)}").status_code == 404
    assert client.get("/first/_info/help/" + "0" * 32).status_code == 404


def test_pages_need_a_login(app: Any) -> None:
    anonymous = app.test_client()
    assert anonymous.get(f"/first/_info/help/{rsc(app, Documented)}").status_code == 401
    response = anonymous.get(f"/first/_info/card/{rsc(app, Documented)}", headers=HTML)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/core4/api/v1/login?next=")


def test_default_card(client: Any, app: Any) -> None:
    response = client.get(f"/first/_info/card/{rsc(app, Documented)}", headers=HTML)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "sales" in page and f"/first/_info/enter/{rsc(app, Documented)}" in page


def test_card_for_json_clients_is_the_bare_meta(client: Any, app: Any) -> None:
    body = client.get(f"/first/_info/card/{rsc(app, Documented)}").json
    assert "code" not in body and "data" not in body
    assert body["rsc_id"] == rsc(app, Documented)
    assert body["custom_card"] is False
    assert client.get(f"/first/_info/card/{rsc(app, NoArgCard)}").json["custom_card"] is True


def test_card_and_help_meta_are_the_info_entry_updated_with_the_page(client: Any, app: Any) -> None:
    """core4's shape: the registry entry (endpoint URLs, version, dates, the new
    tag) updated with the resource's own args, description, pattern, links."""
    card = client.get(f"/first/_info/card/{rsc(app, Documented)}").json
    assert card["endpoint"] == ["http://localhost/first", "http://localhost/second"]  # mounted in both
    assert {"version", "created_at", "started_at"} <= set(card)
    assert card["started_at"] is not None and card["created_at"] is not None
    assert "new" in card["tag"]
    assert card["help_url"] == f"/first/_info/help/{rsc(app, Documented)}"
    assert card["pattern"][0] == {"regex": "/first/sales", "name": None}
    help_meta = client.get(f"/first/_info/help/{rsc(app, Documented)}").json["data"]
    assert help_meta["endpoint"] == card["endpoint"]
    assert help_meta["description"].startswith("Sales per region.")


def test_custom_cards_replace_the_default(client: Any, app: Any) -> None:
    no_arg = client.get(f"/first/_info/card/{rsc(app, NoArgCard)}", headers=HTML)
    assert no_arg.status_code == 200
    assert no_arg.get_data(as_text=True) == "<p id='mine'>my card</p>"
    assert no_arg.content_type.startswith("text/html")
    with_meta = client.get(f"/first/_info/card/{rsc(app, MetaCard)}", headers=HTML)
    assert with_meta.status_code == 200
    assert with_meta.json["data"]["card_of"] == "meta card"
    assert with_meta.json["data"]["help"] == f"/first/_info/help/{rsc(app, MetaCard)}"
    template = client.get(f"/first/_info/card/{rsc(app, TemplateCard)}", headers=HTML)
    assert template.status_code == 200
    assert 'id="custom"' in template.get_data(as_text=True)


def test_enter_redirects_to_enter_url(client: Any, app: Any) -> None:
    response = client.get(f"/first/_info/enter/{rsc(app, Linked)}")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.org/landing"
    meta = client.get(f"/first/_info/help/{rsc(app, Linked)}").json["data"]
    assert meta["enter_url"] == "https://example.org/landing"
    assert "Visit https://example.org/landing" in meta["description"]


def test_enter_calls_get(client: Any, app: Any) -> None:
    response = client.get(f"/first/_info/enter/{rsc(app, Documented)}")
    assert response.status_code == 200
    assert response.json["data"] == "figures"


def test_enter_explains_when_get_needs_url_arguments(client: Any, app: Any) -> None:
    response = client.get(f"/first/_info/enter/{rsc(app, NeedsArgs)}")
    assert response.status_code == 400
    assert "needs URL arguments (item)" in response.json["error"]
    response = client.get(f"/first/_info/enter/{rsc(app, PostOnly)}")
    assert response.status_code == 400
    assert "no GET" in response.json["error"]


def test_enter_of_a_static_folder_redirects_to_it(client: Any, app: Any) -> None:
    ext = app.extensions["core4flask"]
    static = next(r for r in ext.container_of("/first").resources.values() if r.handler is CoreStaticFileHandler)
    response = client.get(f"/first/_info/enter/{static.rsc_id}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/first/files"


# -- pages of tenant handlers (the seed's MyHandler) --------------------------------


@pytest.fixture
def tenant_app(tmp_path: Path) -> Any:
    from demo.seed import CONTAINERS

    application = create_app(*CONTAINERS, config=ADMIN, instance_path=str(tmp_path))
    use_throwaway_store(application, tmp_path)
    application.extensions["core4flask"].prepare_serving()
    return application


def tenant_client(app: Any, *perm: str) -> Any:
    user = create_user(app, perm=perm)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(app, user._id)}"
    return client


def test_tenant_pages_need_access_to_the_handler_only(tenant_app: Any) -> None:
    from demo.seed import MyHandler

    rsc_id = rsc(tenant_app, MyHandler)
    cop = tenant_client(tenant_app, "cop")
    handler_only = tenant_client(tenant_app, f"api://{MyHandler.qual_name()}")
    lufthansa = tenant_client(tenant_app, f"api://{MyHandler.qual_name()}", "app://client/lufthansa")
    stranger = tenant_client(tenant_app, "app://client/lufthansa")
    for client in (cop, handler_only, lufthansa):
        help_page = client.get(f"/my/_info/help/{rsc_id}", headers=HTML)
        assert help_page.status_code == 200 and "tenant example" in help_page.get_data(as_text=True)
        assert client.get(f"/my/_info/help/{rsc_id}").json["data"]["qual_name"] == MyHandler.qual_name()
        assert client.get(f"/my/_info/card/{rsc_id}", headers=HTML).status_code == 200
        assert client.get(f"/my/_info/card/{rsc_id}").json["rsc_id"] == rsc_id
        # no URL, no client: the landing page explains instead of serving one
        enter = client.get(f"/my/_info/enter/{rsc_id}")
        assert enter.status_code == 400 and "URL" in enter.json["error"]
    for page in ("help", "card", "enter"):
        assert stranger.get(f"/my/_info/{page}/{rsc_id}").status_code == 403
        assert tenant_app.test_client().get(f"/my/_info/{page}/{rsc_id}").status_code == 401
    # the client check still guards the real requests
    assert cop.get("/my/api/lufthansa/0815").json["data"] == {"_id": "0815", "client": "lufthansa"}
    assert lufthansa.get("/my/api/lufthansa/0815").status_code == 200
    assert handler_only.get("/my/api/lufthansa/0815").status_code == 403
    assert lufthansa.get("/my/api/condor/0815").status_code == 403


def test_tenant_help_query_key_leads_to_a_working_help_page(tenant_app: Any) -> None:
    from demo.seed import MyHandler

    cop = tenant_client(tenant_app, "cop")
    redirect = cop.get("/my/api/lufthansa/0815?_help")
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == f"/my/_info/help/{rsc(tenant_app, MyHandler)}"
    assert cop.get(redirect.headers["Location"], headers=HTML).status_code == 200
    assert cop.get("/my/api/lufthansa/0815?_help", headers=HTML, follow_redirects=True).status_code == 200


def test_tenant_enter_url_is_followed(tmp_path: Path) -> None:
    from demo.seed import MyHandler

    class LinkedTenant(CoreApiContainer):
        root = "/linked"
        rules = [(r"/api/(?P<client>.+)", MyHandler, {"enter_url": "/linked/api/lufthansa"})]

    app = create_app(LinkedTenant, config=ADMIN, instance_path=str(tmp_path))
    use_throwaway_store(app, tmp_path)
    rsc_id = rsc(app, MyHandler, enter_url="/linked/api/lufthansa")
    response = tenant_client(app, f"api://{MyHandler.qual_name()}").get(f"/linked/_info/enter/{rsc_id}")
    assert response.status_code == 302 and response.headers["Location"] == "/linked/api/lufthansa"


# -- core4's pseudo-methods XCARD, XHELP, XENTER --------------------------------------

PSEUDO = {"XCARD": "card", "XHELP": "help", "XENTER": "enter"}


def answer(response: Any) -> Any:
    """What a page answers, without the per-request envelope fields."""
    if not response.is_json:
        return response.get_data(as_text=True)
    body = dict(response.json)
    for volatile in ("_id", "timestamp"):
        body.pop(volatile, None)
    return body


@pytest.mark.parametrize("headers", [{}, HTML])
@pytest.mark.parametrize("method", PSEUDO)
def test_pseudo_methods_answer_like_get_on_the_page_urls(client: Any, app: Any, method: str, headers: Any) -> None:
    url = f"/first/_info/{PSEUDO[method]}/{rsc(app, Documented)}"
    got = client.get(url, headers=headers)
    pseudo = client.open(url, method=method, headers=headers)
    assert pseudo.status_code == got.status_code == 200
    assert pseudo.content_type == got.content_type
    assert answer(pseudo) == answer(got)


def test_pseudo_methods_on_a_handler_url_serve_its_pages(client: Any, app: Any) -> None:
    """core4 dispatched a pseudo-method sent to a handler's own URL to the
    handler's xcard/xhelp/xenter; the URL's arguments play no part."""
    rsc_id = rsc(app, Documented)
    for url in ("/first/sales", "/first/sales/north"):
        card = client.open(url, method="XCARD")
        assert card.status_code == 200 and card.json["rsc_id"] == rsc_id and card.json["custom_card"] is False
        help_page = client.open(url, method="XHELP", headers=HTML)
        assert help_page.status_code == 200 and "<h1>sales</h1>" in help_page.get_data(as_text=True)
        assert client.open(url, method="XENTER").json["data"] == "figures"
    custom = client.open("/first/noarg", method="XCARD", headers=HTML)
    assert custom.get_data(as_text=True) == "<p id='mine'>my card</p>"
    linked = client.open("/first/linked", method="XENTER")
    assert linked.status_code == 302 and linked.headers["Location"] == "https://example.org/landing"


def test_pseudo_methods_need_core4s_permission_letters(app: Any) -> None:
    """As core4's test_grant_xmethods: XCARD and XHELP need any of crud, XENTER needs r."""
    use_throwaway_store(app, app.instance_path)
    qual_name = Documented.qual_name()
    for letters, allowed in (("r", {"XCARD", "XHELP", "XENTER"}), ("d", {"XCARD", "XHELP"}), ("c", {"XCARD", "XHELP"})):
        user = create_user(app, perm=[f"api://{qual_name}/{letters}"])
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(app, user._id)}"
        for method in PSEUDO:
            for url in (f"/first/_info/{PSEUDO[method]}/{rsc(app, Documented)}", "/first/sales"):
                expected = 200 if method in allowed else 403
                assert client.open(url, method=method).status_code == expected, (letters, method, url)
    anonymous = app.test_client()
    for method in PSEUDO:
        assert anonymous.open("/first/sales", method=method).status_code == 401
        assert anonymous.open(f"/first/_info/card/{rsc(app, Documented)}", method=method).status_code == 401


def test_pseudo_methods_on_a_tenant_url_need_the_handler_only(tenant_app: Any) -> None:
    from demo.seed import MyHandler

    handler_only = tenant_client(tenant_app, f"api://{MyHandler.qual_name()}")
    card = handler_only.open("/my/api/lufthansa/0815", method="XCARD")
    assert card.status_code == 200 and card.json["rsc_id"] == rsc(tenant_app, MyHandler)
    assert handler_only.get("/my/api/lufthansa/0815").status_code == 403


def test_other_unknown_methods_are_still_405(client: Any) -> None:
    response = client.open("/first/sales", method="XFOO")
    assert response.status_code == 405
