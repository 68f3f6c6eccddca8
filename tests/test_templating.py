"""``render()`` and template resolution, with the seed's template namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core4flask import CoreApiContainer, CoreRequestHandler
from core4flask.templating import package_environment, split_template_name, tornado_ends
from demo.seed import TemplateHandler
from tests.fixtures import make_client
from tests.fixtures.project.handlers import HERE, FoldersHandler, PageHandler, ProjectContainer

TESTS = HERE.parent.parent
DEMO = Path(__file__).resolve().parent.parent / "demo"


def item(page: str, name: str) -> str:
    found = re.search(rf'<li id="{name}">(.*?)</li>', page, re.S)
    assert found, f"no {name} in page"
    return found.group(1)


@pytest.fixture
def client(tmp_path):
    return make_client(tmp_path, ProjectContainer)


def test_split_template_name():
    folder = Path("/somewhere")
    assert split_template_name("x.html", folder, "tests.fixtures.project.handlers") == (folder, "x.html")
    assert split_template_name("sub/x.html", folder, "tests.fixtures.project.handlers") == (folder, "sub/x.html")
    assert split_template_name("/a/x.html", folder, "tests.fixtures.project.handlers") == (TESTS, "a/x.html")
    assert split_template_name("file:///abs/dir/x.html", folder, "m") == (Path("/abs/dir"), "x.html")


def test_page_has_the_handler_properties(client):
    response = client.get("/fixture/page")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=UTF-8"
    page = response.get_data(as_text=True)
    assert "<title>page title</title>" in page
    expected = {
        "qual_name": "tests.fixtures.project.handlers.PageHandler",
        "handler_qual_name": "tests.fixtures.project.handlers.PageHandler",
        "project": "tests",
        "author": "tester",
        "tag": "app,test",
        "template_path": "templates",
        "static_path": "assets",
        "protected": "False",
        "icon": "mdi-circle-medium",
        "user": "None",
        "current_user": "None",
        "token_exp": "None",
        "enter_url": "None",
        "path": "/fixture/page",
        "port": "5001",
        "class_config": "0",
        "container": "ProjectContainer",
        "log_level": "None",
        "flash": "1",
        "greeting": "hello",
    }
    assert {name: item(page, name) for name in expected} == expected
    assert re.fullmatch(r"[0-9a-f]{24}", item(page, "identifier"))
    assert item(page, "started").startswith("20")


def test_static_urls_in_templates(client, tmp_path):
    page = client.get("/fixture/page").get_data(as_text=True)
    static_url = item(page, "static_url")
    default_static = item(page, "default_static")
    assert re.fullmatch(r"/fixture/_asset/project/[0-9a-f]{32}/css/site.css", static_url)
    assert re.fullmatch(r"/fixture/_asset/default/[0-9a-f]{32}/default.css", default_static)
    # both URLs are served: the handler's static folder is "assets", which has no css
    assert client.get(default_static).status_code == 200
    assert client.get(static_url).status_code == 404
    asset = static_url.replace("css/site.css", "logo.txt")
    assert client.get(asset).get_data(as_text=True) == "handler asset\n"


def test_relative_template_in_sub_folder_autoescapes(client):
    response = client.get("/fixture/child")
    assert response.get_data(as_text=True) == "child of child says &lt;b&gt;hi&lt;/b&gt;"


def test_without_template_path_the_module_folder_is_used(client):
    assert client.get("/fixture/module").get_data(as_text=True) == "module folder template module"


def test_template_name_with_slash_is_below_project_root(client):
    assert client.get("/fixture/byname").get_data(as_text=True) == "project root template by name"


def test_template_path_with_slash_is_below_project_root(client):
    assert client.get("/fixture/bypath").get_data(as_text=True) == "project root template by path"


def test_file_url_template_name(client):
    assert client.get("/fixture/byfile").get_data(as_text=True) == "project root template by file url"


def test_undefined_variables_fail_loudly(client):
    response = client.get("/fixture/undefined")
    assert response.status_code == 500
    assert "no_such_variable" in response.json["error"]


def test_missing_template_is_a_500_naming_it(client, tmp_path):
    class MissingTemplateHandler(CoreRequestHandler):
        protected = False

        def get(self):
            self.render("nothere.html")

    class Container(CoreApiContainer):
        root = "/missing"
        rules = [("/x", MissingTemplateHandler)]

    response = make_client(tmp_path / "other", Container).get("/missing/x")
    assert response.status_code == 500
    assert "nothere.html" in response.json["error"]


def test_render_string_and_namespace_overrides(tmp_path):
    class StringHandler(PageHandler):
        # relative to this test module's folder, not to PageHandler's
        template_path = "fixtures/project/templates"

        def get(self):
            return {"text": self.render_string("sub/child.html", title="given", word="w")}

    class Container(CoreApiContainer):
        root = "/s"
        rules = [("/x", StringHandler)]

    body = make_client(tmp_path, Container).get("/s/x").json
    assert body["data"] == {"text": "child of given says w"}


@pytest.mark.parametrize(
    ("tornado", "jinja"),
    [
        ("{% if a %}x{% elif b %}y{% else %}z{% end %}", "{% if a %}x{% elif b %}y{% else %}z{% endif %}"),
        ("{% for x in xs %}{% if x %}x{% end %}{% end %}", "{% for x in xs %}{% if x %}x{% endif %}{% endfor %}"),
        ("{%- block b -%}{%- end -%}", "{%- block b -%}{%- endblock -%}"),
        ("{% set y %}v{% end %}{% set z = 1 %}", "{% set y %}v{% endset %}{% set z = 1 %}"),
        ("{% if a %}{% for b in c %}{% endfor %}{% end %}", "{% if a %}{% for b in c %}{% endfor %}{% endif %}"),
        ("{% if q %}{% raw %}{% end %}{% endraw %}{% end %}", "{% if q %}{% raw %}{% end %}{% endraw %}{% endif %}"),
        ("<p>{{ title }}</p>", "<p>{{ title }}</p>"),
    ],
)
def test_tornado_ends_become_jinja_ends(tornado, jinja):
    assert tornado_ends(tornado) == jinja


def test_a_template_in_tornado_syntax_renders(tmp_path):
    class TornadoHandler(PageHandler):
        template_path = "fixtures/project/templates"

        def get(self):
            self.render("tornado.html", title="cities", cities=["Munich", "", "<Hamburg>"])

    class Container(CoreApiContainer):
        root = "/t"
        rules = [("/x", TornadoHandler)]

    page = make_client(tmp_path, Container).get("/t/x").get_data(as_text=True)
    assert "<h1>cities</h1>" in page
    assert "<ul><li>Munich</li><li>-</li><li>&lt;Hamburg&gt;</li></ul>" in page


def test_class_attributes_give_the_folders(client):
    data = client.get("/fixture/folders").json["data"]
    assert data["template_path"] == "templates"
    assert data["template_folder"] == str(HERE / "templates")
    assert data["static_folder"] == str(HERE / "assets")
    assert data["log_level"] == "WARNING"


def test_rule_kwargs_override_class_attributes(client):
    data = client.get("/fixture/folders2").json["data"]
    assert data["template_path"] == "/fixtures/project/www"
    assert data["template_folder"] == str(TESTS / "fixtures" / "project" / "www")
    assert data["static_folder"] == str(HERE / "static")


def test_config_overrides_rule_kwargs_and_class_attributes(tmp_path):
    section = {"template_path": "/srv/www/custom_templates", "static_path": "/fixtures/project", "log_level": "INFO"}
    config = {"tests": {"fixtures": {"project": {"handlers": {"FoldersHandler": section}}}}}
    client = make_client(tmp_path, ProjectContainer, config=config)
    for path in ("/fixture/folders", "/fixture/folders2"):
        data = client.get(path).json["data"]
        assert data["template_path"] == "/srv/www/custom_templates"
        assert data["static_path"] == "/fixtures/project"
        assert data["log_level"] == "INFO"
        assert data["static_folder"] == str(HERE)
        assert data["class_config"] == section
    assert FoldersHandler.template_path == "templates"


def test_absolute_folder_is_used_when_the_project_has_none(tmp_path):
    folder = tmp_path / "custom_templates"
    folder.mkdir()
    (folder / "page.html").write_text("custom {{ title }}", encoding="utf-8")
    config = {"tests": {"fixtures": {"project": {"handlers": {"PageHandler": {"template_path": str(folder)}}}}}}
    client = make_client(tmp_path, ProjectContainer, config=config)
    assert client.get("/fixture/page").get_data(as_text=True) == "custom page title"


def test_seed_template_handler(tmp_path):
    class SeedContainer(CoreApiContainer):
        root = "/test-server"
        rules = [(r"/template", TemplateHandler, {"protected": False})]

    client = make_client(tmp_path, SeedContainer)
    response = client.get("/test-server/template")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>template example</h1>" in page
    assert "demo.seed.TemplateHandler" in page
    assert "a guest" in page
    css = re.search(r'href="([^"]*/_asset/project/[^"]*style.css)"', page).group(1)
    served = client.get(css)
    assert served.status_code == 200
    assert served.get_data() == (DEMO / "api" / "template" / "style.css").read_bytes()
    default_css = re.search(r'href="([^"]*/_asset/default/[^"]*default.css)"', page).group(1)
    assert client.get(default_css).status_code == 200


def test_package_templates_render():
    names = package_environment().list_templates()
    assert any(name.startswith("core4/") for name in names)
