"""``<root>/_info``: listing, filters, tags, versions, permissions."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from core4flask import CoreApiContainer, CoreRequestHandler, CoreStaticFileHandler, create_app
from core4flask.apps.info import MAX_FILTER_DEPTH, filter_entries, parse_filter, parse_tags, tag_counts
from core4flask.container import resource_id
from core4flask.store.base import FIRST_SEEN_NS

ADMIN = {"api": {"admin_password": "hans", "token": {"secret": "info-secret-0123456789abcdef0123456789"}}}
FIELDS = {
    "rsc_id",
    "qual_name",
    "title",
    "subtitle",
    "author",
    "tag",
    "icon",
    "protected",
    "description",
    "help_url",
    "card_url",
    "enter_url",
    "endpoint",
    "container",
    "pattern",
    "created_at",
    "started_at",
    "custom_card",
    "perm_base",
}


class Alpha(CoreRequestHandler):
    """Alpha shows the weather.

    Parameters:
        city (str): where
    """

    title = "alpha"
    subtitle = "b"
    author = "mra"
    tag = ["app"]

    def get(self):
        return "alpha"


class AlphaUpper(CoreRequestHandler):
    """Second alpha (sorted by subtitle after the first)."""

    title = "Alpha"
    subtitle = "c"
    author = "xyz"
    tag = ["data"]

    def get(self):
        return "Alpha"


class Beta(CoreRequestHandler):
    """Beta has a (regex) in its text: a.*b and [x]."""

    title = "beta"
    author = "someone"
    tag = ["app", "report"]

    def get(self):
        return "beta"


class Hidden(CoreRequestHandler):
    """An API endpoint (default tag api)."""

    title = "hidden api"

    def get(self):
        return "api"


class Box(CoreApiContainer):
    root = "/box"
    rules = [
        (r"/alpha", Alpha),
        (r"/alpha2", AlphaUpper),
        (r"/beta", Beta),
        (r"/hidden", Hidden),
        (r"/files", CoreStaticFileHandler, {"path": "servers/custom_templates", "title": "files", "tag": "app"}),
    ]


class Crate(CoreApiContainer):
    root = "/crate"
    rules = [(r"/alpha", Alpha), (r"/alpha/(.*)", Alpha)]


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(Box, Crate, config=ADMIN, instance_path=str(tmp_path))
    application.extensions["core4flask"].prepare_serving()
    return application


def login(test_client: Any, username: str = "admin", password: str = "hans") -> Any:
    response = test_client.get(f"/core4/api/v1/login?username={username}&password={password}")
    assert response.status_code == 200, response.json
    test_client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + response.json["data"]["token"]
    return test_client


@pytest.fixture
def client(app: Any) -> Any:
    return login(app.test_client())


def titles(response: Any) -> list[str]:
    assert response.status_code == 200, response.json
    return [entry["title"] for entry in response.json["data"]]


def test_listing_fields_and_paging(client: Any) -> None:
    response = client.get("/box/_info?per_page=2")
    body = response.json
    assert body["total_count"] == 5 and body["page_count"] == 3 and body["count"] == 2 and body["page"] == 0
    assert FIELDS <= set(body["data"][0])
    last = client.get("/box/_info?per_page=2&page=2").json
    assert last["count"] == 1 and last["page"] == 2


def test_listing_is_sorted_and_hides_api(client: Any) -> None:
    # the standard container's API reference page is a mini application too
    assert titles(client.get("/box/_info")) == ["alpha", "Alpha", "API reference", "beta", "files"]


def test_api_resources_on_request(client: Any) -> None:
    with_api = titles(client.get("/box/_info?api=true&per_page=100"))
    assert "hidden api" in with_api and "mini applications" in with_api
    assert "hidden api" in titles(client.get("/box/_info?search=!hidden"))
    assert "hidden api" not in titles(client.get("/box/_info?search=hidden"))


def test_same_listing_in_every_container(client: Any) -> None:
    listings = [client.get(f"{root}/_info?api=1&per_page=100").json["data"] for root in ("/box", "/crate", "")]
    assert listings[0] == listings[1] == listings[2]


def test_one_entry_per_resource_across_containers(client: Any) -> None:
    entries = [e for e in client.get("/box/_info?per_page=100").json["data"] if e["qual_name"] == "test_info.Alpha"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["rsc_id"] == resource_id("test_info.Alpha", {})
    assert entry["container"] == ["test_info.Box", "test_info.Crate"]
    assert entry["endpoint"] == ["http://localhost/box", "http://localhost/crate"]
    assert entry["pattern"] == [
        ["http://localhost/box/alpha", None],
        ["http://localhost/crate/alpha", None],
        ["http://localhost/crate/alpha/(.*)", None],
    ]
    assert entry["help_url"] == f"/box/_info/help/{entry['rsc_id']}"
    assert entry["description"].startswith("Alpha shows the weather.")


def test_search_is_plain_case_insensitive_text(client: Any) -> None:
    assert titles(client.get("/box/_info?search=WEATHER")) == ["alpha"]
    assert titles(client.get("/box/_info?search=xyz")) == ["Alpha"]  # author
    assert titles(client.get("/box/_info?search=report")) == ["beta"]  # tag
    assert titles(client.get("/box/_info?search=a.*b")) == ["beta"]  # literal, not a regex
    assert titles(client.get("/box/_info?search=[x]")) == ["beta"]
    assert titles(client.get("/box/_info", query_string={"search": "(regex)"})) == ["beta"]
    assert "beta" in titles(client.get("/box/_info?search=("))
    assert titles(client.get("/box/_info?search=a.pha")) == []


def test_tag_filter(client: Any) -> None:
    assert titles(client.get('/box/_info?tag=["data"]')) == ["Alpha"]
    assert titles(client.get("/box/_info?tag=data")) == ["Alpha"]
    assert titles(client.get('/box/_info?tag=["data","report"]')) == ["Alpha", "beta"]
    assert titles(client.get("/box/_info?tag=data&tag=report")) == ["Alpha", "beta"]
    assert client.get("/box/_info?tag=[oops").status_code == 400
    assert titles(client.get("/box/_info?tag=api")) == []  # api resources still need api=true or "!"
    assert "hidden api" in titles(client.get("/box/_info?tag=api&api=true"))


def filtered(client: Any, query: Any, **params: str) -> Any:
    return client.get("/box/_info", query_string={"filter": json.dumps(query), **params})


def test_filter_matches_the_entries(client: Any) -> None:
    assert titles(filtered(client, {"author": "aud"})) == []
    assert titles(filtered(client, {"author": "xyz"})) == ["Alpha"]
    assert titles(filtered(client, {"author": "XYZ"})) == []  # equality, not a search
    assert titles(filtered(client, {"tag": "report"})) == ["beta"]  # a list field contains it
    assert titles(filtered(client, {"tag": {"$in": ["data", "report"]}})) == ["Alpha", "beta"]
    assert titles(filtered(client, {"$or": [{"author": "xyz"}, {"title": "beta"}]})) == ["Alpha", "beta"]
    assert titles(filtered(client, {"title": {"$gte": "b"}, "tag": {"$ne": "report"}})) == ["files"]
    assert titles(filtered(client, {"qual_name": "test_info.Alpha", "protected": True})) == ["alpha"]
    assert titles(filtered(client, {"created_at": {"$gte": "2000-01-01T00:00:00Z"}, "title": "beta"})) == ["beta"]
    assert titles(filtered(client, {"icon": {"$exists": False}})) == []
    # api-tagged resources stay hidden unless asked for; tag narrows further
    assert titles(filtered(client, {"title": "hidden api"})) == []
    assert titles(filtered(client, {"title": "hidden api"}, api="true")) == ["hidden api"]
    assert titles(filtered(client, {"tag": "app"}, tag="report")) == ["beta"]
    paged = filtered(client, {"tag": "app"}, per_page="2", page="1").json
    assert paged["total_count"] == 3 and paged["count"] == 1
    # a JSON body may carry the filter as an object
    assert titles(client.get("/box/_info", json={"filter": {"author": "xyz"}})) == ["Alpha"]


def test_filter_applies_only_without_search_text(client: Any) -> None:
    assert titles(filtered(client, {"author": "xyz"}, search="beta")) == ["beta"]
    assert titles(filtered(client, {"title": "hidden api"}, search="!")) == ["hidden api"]
    assert titles(filtered(client, {"author": "xyz"}, search="  ")) == ["Alpha"]


BAD_FILTERS = [
    "{oops",
    "[1]",
    '"text"',
    json.dumps({"author": {"$regex": "(a+)+$"}}),
    json.dumps({"$where": "sleep(1000)"}),
    json.dumps({"$not": {"author": "x"}}),
    json.dumps({"mounts.root": "/box"}),
    json.dumps({"author": {"name": "x"}}),
    json.dumps({"author": {}}),
    json.dumps({"author": [{"x": 1}]}),
    json.dumps({"author": {"$in": "xyz"}}),
    json.dumps({"author": {"$gt": ["a"]}}),
    json.dumps({"author": {"$exists": "yes"}}),
    json.dumps({"$and": []}),
    json.dumps({"$or": {"author": "x"}}),
    json.dumps({"created_at": {"$gt": "not a date"}}),
    "{" * 2000 + "}" * 2000,
    '{"$and": [' * (MAX_FILTER_DEPTH + 2) + '{"author": "x"}' + "]}" * (MAX_FILTER_DEPTH + 2),
]


@pytest.mark.parametrize("bad", BAD_FILTERS)
def test_malformed_filter_is_400_naming_it(client: Any, bad: str) -> None:
    for params in ({}, {"search": "beta"}):
        response = client.get("/box/_info", query_string={"filter": bad, **params})
        assert response.status_code == 400, (bad, response.json)
        assert "[filter]" in response.json["error"]


def test_parse_filter_normalizes() -> None:
    assert parse_filter(None) == {}
    assert parse_filter({"author": "x", "tag": {"$in": ["a"]}}) == {"author": {"$eq": "x"}, "tag": {"$in": ["a"]}}
    assert parse_filter({"created_at": {"$lt": "2024-01-01T01:00:00+01:00"}}) == {
        "created_at": {"$lt": datetime.datetime(2024, 1, 1)}
    }
    assert parse_filter({"$nor": [{"author": None}]}) == {"$nor": [{"author": {"$eq": None}}]}


def test_invalid_paging_is_400(client: Any) -> None:
    for query in ("per_page=0", "per_page=-1", "per_page=x", "page=x", "page=1.5"):
        response = client.get(f"/box/_info?{query}")
        assert response.status_code == 400, query
        assert "error" in response.json


def test_negative_and_past_the_end_pages(client: Any) -> None:
    last = client.get("/box/_info?per_page=2&page=-1").json
    assert last["page"] == 2 and titles_of(last) == ["files"]
    beyond = client.get("/box/_info?per_page=2&page=9").json
    assert beyond["data"] == [] and beyond["count"] == 0 and beyond["total_count"] == 5 and beyond["page_count"] == 3


def titles_of(body: dict) -> list[str]:
    return [entry["title"] for entry in body["data"]]


def test_tag_counts(client: Any) -> None:
    counts = client.get("/box/_info?tag").json["data"]
    assert counts["app"] == {"count": 3, "default": False}
    assert counts["api"]["count"] >= 1  # api-tagged resources are counted too
    assert counts["analytics"] == {"count": 0, "default": True}
    assert counts["data"] == {"count": 1, "default": True}


def test_version(client: Any) -> None:
    data = client.get("/box/_info?version").json["data"]
    assert data["project"] == "test_info"
    assert data["core4"]
    assert client.post("/core4/api/v1/_info").json["data"]["project"] == "core4flask"


def test_new_badge_by_first_publication(app: Any, client: Any) -> None:
    store = app.extensions["core4flask"].store
    old = datetime.datetime(2001, 1, 1)
    store.kv_set(FIRST_SEEN_NS, resource_id("test_info.Beta", {}), old)
    entries = {e["title"]: e for e in client.get("/box/_info?per_page=100").json["data"]}
    assert "new" in entries["alpha"]["tag"]
    assert "new" not in entries["beta"]["tag"]
    assert entries["beta"]["created_at"].startswith("2001-01-01")


def test_login_required(app: Any) -> None:
    response = app.test_client().get("/box/_info")
    assert response.status_code == 401


def test_user_sees_exactly_the_resources_it_may_use(app: Any, client: Any) -> None:
    created = client.post(
        "/core4/api/v1/roles",
        json={
            "name": "reader",
            "email": "reader@example.org",
            "passwd": "Marble-Fjord-Tower-3",
            "perm": ["api://test_info.Alpha/r", "api://test_info.Box"],
        },
    )
    assert created.status_code == 200, created.json
    reader = login(app.test_client(), "reader", "Marble-Fjord-Tower-3")
    listing = reader.get("/crate/_info?api=true&per_page=100").json["data"]
    # Alpha (and AlphaUpper: the regex matches from the start) by handler,
    # the static folder by its container test_info.Box
    assert sorted(e["qual_name"] for e in listing) == [
        "core4flask.static.CoreStaticFileHandler",
        "test_info.Alpha",
        "test_info.AlphaUpper",
    ]
    nobody = client.post(
        "/core4/api/v1/roles",
        json={"name": "nobody", "email": "nobody@example.org", "passwd": "Cobalt-Dune-Kettle-4", "perm": []},
    )
    assert nobody.status_code == 200, nobody.json
    empty = login(app.test_client(), "nobody", "Cobalt-Dune-Kettle-4").get("/box/_info").json
    assert empty["data"] == [] and empty["total_count"] == 0


def test_pure_filters() -> None:
    entries = [
        {"title": "b", "subtitle": "x", "tag": ["app"]},
        {"title": "A", "subtitle": "y", "tag": ["api"]},
        {"title": "a", "subtitle": "z", "tag": ["app", "new"]},
    ]
    assert [e["title"] for e in filter_entries(entries)] == ["a", "b"]
    assert [e["title"] for e in filter_entries(entries, include_api=True)] == ["A", "a", "b"]
    assert [e["title"] for e in filter_entries(entries, tags=["new"])] == ["a"]
    assert parse_tags(['["a", "b"]', "c", ["d"], ""]) == ["a", "b", "c", "d"]
    assert tag_counts(entries, ["data"]) == {
        "app": {"count": 2, "default": False},
        "api": {"count": 1, "default": False},
        "new": {"count": 1, "default": False},
        "data": {"count": 0, "default": True},
    }
