"""``/core4/api/v1/store``: core4's cross-user store, as the App Manager and admins use it.

HTTP tests run on both store backends; the path and overlay rules are also
tested as plain functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core4flask import HTTPError
from core4flask.roles.store import (
    MAX_DOCUMENT_SIZE,
    check_document,
    direct_children,
    lineage,
    normalize_path,
    overlay,
    store_path_of,
)
from core4flask.store import new_id
from tests.fixtures.store_apps import (
    AXIOS_ACCEPT,
    BACKENDS,
    PAGE_ACCEPT,
    USER_PASSWORD,
    add_user,
    app_on,
    browser_login,
)

STORE = "/core4/api/v1/store"
CONFIG_KEYS = {"contact", "profile", "reset", "logout", "login", "menu", "tag", "logo", "label", "theme"}
THEME_KEYS = {"primary", "accent", "secondary", "info", "warning", "error", "success"}


@pytest.fixture(params=BACKENDS)
def app(request: Any, tmp_path: Any, monkeypatch: Any) -> Iterator[Any]:
    application = app_on(request.param, tmp_path, monkeypatch)
    yield application
    application.extensions["core4flask"].store.close()


@pytest.fixture
def admin(app: Any) -> Any:
    return browser_login(app)


def user_client(app: Any, name: str, *perm: str, role: tuple[str, ...] = ("standard_user",)) -> Any:
    """A browser-like client of a new user with the standard role and ``perm``."""
    add_user(app, name, perm=perm, role=role)
    return browser_login(app, name, USER_PASSWORD)


def app_manager_put(client: Any) -> Any:
    """``PUT /store`` exactly as core4's UI library sends it on every start:
    no body, no Content-Type, axios' Accept, the cookie and no Authorization."""
    response = client.put(STORE, headers={"Accept": AXIOS_ACCEPT})
    assert response.request.headers.get("Content-Type") is None
    assert "Authorization" not in response.request.headers
    return response


def post(client: Any, path: str, doc: Any) -> Any:
    return client.post(STORE + path, json=doc)


# -- pure rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xpath", "path"),
    [
        (None, "/"),
        ("", "/"),
        ("/", "/"),
        ("a", "/a"),
        ("/a/", "/a"),
        ("//a//b/./c/", "/a/b/c"),
        ("/a/../b", "/b"),
        ("/../../x", "/x"),
    ],
)
def test_paths_are_normalized_as_core4_does(xpath: str | None, path: str) -> None:
    assert normalize_path(xpath) == path


def test_overlong_path_is_400() -> None:
    with pytest.raises(HTTPError) as caught:
        normalize_path("/" + "a" * 2000)
    assert caught.value.status_code == 400


def test_lineage_and_children() -> None:
    assert lineage("/") == ["/"]
    assert lineage("/a/b/c") == ["/", "/a", "/a/b", "/a/b/c"]
    below = ["/a/b", "/a/b/c", "/a/d"]
    assert direct_children("/a", below) == ["/a/b", "/a/d"]
    assert direct_children("/", ["/a", "/a/b", "/c"]) == ["/a", "/c"]


def test_first_store_permission_in_sort_order_picks_the_path() -> None:
    assert store_path_of([]) == "/"
    assert store_path_of(["api://x", "app://store"]) == "/"
    assert store_path_of(["app://store/zeta", "app://store/alpha/team"]) == "/alpha/team"
    # only app://store itself or below it: app://storefront names another key
    assert store_path_of(["app://storefront", "app://client/x"]) == "/"


def test_overlay_replaces_whole_keys_and_names_the_deepest_document() -> None:
    default = {"theme": {"light": {"primary": "red"}, "dark": {"primary": "black"}}, "menu": [{"A": "/a"}]}
    assert overlay(default, []) == default
    doc = overlay(default, [("/", {"hello": "root"}), ("/c", {"theme": {"light": {"primary": "blue"}}})])
    assert doc == {"theme": {"light": {"primary": "blue"}}, "menu": [{"A": "/a"}], "hello": "root", "_id": "/c"}
    assert default["theme"]["dark"] == {"primary": "black"}  # the configuration stays as it was


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ([1, 2], "must be a JSON object"),
        ("text", "must be a JSON object"),
        ({"_id": "/x"}, "[_id] is not allowed"),
        ({"$set": 1}, "[$set] is not allowed"),
        ({"a": {"b.c": 1}}, "[b.c] is not allowed"),
        ({"a": [{"$x": 1}]}, "[$x] is not allowed"),
        ({"n": 2**64}, "does not fit in 64 bits"),
    ],
)
def test_documents_both_stores_cannot_keep_are_400(value: Any, text: str) -> None:
    with pytest.raises(HTTPError) as caught:
        check_document(value)
    assert caught.value.status_code == 400 and text in caught.value.message


def test_deep_documents_are_400_and_ordinary_ones_pass() -> None:
    deep: Any = 1
    for _ in range(40):
        deep = {"a": deep}
    with pytest.raises(HTTPError) as caught:
        check_document(deep)
    assert caught.value.status_code == 400
    fine = {"a": [1, 2.5, None, True, "x", {"b": -(2**63)}]}
    assert check_document(fine) is fine


# -- what the App Manager gets ---------------------------------------------------------------


def test_app_manager_start_gets_the_configured_branding(app: Any, admin: Any) -> None:
    response = app_manager_put(admin)
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {"_id", "code", "message", "timestamp", "data"} and body["code"] == 200
    assert body["data"]["parents"] == ["/"]
    doc = body["data"]["doc"]
    assert set(doc) == CONFIG_KEYS  # nothing stored yet: no _id
    for variant in ("light", "dark"):
        assert set(doc["theme"][variant]) == THEME_KEYS
        assert doc["logo"][variant].startswith("data:image/svg+xml,")
        assert doc["label"][variant].startswith("data:image/svg+xml,")
    assert all(len(entry) == 1 for entry in doc["menu"])


def test_menu_entries_and_page_keys_point_to_pages_core4flask_has(app: Any, admin: Any) -> None:
    doc = app_manager_put(admin).json["data"]["doc"]
    urls = [url for entry in doc["menu"] for url in entry.values()]
    urls += [doc[key] for key in ("profile", "login", "logout", "reset") if doc[key]]
    assert urls
    for url in urls:
        if url.startswith("mailto:"):
            continue
        # the App Manager opens menu entries in an iframe, with its theme arguments
        response = admin.get(url, query_string={"dark": "false"}, headers={"Accept": PAGE_ACCEPT})
        assert response.status_code == 200, url


def test_not_signed_in_is_401(app: Any) -> None:
    response = app.test_client().put(STORE, headers={"Accept": AXIOS_ACCEPT})
    assert response.status_code == 401 and response.json["code"] == 401


def test_documents_along_the_users_store_permission_are_laid_over_the_defaults(app: Any, admin: Any) -> None:
    assert post(admin, "", {"hello": "root", "contact": "it@example.org"}).status_code == 200
    assert post(admin, "/default", {"hello": "world"}).status_code == 200
    assert post(admin, "/outlier", {"out": True}).status_code == 200
    assert post(admin, "/default/lufthansa", {"hallo": "welt", "hello": None, "kranich": True}).status_code == 200
    assert post(admin, "/default/lufthansa/eurowings", {"hallo": "Europa"}).status_code == 200

    outlier = app_manager_put(user_client(app, "outlier-user", "app://store/outlier")).json["data"]
    assert outlier["parents"] == ["/", "/outlier"]
    doc = outlier["doc"]
    assert doc["_id"] == "/outlier" and doc["hello"] == "root" and doc["out"] is True
    assert doc["contact"] == "it@example.org" and doc["profile"] == "/core4/api/v1/profile"

    plain = app_manager_put(user_client(app, "plain-user")).json["data"]
    assert plain["parents"] == ["/"]
    assert plain["doc"]["_id"] == "/" and plain["doc"]["hello"] == "root" and "out" not in plain["doc"]

    deep = app_manager_put(user_client(app, "deep-user", "app://store/default/lufthansa/eurowings")).json["data"]
    assert deep["parents"] == ["/", "/default", "/default/lufthansa", "/default/lufthansa/eurowings"]
    assert deep["doc"]["_id"] == "/default/lufthansa/eurowings"
    assert deep["doc"]["hallo"] == "Europa" and deep["doc"]["hello"] is None and deep["doc"]["kranich"] is True

    # a path without documents of its own still inherits from the stored ones above it
    below = app_manager_put(user_client(app, "below-user", "app://store/default/nothing/here")).json["data"]
    assert below["parents"] == ["/", "/default", "/default/nothing", "/default/nothing/here"]
    assert below["doc"]["_id"] == "/default" and below["doc"]["hello"] == "world"


def test_a_stored_key_replaces_the_whole_configured_value(app: Any, admin: Any) -> None:
    assert post(admin, "", {"theme": {"light": {"primary": "#6200ee"}}}).status_code == 200
    theme = app_manager_put(admin).json["data"]["doc"]["theme"]
    assert theme == {"light": {"primary": "#6200ee"}}


def test_store_permission_through_a_role_counts(app: Any, admin: Any) -> None:
    assert post(admin, "", {}).status_code == 200
    assert post(admin, "/client-a", {"reset": "/elsewhere"}).status_code == 200
    store = app.extensions["core4flask"].store
    store.role_insert({"_id": new_id(), "etag": new_id(), "name": "client-a", "perm": ["app://store/client-a"]})
    client = user_client(app, "member", role=("standard_user", "client-a"))
    doc = app_manager_put(client).json["data"]["doc"]
    assert doc["_id"] == "/client-a" and doc["reset"] == "/elsewhere"


def test_put_with_a_path_is_405(app: Any, admin: Any) -> None:
    for path in ("/", "/x"):
        response = admin.put(STORE + path)
        assert response.status_code == 405 and "GET" in response.headers["Allow"]


# -- managing documents ----------------------------------------------------------------------


def test_post_creates_and_replaces_below_an_existing_parent(app: Any, admin: Any) -> None:
    missing = post(admin, "/client-1", {"a": 1})
    assert missing.status_code == 404 and "parent [/]" in missing.json["error"]
    assert post(admin, "", {"hello": "root"}).json["data"] == {"hello": "root"}
    assert post(admin, "/client-1", {"a": 1}).json["data"] == {"a": 1}
    assert post(admin, "/client-1/", {"b": 2}).status_code == 200  # replaces
    assert post(admin, "/client-1x/team", {}).status_code == 404
    got = admin.get(STORE + "/client-1").json["data"]
    assert set(got) == {"children", "root", "body", "inherited"}
    assert got["children"] == [] and got["root"] == "/client-1" and got["body"] == {"b": 2}
    assert got["inherited"]["hello"] == "root" and got["inherited"]["b"] == 2 and "_id" not in got["inherited"]
    assert "a" not in got["inherited"]


def test_post_body_is_read_as_json(app: Any, admin: Any) -> None:
    # core4's own store page posts with Content-Type application/json; text/plain
    # JSON works as well, as for any argument
    assert admin.post(STORE, data='{"hello": "plain"}', content_type="text/plain").status_code == 200
    assert admin.get(STORE + "/").json["data"]["body"] == {"hello": "plain"}
    for body, content_type in (("not json", "application/json"), ("", "application/json"), ("[1]", "text/plain")):
        response = admin.post(STORE, data=body, content_type=content_type)
        assert response.status_code == 400, body
    assert admin.post(STORE, json={"$where": 1}).status_code == 400


def test_post_of_an_oversized_document_is_413(app: Any, admin: Any) -> None:
    big = {"logo": "x" * (MAX_DOCUMENT_SIZE + 1)}
    response = post(admin, "", big)
    assert response.status_code == 413 and "larger than" in response.json["error"]
    assert admin.get(STORE + "/").json["data"]["body"] is None


def test_get_shows_children_body_and_inheritance(app: Any, admin: Any) -> None:
    root = admin.get(STORE).json["data"]
    assert root["children"] == [] and root["root"] == "/" and root["body"] is None
    assert set(root["inherited"]) == CONFIG_KEYS
    for path, doc in (("", {"r": 1}), ("/a", {"a": 1}), ("/a/b", {"b": 1}), ("/a/b/c", {}), ("/ab", {})):
        assert post(admin, path, doc).status_code == 200
    assert admin.get(STORE + "/").json["data"]["children"] == ["/a", "/ab"]
    assert admin.get(STORE + "/a").json["data"]["children"] == ["/a/b"]
    assert admin.get(STORE + "/nowhere").json["data"]["body"] == {}


def test_delete_needs_a_path_and_recursive_for_documents_below(app: Any, admin: Any) -> None:
    for path, doc in (("", {}), ("/a", {}), ("/a/b", {}), ("/a/b/c", {}), ("/ab", {})):
        assert post(admin, path, doc).status_code == 200
    assert admin.delete(STORE).status_code == 400
    refused = admin.delete(STORE + "/a")
    assert refused.status_code == 400 and "2 document(s) below" in refused.json["error"]
    assert admin.delete(STORE + "/missing").status_code == 404
    removed = admin.delete(STORE + "/a", query_string={"recursive": "1"})
    assert removed.status_code == 200 and removed.json["data"] == ["/a/b/c", "/a/b", "/a"]
    assert admin.get(STORE + "/").json["data"]["children"] == ["/ab"]
    assert admin.delete(STORE + "/", query_string={"recursive": "true"}).json["data"] == ["/ab", "/"]
    assert "_id" not in app_manager_put(admin).json["data"]["doc"]


def test_managing_needs_cop_or_a_permission_for_the_store(app: Any, admin: Any) -> None:
    assert post(admin, "", {"hello": "root"}).status_code == 200
    # every standard user holds api://core4flask.apps and api://core4flask.auth
    standard = user_client(app, "standard")
    assert app_manager_put(standard).status_code == 200
    assert post(standard, "", {"hello": "mine"}).status_code == 403
    assert standard.get(STORE + "/").status_code == 403
    assert standard.delete(STORE + "/").status_code == 403
    creator = user_client(app, "creator", "api://core4flask.roles.store/c")
    assert post(creator, "/team", {"x": 1}).status_code == 200
    assert creator.delete(STORE + "/team").status_code == 403
    reader = user_client(app, "reader", "api://core4flask.roles.store.StoreHandler/r")
    assert reader.get(STORE + "/team").json["data"]["body"] == {"x": 1}
    assert app_manager_put(admin).json["data"]["doc"]["hello"] == "root"
