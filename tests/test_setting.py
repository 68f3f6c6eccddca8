"""``/core4/api/v1/setting``: per-user settings as in core4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core4flask import create_app
from core4flask.apps.setting import deep_merge, nest, unset

URL = "/core4/api/v1/setting"
ADMIN = {"api": {"admin_password": "hans", "token": {"secret": "setting-secret-0123456789abcdef01234567"}}}


def make_app(tmp_path: Path, **extra: Any) -> Any:
    app = create_app(config={**ADMIN, **extra}, instance_path=str(tmp_path))
    app.extensions["core4flask"].prepare_serving()
    return app


def login(app: Any, username: str = "admin", password: str = "hans") -> Any:
    client = app.test_client()
    response = client.get(f"/core4/api/v1/login?username={username}&password={password}")
    assert response.status_code == 200, response.json
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + response.json["data"]["token"]
    return client


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return make_app(tmp_path)


@pytest.fixture
def client(app: Any) -> Any:
    return login(app)


def make_user(admin: Any, name: str, perm: list[str] | None = None) -> None:
    body = {"name": name, "email": f"{name}@example.org", "passwd": "Cobalt-Dune-Kettle-4", "perm": perm or []}
    response = admin.post("/core4/api/v1/roles", json=body)
    assert response.status_code == 200, response.json


def error_of(response: Any, status: int = 400) -> str:
    """The ``error`` of a setting error envelope; core4 sends the bare reason."""
    assert response.status_code == status, response.json
    assert response.json["code"] == status
    return response.json["error"]


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/nope", 400, "Invalid resource name"),
        ("GET", "//x", 400, "Invalid resource name"),
        ("POST", "", 400, "Body in request is empty"),
        ("DELETE", "", 404, "Resource not found"),
    ],
)
def test_errors_have_core4s_shape(client: Any, method: str, path: str, status: int, error: str) -> None:
    body = client.open(URL + path, method=method).json
    assert body == {
        "_id": body["_id"],
        "code": status,
        "message": body["message"],
        "timestamp": body["timestamp"],
        "error": error,
    }
    assert body["message"] == ("Bad Request" if status == 400 else "Not Found")


def test_get_returns_the_defaults(client: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json["data"] == {"_general": {"language": "EN"}}


def test_defaults_come_from_the_config(tmp_path: Path) -> None:
    client = login(make_app(tmp_path, user_setting={"_general": {"language": "FR"}}))
    assert client.get(f"{URL}/_general/language").json["data"] == "FR"


def test_nested_get_post_put(client: Any) -> None:
    response = client.post(f"{URL}/_general/language", json={"data": {"code": "LT"}})
    assert response.status_code == 200
    assert response.json["data"] == {"code": "LT"}  # the posted data, not the merge
    assert client.get(f"{URL}/_general/language/code").json["data"] == "LT"
    assert error_of(client.get(f"{URL}/_general/missing")) == "Invalid resource name"
    assert error_of(client.get(f"{URL}//language")) == "Invalid resource name"


def test_post_and_put_merge_deep(client: Any) -> None:
    assert client.post(URL, json={"data": {"proj": {"a": 1, "b": {"c": 1}}}}).status_code == 200
    assert client.put(f"{URL}/proj", json={"data": {"b": {"d": 2}}}).status_code == 200
    assert client.put(f"{URL}/proj/b/e", json={"data": [1, 2]}).status_code == 200
    data = client.get(URL).json["data"]
    assert data == {"_general": {"language": "EN"}, "proj": {"a": 1, "b": {"c": 1, "d": 2, "e": [1, 2]}}}


@pytest.mark.parametrize("value", [0, "", {}, False, None])
def test_empty_body_is_400(client: Any, value: Any) -> None:
    assert error_of(client.post(URL, json={"data": value})) == "Body in request is empty"
    assert error_of(client.put(f"{URL}/proj/x", json={"data": value})) == "Body in request is empty"


def test_missing_body_is_400(client: Any) -> None:
    assert error_of(client.post(URL)) == "Body in request is empty"


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("", {"": {"a": 1}}),  # empty level-1 key
        ("", {"_secret": {"a": 1}}),  # _keys must exist in the defaults
        ("", {"proj": 1}),  # level 1 holds dicts
        ("", {"proj": {"": 1}}),  # empty level-2 key
        ("", [1]),  # a dict of dicts
        ("/_secret", {"a": 1}),
        ("/proj", 5),  # one segment: a dict
        ("/proj", {"": 1}),
        ("/_secret/a", 1),  # deeper: the first segment is still checked
    ],
)
def test_level_restrictions(client: Any, path: str, data: Any) -> None:
    assert error_of(client.post(URL + path, json={"data": data})) == "Invalid resource name"


def test_anything_goes_below_level_two(client: Any) -> None:
    response = client.post(f"{URL}/proj/deep", json={"data": {"": {"x": None}}})
    assert response.status_code == 200
    assert client.get(f"{URL}/proj/deep").json["data"] == {"": {"x": None}}
    assert client.post(f"{URL}/_general", json={"data": {"theme": "dark"}}).status_code == 200


def test_delete(client: Any) -> None:
    assert error_of(client.delete(URL), 404) == "Resource not found"
    client.post(URL, json={"data": {"proj": {"a": 1, "b": 2}}})
    client.post(f"{URL}/_general/language", json={"data": "DE"})
    response = client.delete(f"{URL}/proj/a")
    assert response.status_code == 200 and response.json["data"] == {}
    assert client.get(f"{URL}/proj").json["data"] == {"b": 2}
    assert error_of(client.delete(f"{URL}/proj/a"), 404) == "Resource not found"
    client.delete(f"{URL}/_general/language")
    assert client.get(f"{URL}/_general/language").json["data"] == "EN"  # the default again
    assert client.delete(URL).status_code == 200
    assert client.get(URL).json["data"] == {"_general": {"language": "EN"}}


def test_settings_are_per_user(app: Any, client: Any) -> None:
    make_user(client, "bob")
    bob = login(app, "bob", "Cobalt-Dune-Kettle-4")
    assert bob.post(URL, json={"data": {"proj": {"mine": "bob"}}}).status_code == 200
    assert "proj" not in client.get(URL).json["data"]
    # a cop may address another user's settings ...
    assert client.get(f"{URL}/proj/mine?username=bob").json["data"] == "bob"
    assert client.post(f"{URL}/proj?username=bob", json={"data": {"by": "admin"}}).status_code == 200
    assert bob.get(f"{URL}/proj").json["data"] == {"mine": "bob", "by": "admin"}
    assert error_of(client.get(f"{URL}?username=nobody"), 404).startswith("user [nobody]")
    # ... others silently get their own
    make_user(client, "eve")
    eve = login(app, "eve", "Cobalt-Dune-Kettle-4")
    assert eve.get(f"{URL}?username=bob").json["data"] == {"_general": {"language": "EN"}}


def test_login_required(app: Any) -> None:
    assert app.test_client().get(URL).status_code == 401


def test_launcher_choices_round_trip(client: Any) -> None:
    choices = {"favourites": ["abc"], "order": "title", "search": "", "tag": "app"}
    assert client.put(URL, json={"data": {"launcher": choices}}).status_code == 200
    assert client.get(URL).json["data"]["launcher"] == choices
    assert client.put(URL, json={"data": {"launcher": {"favourites": []}}}).status_code == 200
    assert client.get(f"{URL}/launcher/favourites").json["data"] == []


def test_pure_helpers() -> None:
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}, "d": 4}) == {"a": {"b": 3, "c": 2}, "d": 4}
    assert nest(["a", "b"], 1) == {"a": {"b": 1}}
    doc = {"a": {"b": 1}}
    assert unset(doc, ["a", "b"]) is True and doc == {"a": {}}
    assert unset(doc, ["a", "x"]) is False
