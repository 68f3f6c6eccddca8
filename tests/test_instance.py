"""Where the store lives: the application's instance folder, never the environment's."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

from core4flask import create_app
from core4flask.instance import application_module, default_instance_path, store_folder
from core4flask.server import CoreApiServer
from demo.seed import TestServer
from tests import live


def test_the_application_module_is_the_first_container_not_of_core4flask():
    assert application_module([CoreApiServer, TestServer]) == "demo.seed"
    assert application_module([CoreApiServer]) is None
    assert application_module([]) is None


def test_a_project_checkout_keeps_its_instance_beside_its_package(tmp_path):
    assert default_instance_path("demo.seed", cwd=str(tmp_path)) == str(live.ROOT / "instance")


def test_a_single_file_module_keeps_its_instance_beside_it(tmp_path, monkeypatch):
    (tmp_path / "myapp_single.py").write_text("x = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    assert default_instance_path("myapp_single", cwd=str(elsewhere)) == str(tmp_path / "instance")


def test_scripts_and_no_module_use_the_working_directory(tmp_path):
    assert default_instance_path("__main__", cwd=str(tmp_path)) == str(tmp_path / "instance")
    assert default_instance_path(None, cwd=str(tmp_path)) == str(tmp_path / "instance")


def test_an_installed_module_never_keeps_data_in_the_environment(tmp_path):
    # pytest and flask are installed in this environment, as an application package would be
    for module in ("pytest", "flask.app"):
        assert default_instance_path(module, cwd=str(tmp_path)) == str(tmp_path / "instance")


def test_a_host_instance_folder_inside_the_environment_is_not_used(tmp_path):
    inside = os.path.join(sys.prefix, "var", "host-instance")
    assert store_folder(inside, cwd=str(tmp_path)) == str(tmp_path / "instance")
    assert store_folder(str(tmp_path / "own"), cwd="/") == str(tmp_path / "own")
    assert store_folder(None, cwd=str(tmp_path)) == str(tmp_path / "instance")


def test_create_app_follows_the_rule_and_the_overrides_win(tmp_path, monkeypatch):
    monkeypatch.delenv("CORE4_INSTANCE_PATH", raising=False)
    package = tmp_path / "proj" / "reports_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "api.py").write_text(
        textwrap.dedent(
            """
            from core4flask import CoreApiContainer

            class ReportServer(CoreApiContainer):
                root = "/reports"
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path / "proj"))
    try:
        from reports_pkg.api import ReportServer

        assert create_app(ReportServer).instance_path == str(tmp_path / "proj" / "instance")
        monkeypatch.setenv("CORE4_INSTANCE_PATH", str(tmp_path / "from-env"))
        assert create_app(ReportServer).instance_path == str(tmp_path / "from-env")
        given = create_app(ReportServer, instance_path=str(tmp_path / "given"))
        assert given.instance_path == str(tmp_path / "given")
        location = given.extensions["core4flask"].store_location()
        assert location == f"SQLite at {tmp_path / 'given' / 'core4flask.sqlite3'}"
    finally:
        for name in [m for m in sys.modules if m.startswith("reports_pkg")]:
            sys.modules.pop(name)


def test_the_mongodb_location_never_shows_credentials(tmp_path):
    app = create_app(config={"mongo_url": "mongodb://user:s3cret@db.example:27017/x"}, instance_path=str(tmp_path))
    location = app.extensions["core4flask"].store_location()
    assert location == "MongoDB at db.example, database core4" and "s3cret" not in location


@pytest.mark.e2e
def test_serve_tells_where_the_store_is(tmp_path):
    server = live.python_script(tmp_path, live.ROOT / "tests" / "servers" / "two_containers.py", ready="/one/hello")
    try:
        output = server.output_with("core4flask store:")
    finally:
        server.stop()
    assert f"core4flask store: SQLite at {server.instance / 'core4flask.sqlite3'}" in output
