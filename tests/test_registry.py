"""The registry of serving processes: publication, heartbeat, withdrawal, merging.

The end-to-end tests start two ``serve()`` processes sharing one SQLite
store and talk HTTP to them.
"""

from __future__ import annotations

import datetime
import os
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from core4flask import CoreApiContainer, CoreRequestHandler, create_app
from core4flask.apps.registry import handler_docs, install, mark_new, merge_servers, registry_of
from core4flask.store import SQLiteStore
from core4flask.store.base import SQLITE_FILENAME
from tests import live

ADMIN = {"api": {"admin_password": "hans", "token": {"secret": "registry-secret-0123456789abcdef012345"}}}


class Gauge(CoreRequestHandler):
    """Shows a gauge."""

    title = "gauge"
    tag = ["app"]

    def get(self):
        return "gauge"


class Meter(CoreRequestHandler):
    """Shows a meter."""

    title = "meter"
    tag = ["app"]

    def get(self):
        return "meter"


class GaugeServer(CoreApiContainer):
    root = "/gauge"
    rules = [(r"/show", Gauge)]


class MeterServer(CoreApiContainer):
    root = "/meter"
    rules = [(r"/show", Meter), (r"/gauge", Gauge)]


def make(tmp_path: Path, *containers: type, **api: Any) -> Any:
    config = {"api": {**ADMIN["api"], **api}}
    app = create_app(*containers, config=config, instance_path=str(tmp_path))
    app.extensions["core4flask"].prepare_serving()
    return app


def signed_in(app: Any) -> Any:
    client = app.test_client()
    token = client.get("/core4/api/v1/login?username=admin&password=hans").json["data"]["token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def listing(client: Any, root: str = "/core4/api/v1") -> dict[str, dict]:
    response = client.get(f"{root}/_info?per_page=1000")
    assert response.status_code == 200, response.json
    return {entry["title"]: entry for entry in response.json["data"]}


# -- pure parts ----------------------------------------------------------------------


def test_merge_servers_unites_mounts_by_rsc_id() -> None:
    early, late = datetime.datetime(2024, 1, 1), datetime.datetime(2024, 2, 1)
    doc = {"rsc_id": "r1", "title": "x", "tag": ["app"]}
    servers = [
        {
            "server": {"routing": "http://b:2", "started_at": late},
            "handlers": [{**doc, "mounts": [{"container": "p.B", "root": "/b", "pattern": [["/b/x", None]]}]}],
        },
        {
            "server": {"routing": "http://a:1", "started_at": early},
            "handlers": [
                {**doc, "mounts": [{"container": "p.A", "root": "/a", "pattern": [["/a/x", "n"], ["/a/y", None]]}]},
                {"rsc_id": "r2", "title": "y", "mounts": []},
            ],
        },
    ]
    merged = {entry["rsc_id"]: entry for entry in merge_servers(servers)}
    assert set(merged) == {"r1", "r2"}
    entry = merged["r1"]
    assert entry["endpoint"] == ["http://a:1/a", "http://b:2/b"]
    assert entry["container"] == ["p.A", "p.B"]
    assert entry["pattern"] == [["http://a:1/a/x", "n"], ["http://a:1/a/y", None], ["http://b:2/b/x", None]]
    assert entry["started_at"] == early
    assert "mounts" not in entry


def test_merged_links_lead_to_a_serving_server() -> None:
    def doc(rsc_id: str, root: str, enter_url: str | None = None) -> dict:
        return {
            "rsc_id": rsc_id,
            "help_url": f"{root}/_info/help/{rsc_id}",
            "card_url": f"{root}/_info/card/{rsc_id}",
            "enter_url": enter_url or f"{root}/_info/enter/{rsc_id}",
            "mounts": [{"container": "p.C", "root": root, "pattern": []}],
        }

    servers = [
        {"server": {"routing": "http://b:2"}, "handlers": [doc("r1", "/b"), doc("r2", "/b", "/landing")]},
        {"server": {"routing": "http://a:1"}, "handlers": [doc("r1", "/a"), doc("r3", "", "https://x.org/y")]},
    ]
    merged = {entry["rsc_id"]: entry for entry in merge_servers(servers)}
    # the first endpoint (sorted) serves the links, as core4's App Manager uses endpoint[0]
    assert merged["r1"]["endpoint"][0] == "http://a:1/a"
    assert merged["r1"]["help_url"] == "http://a:1/a/_info/help/r1"
    assert merged["r1"]["card_url"] == "http://a:1/a/_info/card/r1"
    assert merged["r1"]["enter_url"] == "http://a:1/a/_info/enter/r1"
    # an enter_url path belongs to the serving server; a full URL stays
    assert merged["r2"]["enter_url"] == "http://b:2/landing"
    assert merged["r3"]["enter_url"] == "https://x.org/y"
    assert merged["r3"]["help_url"] == "http://a:1/_info/help/r3"


def test_mark_new() -> None:
    now = datetime.datetime(2024, 6, 1)
    entries = [
        {"rsc_id": "fresh", "tag": ["app"]},
        {"rsc_id": "old", "tag": ["app", "new"]},
        {"rsc_id": "unknown", "tag": ["new"]},
    ]
    first_seen = {"fresh": now - datetime.timedelta(days=3), "old": now - datetime.timedelta(days=400)}
    mark_new(entries, first_seen, now, 180)
    assert entries[0]["tag"] == ["app", "new"]
    assert entries[1]["tag"] == ["app"]
    assert entries[2]["tag"] == ["new"] and entries[2]["created_at"] is None


def test_handler_docs_list_every_mount(tmp_path: Path) -> None:
    app = make(tmp_path, GaugeServer, MeterServer)
    docs = {doc["title"]: doc for doc in handler_docs(app.extensions["core4flask"].containers)}
    assert [m["root"] for m in docs["gauge"]["mounts"]] == ["/gauge", "/meter"]
    assert docs["gauge"]["mounts"][1]["pattern"] == [["/meter/gauge", None]]
    assert docs["gauge"]["description_html"]["body"]


# -- one process -------------------------------------------------------------------------


def test_install_is_idempotent(tmp_path: Path) -> None:
    ext = make(tmp_path, GaugeServer).extensions["core4flask"]
    before = len(ext.on_start), len(ext.on_stop)
    install(ext)
    install(ext)
    registry = registry_of(ext)
    assert ext.on_start.count(registry.on_start) == 1
    assert ext.on_stop.count(registry.on_stop) == 1
    assert len(ext.on_start) - before[0] <= 1


def test_start_publishes_beats_and_stop_removes_only_own_entries(tmp_path: Path) -> None:
    ext = make(tmp_path, GaugeServer, heartbeat=0.1, alive_timeout=5).extensions["core4flask"]
    store = ext.store
    store.registry_publish("other:1:2:x", {"routing": "http://other:1"}, [{"rsc_id": "f" * 32, "mounts": []}])
    install(ext)
    ext.start_serving(4711)
    try:
        registry = registry_of(ext)
        own = [s for s in store.registry_live(5) if s["server_id"] == registry.server_id]
        assert len(own) == 1
        assert own[0]["server"]["routing"] == "http://127.0.0.1:4711"
        first = own[0]["heartbeat"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            beat = next(s["heartbeat"] for s in store.registry_live(5) if s["server_id"] == registry.server_id)
            if beat > first:
                break
            time.sleep(0.05)
        assert beat > first, "the heartbeat worker did not beat"
    finally:
        ext.stop_serving()
    assert [s["server_id"] for s in store.registry_live(5)] == ["other:1:2:x"]


def test_test_client_process_publishes_lazily(tmp_path: Path) -> None:
    app = make(tmp_path, GaugeServer)
    store = app.extensions["core4flask"].store
    assert store.registry_live(60) == []
    assert "gauge" in listing(signed_in(app))
    servers = store.registry_live(60)
    assert len(servers) == 1 and servers[0]["server"]["routing"] == "http://localhost"


def test_processes_sharing_a_store_list_each_other(tmp_path: Path) -> None:
    first = make(tmp_path, GaugeServer, alive_timeout=30)
    second = make(tmp_path, MeterServer, alive_timeout=30)
    second_client = signed_in(second)
    assert "meter" in listing(second_client)  # publishes the second process
    first_client = signed_in(first)
    entries = listing(first_client, "/gauge")
    assert entries["meter"]["endpoint"] == ["http://localhost/meter"]
    # what only the other process serves is linked there; the own resources by path
    meter_id = entries["meter"]["rsc_id"]
    assert entries["meter"]["help_url"] == f"http://localhost/meter/_info/help/{meter_id}"
    assert entries["meter"]["enter_url"] == f"http://localhost/meter/_info/enter/{meter_id}"
    assert entries["gauge"]["help_url"] == f"/gauge/_info/help/{entries['gauge']['rsc_id']}"
    # gauge is served by both: one entry with both mounts
    assert entries["gauge"]["container"] == ["test_registry.GaugeServer", "test_registry.MeterServer"]
    # once the second process is silent past alive_timeout it drops out;
    # the first still lists its own resources
    store = first.extensions["core4flask"].store
    store.clock = lambda: datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60)
    registry_of(first.extensions["core4flask"])._next_beat = float("inf")  # no lazy refresh
    entries = listing(first_client, "/gauge")
    assert "meter" not in entries and "gauge" in entries


def test_listing_survives_a_failing_publication(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make(tmp_path, GaugeServer)
    client = signed_in(app)
    store = app.extensions["core4flask"].store

    def broken(*_args: Any) -> None:
        raise RuntimeError("store hiccup")

    monkeypatch.setattr(store, "registry_publish", broken)
    assert "gauge" in listing(client)
    assert store.registry_live(60) == []


# -- two real server processes ------------------------------------------------------------

SERVER_SCRIPT = '''
import sys

import core4flask.app
from core4flask import CoreApiContainer, CoreRequestHandler, serve
from core4flask.apps.registry import install


class AlphaApp(CoreRequestHandler):
    """The alpha mini application."""

    title = "alpha app"
    tag = ["app"]

    def get(self):
        return "alpha"


class BetaApp(CoreRequestHandler):
    """The beta mini application."""

    title = "beta app"
    tag = ["app"]

    def get(self):
        return "beta"


class AlphaServer(CoreApiContainer):
    root = "/alpha"
    rules = [(r"/app", AlphaApp)]


class BetaServer(CoreApiContainer):
    root = "/beta"
    rules = [(r"/app", BetaApp)]


_create_app = core4flask.app.create_app


def create_app(*args, **kwargs):
    # install() is idempotent: a no-op once Core4.init_app installs the registry
    app = _create_app(*args, **kwargs)
    install(app.extensions["core4flask"])
    return app


core4flask.app.create_app = create_app
serve(AlphaServer if sys.argv[1] == "alpha" else BetaServer)
'''

FAST = {"api__heartbeat": "0.2", "api__alive_timeout": "2"}
LINKS = ("help_url", "card_url", "enter_url")


def start_server(tmp_path: Path, name: str) -> live.LiveServer:
    script = tmp_path / "registry_server.py"
    if not script.exists():
        script.write_text(SERVER_SCRIPT)
    return live.python_script(tmp_path, script, name, **FAST)


def titles_at(server: live.LiveServer, token: str) -> dict[str, dict]:
    response = server.get("/core4/api/v1/_info?per_page=1000", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return {entry["title"]: entry for entry in response.json()["data"]}


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def servers(tmp_path: Path) -> Any:
    started: list[live.LiveServer] = []
    try:
        started.append(start_server(tmp_path, "alpha"))
        started.append(start_server(tmp_path, "beta"))
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.mark.e2e
def test_two_servers_list_each_others_mini_apps(servers: list[live.LiveServer]) -> None:
    alpha, beta = servers
    token = live.login(alpha)
    at_alpha, at_beta = titles_at(alpha, token), titles_at(beta, token)
    assert {"alpha app", "beta app"} <= set(at_alpha)
    assert {"alpha app", "beta app"} <= set(at_beta)
    assert at_alpha["beta app"]["endpoint"] == [f"{beta.url}/beta"]
    assert at_beta["alpha app"]["endpoint"] == [f"{alpha.url}/alpha"]
    assert at_alpha["beta app"]["qual_name"] == "registry_server.BetaApp"
    # the standard container is served by both: one entry, two endpoints
    assert at_alpha["API reference"]["endpoint"] == sorted([f"{alpha.url}/core4/api/v1", f"{beta.url}/core4/api/v1"])
    # the launcher of one server links the other's mini application there
    page = beta.get("/", headers={"Accept": "text/html"}, cookies={"token": token})
    assert page.status_code == 200
    assert "alpha app" in page.text
    assert f'href="{alpha.url}/alpha/_info/enter/{at_beta["alpha app"]["rsc_id"]}"' in page.text
    enter = requests.get(f"{alpha.url}/alpha/_info/enter/{at_beta['alpha app']['rsc_id']}", cookies={"token": token})
    assert enter.json()["data"] == "alpha"
    # the heartbeat keeps both listed past alive_timeout (2 s)
    time.sleep(2.5)
    assert "alpha app" in titles_at(beta, token) and "beta app" in titles_at(alpha, token)


@pytest.mark.e2e
def test_listed_links_work_from_every_server(servers: list[live.LiveServer]) -> None:
    alpha, beta = servers
    token = live.login(alpha)
    cookies = {"token": token}
    at_alpha, at_beta = titles_at(alpha, token), titles_at(beta, token)
    remote, local = at_beta["alpha app"], at_alpha["alpha app"]
    rsc_id = local["rsc_id"]
    # served by the answering server: a path on it
    assert local["help_url"] == f"/alpha/_info/help/{rsc_id}"
    assert local["card_url"] == f"/alpha/_info/card/{rsc_id}"
    assert local["enter_url"] == f"/alpha/_info/enter/{rsc_id}"
    # served by another server only: absolute, at that server's endpoint
    assert remote["help_url"] == f"{alpha.url}/alpha/_info/help/{rsc_id}"
    assert remote["card_url"] == f"{alpha.url}/alpha/_info/card/{rsc_id}"
    assert remote["enter_url"] == f"{alpha.url}/alpha/_info/enter/{rsc_id}"
    assert beta.get(f"/alpha/_info/help/{rsc_id}", cookies=cookies).status_code == 404  # what the audit followed
    for entry, server in ((remote, beta), (local, alpha)):
        absolute = {name: urljoin(server.url + "/core4/api/v1/_info", entry[name]) for name in LINKS}
        help_page = requests.get(absolute["help_url"], cookies=cookies, timeout=10)
        assert help_page.status_code == 200 and help_page.json()["data"]["qual_name"] == "registry_server.AlphaApp"
        card = requests.get(absolute["card_url"], cookies=cookies, headers={"Accept": "application/json"}, timeout=10)
        assert card.status_code == 200 and card.json()["rsc_id"] == rsc_id
        assert requests.get(absolute["enter_url"], cookies=cookies, timeout=10).json()["data"] == "alpha"
    # the standard container runs on both: each server links its own copy by path
    api_reference = at_beta["API reference"]
    assert api_reference["help_url"].startswith("/core4/api/v1/_info/help/")


@pytest.mark.e2e
def test_stopped_server_withdraws_its_entries(servers: list[live.LiveServer]) -> None:
    alpha, beta = servers
    token = live.login(alpha)
    assert "beta app" in titles_at(alpha, token)
    beta.stop()
    assert beta.process.returncode == 0
    # on_stop removed them: gone at once, well before alive_timeout
    assert "beta app" not in titles_at(alpha, token)
    assert "alpha app" in titles_at(alpha, token)


@pytest.mark.e2e
def test_killed_server_drops_out_after_alive_timeout(servers: list[live.LiveServer]) -> None:
    alpha, beta = servers
    token = live.login(alpha)
    assert "beta app" in titles_at(alpha, token)
    os.kill(beta.process.pid, signal.SIGKILL)
    beta.process.wait(5)
    assert wait_until(lambda: "beta app" not in titles_at(alpha, token), timeout=10)
    assert "alpha app" in titles_at(alpha, token)
    # not withdrawn (a killed process cannot): its entries are still in the
    # shared store, only their heartbeat is too old to be listed
    store = SQLiteStore(alpha.instance / SQLITE_FILENAME)
    try:
        kept = [doc["title"] for server in store.registry_live(3600) for doc in server["handlers"]]
    finally:
        store.close()
    assert "beta app" in kept


@pytest.mark.e2e
def test_user_sees_exactly_the_permitted_mini_apps_across_servers(servers: list[live.LiveServer]) -> None:
    alpha, beta = servers
    admin = {"Authorization": f"Bearer {live.login(alpha)}"}
    created = alpha.post(
        "/core4/api/v1/roles",
        headers=admin,
        json={
            "name": "betty",
            "email": "betty@example.org",
            "passwd": "Amber-Wren-Glacier-6",
            "perm": ["api://registry_server.BetaApp"],
        },
    )
    assert created.status_code == 200, created.text
    token = live.login(beta, "betty", "Amber-Wren-Glacier-6")
    assert set(titles_at(alpha, token)) == {"beta app"}
    assert set(titles_at(beta, token)) == {"beta app"}
