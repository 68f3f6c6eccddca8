"""The pytest plugin ``core4flask.testing``, run in a separate pytest session."""

from __future__ import annotations

pytest_plugins = ["pytester"]

CONFTEST = """
import pytest

from core4flask import CoreApiContainer, CoreRequestHandler

pytest_plugins = ["core4flask.testing"]


class ReportHandler(CoreRequestHandler):
    def get(self):
        return {"user": self.current_user}

    def post(self):
        return "created"


class ReportServer(CoreApiContainer):
    root = "/reports"
    rules = [(r"/report", ReportHandler)]


@pytest.fixture
def core4_containers():
    return (ReportServer,)
"""

TESTS = """
import flask

from conftest import ReportHandler

READ = f"api://{ReportHandler.qual_name()}/r"


def test_app_is_a_core4flask_app(app, client):
    assert isinstance(app, flask.Flask)
    assert "core4flask" in app.extensions
    assert client.get("/reports/report").status_code == 401


def test_login_with_exactly_the_given_permissions(core4_login):
    reader = core4_login(perm=[READ])
    response = reader.get("/reports/report")
    assert response.status_code == 200
    assert response.json["data"]["user"] == reader.core4_user.name
    assert reader.post("/reports/report").status_code == 403
    assert core4_login().get("/reports/report").status_code == 403
    assert core4_login(perm=["cop"], name="boss").post("/reports/report").json["data"] == "created"


def test_the_login_is_a_real_user(core4_login):
    client = core4_login(perm=[READ], name="Reader")
    profile = client.get("/core4/api/v1/profile").json["data"]
    assert profile["name"] == "Reader" and profile["perm_total"] == [READ]
    login = client.post("/core4/api/v1/login", json={"username": "reader", "password": client.core4_user.password})
    assert login.status_code == 200


def test_each_test_has_its_own_store(core4_login):
    core4_login(name="Reader")
"""

OVERRIDE = """
import pytest

pytest_plugins = ["core4flask.testing"]


@pytest.fixture
def core4_config():
    return {"api": {"admin_password": "letmein", "token": {"secret": "x" * 64, "expiration": 120}}}
"""

OVERRIDE_TESTS = """
def test_config_can_be_overridden(app, client):
    assert app.extensions["core4flask"].config.api.token.expiration == 120
    response = client.get("/core4/api/v1/login?username=admin&password=letmein")
    assert response.status_code == 200
    assert "Max-Age=120" in response.headers["Set-Cookie"]
"""


def test_fixtures_of_the_plugin(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_reports=TESTS)
    result = pytester.runpytest("-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_configuration_override(pytester):
    pytester.makeconftest(OVERRIDE)
    pytester.makepyfile(test_override=OVERRIDE_TESTS)
    result = pytester.runpytest("-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_configured_mongo_url_never_reaches_the_tests(pytester, monkeypatch):
    """The throw-away store stays SQLite, whatever the developer's environment names."""
    monkeypatch.setenv("CORE4_OPTION_mongo_url", "mongodb://127.0.0.1:1/real_users")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_reports=TESTS)
    result = pytester.runpytest("-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


HOST_CONFTEST = """
import os

import flask
import pytest

from core4flask import Core4, CoreApiContainer, CoreRequestHandler

pytest_plugins = ["core4flask.testing"]


class ReportHandler(CoreRequestHandler):
    def get(self):
        return {"user": self.current_user}


class ReportServer(CoreApiContainer):
    root = "/reports"
    rules = [(r"/report", ReportHandler)]


@pytest.fixture
def app():
    # the project's own application, with its real instance folder
    host = flask.Flask("host", instance_path=os.environ["REAL_INSTANCE"])
    Core4(host, ReportServer, config={"api": {"admin_password": "real-admin-pw"}})
    host.testing = True
    return host
"""

HOST_TESTS = """
import pytest

from conftest import ReportHandler
from core4flask.testing import create_user


def test_core4_login_with_the_projects_own_app(core4_login):
    client = core4_login(perm=[f"api://{ReportHandler.qual_name()}"], name="tester")
    assert client.get("/reports/report").json["data"] == {"user": "tester"}


def test_the_helpers_refuse_a_real_store(app):
    with pytest.raises(RuntimeError, match="throw-away store"):
        create_user(app, "intruder", password="pw-of-intruder")
"""


def test_a_host_app_fixture_leaves_the_real_instance_folder_untouched(pytester, monkeypatch, tmp_path):
    real = tmp_path / "real-instance"
    real.mkdir()
    monkeypatch.setenv("REAL_INSTANCE", str(real))
    pytester.makeconftest(HOST_CONFTEST)
    pytester.makepyfile(test_host=HOST_TESTS)
    result = pytester.runpytest_subprocess("-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert list(real.iterdir()) == []
