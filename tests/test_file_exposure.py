"""No route hands out the application's own files.

The attack of the security review, reproduced: the seed's ``serve(TestServer)``
as a single-file script, with its config file and instance folder beside it,
and a user without any permission asking the asset route of a public handler
for them. The same server shows that static folders keep their dot-files and
follow no symlink out of themselves, and that a default static folder
configured as the application folder still serves none of its secrets.
"""

from __future__ import annotations

import os
import textwrap

import pytest

from core4flask.container import resource_id
from core4flask.static import refused_name
from tests import live

LOGIN = "/core4/api/v1/login"
ROLES = "/core4/api/v1/roles"
#: a text only the application's private files hold
MARKER = "config-file-secret-3f9d2c7a1b8e4d6f"

SCRIPT = textwrap.dedent(
    """
    from core4flask import CoreApiContainer, CoreRequestHandler, CoreStaticFileHandler, serve


    class TestHandler(CoreRequestHandler):
        author = "mra"
        title = "test handler"

        def get(self):
            self.reply("hello world")


    class PublicTestHandler(CoreRequestHandler):
        protected = False

        def get(self):
            return "hello world"


    class SiteHandler(CoreRequestHandler):
        protected = False
        static_path = "/site"

        def get(self):
            return {"relative": self.static_url("notes.txt"), "from_root": self.static_url("/site/notes.txt")}


    class TestServer(CoreApiContainer):
        root = "/test-server"
        rules = [
            (r"/test", TestHandler),
            (r"/public", PublicTestHandler),
            (r"/site", SiteHandler),
            (r"/files", CoreStaticFileHandler, {"path": "site", "protected": False}),
        ]


    if __name__ == "__main__":
        serve(TestServer)
    """
)


@pytest.fixture
def script_server(tmp_path):
    """``app.py`` served by ``serve()``; its config, ``instance/`` and ``site/`` beside it.

    ``api.default_static`` names the application folder itself.
    """
    (tmp_path / "app.py").write_text(SCRIPT, encoding="utf-8")
    config = tmp_path / "settings"  # CORE4_CONFIG may name a file of any name
    config.write_text(f"api:\n  default_static: {tmp_path}\n  contact: {MARKER}\n", encoding="utf-8")
    for name in (".env", "old.yml", "setup.cfg"):
        (tmp_path / name).write_text(f"SECRET={MARKER}\n", encoding="utf-8")
    site = tmp_path / "site"
    (site / ".git").mkdir(parents=True)
    (site / ".git" / "config").write_text(MARKER, encoding="utf-8")
    (site / ".env").write_text(MARKER, encoding="utf-8")
    (site / "notes.txt").write_text("public notes", encoding="utf-8")
    (site / "index.html").write_text("<p>site</p>", encoding="utf-8")
    os.symlink(tmp_path / ".env", site / "escape.txt")
    os.symlink(tmp_path, site / "up")
    os.symlink(site / ".git" / "config", site / "inside.txt")
    server = live.python_script(
        tmp_path, tmp_path / "app.py", ready="/test-server/public", env={"CORE4_CONFIG": str(config)}
    )
    yield server
    server.stop()


def nobody(server) -> dict[str, str]:
    """Headers of a signed-in user who holds no permission at all."""
    admin = live.login(server)
    fields = {"name": "nobody", "email": "nobody@example.com", "passwd": "Lantern-Orbit-4711", "perm": []}
    created = server.post(ROLES, json=fields, headers={"Authorization": f"Bearer {admin}"})
    assert created.status_code == 200, created.text
    return {"Authorization": f"Bearer {live.login(server, 'nobody', 'Lantern-Orbit-4711')}"}


def assert_not_served(server, url: str, headers: dict[str, str]) -> None:
    response = server.get(url, headers=headers)
    assert response.status_code in (403, 404), (url, response.status_code)
    assert MARKER.encode() not in response.content, url
    assert b"SQLite format" not in response.content, url
    assert b"serve(TestServer)" not in response.content, url


@pytest.mark.e2e
def test_the_application_folder_is_not_an_asset(script_server):
    """The review's attack: config file, store, sources and dot-files of a
    ``serve()`` script, asked for through a public handler's asset URLs."""
    assert script_server.instance.parent == script_server.log.parent  # the instance folder is beside app.py
    headers = nobody(script_server)
    public = f"/test-server/_asset/project/{resource_id('app.PublicTestHandler', {})}"
    site = f"/test-server/_asset/project/{resource_id('app.SiteHandler', {})}"
    stolen = [f"{public}{path}" for path in ("//settings", "//instance/core4flask.sqlite3", "//app.py", "/app.py")]
    stolen += [f"{public}//.env", f"{public}/instance/core4flask.sqlite3", f"{public}/settings"]
    stolen += [f"{site}//settings", f"{site}//app.py", f"{site}/../app.py", f"{site}/%2e%2e/settings"]
    stolen += [f"{site}/.env", f"{site}/escape.txt", f"{site}/up/settings", f"{site}/inside.txt"]
    for url in stolen:
        for who in ({}, headers):
            assert_not_served(script_server, url, who)
    # what the handler declares static is served, both ways static_url() writes it
    urls = script_server.get("/test-server/site").json()["data"]
    for url in (urls["relative"], urls["from_root"]):
        response = script_server.get(url)
        assert response.status_code == 200 and response.text == "public notes"


@pytest.mark.e2e
def test_static_folders_serve_no_dot_files_and_no_symlink_out(script_server):
    """``CoreStaticFileHandler``: no ``.env``, no ``.git/``, no symlink leading
    out of the folder or to a hidden file in it."""
    assert script_server.get("/test-server/files/notes.txt").text == "public notes"
    assert script_server.get("/test-server/files/").text == "<p>site</p>"
    for path in (".env", ".git/config", ".git/", "escape.txt", "up/settings", "up/app.py", "up/", "inside.txt"):
        assert_not_served(script_server, f"/test-server/files/{path}", {})


@pytest.mark.e2e
def test_a_default_static_folder_keeps_the_secrets_in_it(script_server):
    """``api.default_static`` set to the application folder: its plain files
    are served, its sources, configuration, store and dot-files are not."""
    base = f"/test-server/_asset/default/{resource_id('app.PublicTestHandler', {})}"
    assert script_server.get(f"{base}/site/notes.txt").text == "public notes"
    for path in ("settings", "old.yml", "setup.cfg", ".env", "app.py", "instance/core4flask.sqlite3", "site/.env"):
        assert_not_served(script_server, f"{base}/{path}", {})


@pytest.mark.parametrize(
    "parts",
    [
        (".env",),
        ("sub", ".git", "config"),
        ("app.py",),
        ("__pycache__", "x.txt"),
        ("mod.cpython-311.pyc",),
        ("config.YAML",),
        ("local.yml",),
        ("setup.cfg",),
        ("pyproject.toml",),
        ("tox.ini",),
        ("core4flask.sqlite3",),
        ("core4flask.sqlite3-wal",),
        ("core4flask.sqlite3-shm",),
        ("data.db",),
        ("server.pem",),
    ],
)
def test_never_served_names(parts):
    assert refused_name(parts) is not None


@pytest.mark.parametrize("parts", [("index.html",), ("css", "site.css"), ("img", "logo.png"), ("data.json",), ()])
def test_plain_files_are_servable(parts):
    assert refused_name(parts) is None


def test_flasks_own_static_route_follows_the_same_rule(tmp_path, monkeypatch):
    """``create_app(import_name=...)`` gives Flask a ``/static`` folder of
    that package: it serves plain files only."""
    from core4flask import create_app

    package = tmp_path / "exposed_pkg"
    (package / "static" / ".git").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "static" / "site.css").write_text("body {}", encoding="utf-8")
    for name in ("settings.yaml", "views.py", ".env", ".git/config"):
        (package / "static" / name).write_text(MARKER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    app = create_app(import_name="exposed_pkg", instance_path=str(tmp_path / "instance"))
    client = app.test_client()
    response = client.get("/static/site.css")
    assert response.status_code == 200 and response.get_data() == b"body {}"
    response.close()
    for name in ("settings.yaml", "views.py", ".env", ".git/config", "../__init__.py"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 404, name
        assert MARKER.encode() not in response.get_data()
