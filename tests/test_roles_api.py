"""The roles REST API over HTTP, authenticated through the real login."""

from __future__ import annotations

import json

import pytest

from core4flask import create_app
from core4flask.roles.bootstrap import bootstrap
from core4flask.store import new_id, query

ROOT = "/core4/api/v1"
ROLES = f"{ROOT}/roles"


@pytest.fixture
def app(tmp_path):
    # cache_ttl 0: the authenticator sees role changes at once, not within a second
    config = {"api": {"admin_password": "hans", "token": {"cache_ttl": 0}}}
    app = create_app(config=config, instance_path=str(tmp_path))
    ext = app.extensions["core4flask"]
    bootstrap(ext.store, ext.config)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, username, password):
    response = client.get(f"{ROOT}/login", query_string={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['data']['token']}"}


@pytest.fixture
def admin(client):
    return login(client, "admin", "hans")


def create(client, headers, **fields):
    response = client.post(ROLES, json=fields, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def error_of(response, status):
    body = response.get_json()
    assert response.status_code == status, body
    return body["error"]


def make_user(client, admin, name, *perms, roles=()):
    email = f"{name}@example.com"
    record = create(client, admin, name=name, email=email, passwd="Quiet-Harbor-83", perm=list(perms), role=list(roles))
    return record, login(client, name, "Quiet-Harbor-83")


def no_passwords(body) -> None:
    text = json.dumps(body)
    assert '"password"' not in text
    assert "$argon2" not in text


# --- access ---


def test_unauthenticated_is_401(client):
    assert client.get(ROLES).status_code == 401
    assert client.post(ROLES, json={"name": "x"}).status_code == 401


def test_standard_user_has_no_access(client, admin):
    _, headers = make_user(client, admin, "plain", roles=["standard_user"])
    assert client.get(ROLES, headers=headers).status_code == 403


def test_crud_letters_limit_methods(client, admin):
    _, headers = make_user(client, admin, "updater", "api://core4flask.roles/u")
    assert client.get(ROLES, headers=headers).status_code == 403
    assert client.post(ROLES, json={"name": "x"}, headers=headers).status_code == 403


# --- listing ---


def test_list_after_bootstrap(client, admin):
    body = client.get(ROLES, headers=admin).get_json()
    assert body["total_count"] == 2
    assert [item["name"] for item in body["data"]] == ["admin", "standard_user"]
    assert "perm_total" not in body["data"][0]
    no_passwords(body)
    assert client.get(f"{ROLES}/", headers=admin).get_json()["total_count"] == 2


def test_list_is_paginated_and_sorted(client, admin):
    for i in range(10):
        create(client, admin, name=f"role{i}", realname=f"Role {i}")
    body = client.get(ROLES, query_string={"per_page": 4, "sort": "realname", "order": -1}, headers=admin).get_json()
    assert (body["page"], body["per_page"], body["total_count"], body["page_count"]) == (0, 4, 12, 3)
    names = []
    for page in range(3):
        query = {"per_page": 4, "sort": "realname", "order": -1, "page": page}
        names += [item["name"] for item in client.get(ROLES, query_string=query, headers=admin).get_json()["data"]]
    # binary collation: lower case sorts after upper case
    assert names[:2] == ["standard_user", "admin"]
    assert names[2:] == [f"role{i}" for i in range(9, -1, -1)]


@pytest.mark.parametrize(
    "query",
    [{"per_page": "x"}, {"per_page": 0}, {"page": "first"}, {"order": 2}, {"sort": "password"}, {"sort": "nope"}],
)
def test_bad_paging_arguments_are_400(client, admin, query):
    error_of(client.get(ROLES, query_string=query, headers=admin), 400)


def test_filters(client, admin):
    for name, realname in (("liese", "Liese"), ("lisa", "Lisa"), ("lotte", "Lieselotte"), ("dots", "a.*r")):
        create(client, admin, name=name, realname=realname)

    def count(filter_value):
        response = client.get(ROLES, query_string={"filter": filter_value}, headers=admin)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["total_count"]

    assert count('{"name": "lisa"}') == 1
    assert count('{"name": "LISA"}') == 0
    assert count('{"name": {"$ne": "admin"}}') == 5
    assert count('{"realname": {"$in": ["Liese", "Lisa"]}}') == 2
    assert count('{"$and": [{"realname": {"$regex": "^Li"}}, {"realname": {"$ne": "Lisa"}}]}') == 2
    assert count("LIESE") == 2
    assert count("a.*r") == 1  # literally; as a regex it would match "admin user" too
    assert count("") == 6


def test_role_filters_take_the_names_records_show(client, admin):
    analysts = create(client, admin, name="analysts", perm=["api://demo"])
    make_user(client, admin, "joe", roles=["analysts"])
    make_user(client, admin, "ann", roles=["analysts"])
    make_user(client, admin, "bob")

    def names(filter_value):
        response = client.get(ROLES, query_string={"filter": json.dumps(filter_value)}, headers=admin)
        assert response.status_code == 200, response.get_json()
        return sorted(item["name"] for item in response.get_json()["data"])

    assert names({"role": "analysts"}) == ["ann", "joe"]
    assert names({"role": {"$in": ["analysts"]}}) == ["ann", "joe"]
    assert "joe" not in names({"role": {"$nin": ["analysts"]}})
    assert names({"$and": [{"role": "analysts"}, {"name": "joe"}]}) == ["joe"]
    assert names({"role": analysts["_id"]}) == ["ann", "joe"]  # ids, as core4 filtered
    assert create(client, admin, name="eve", role=["analysts"])["role"] == ["analysts"]  # what records show


def test_free_text_search_matches_email(client, admin):
    make_user(client, admin, "mailer")
    body = client.get(ROLES, query_string={"filter": "MAILER@EXAMPLE"}, headers=admin).get_json()
    assert [item["name"] for item in body["data"]] == ["mailer"]


@pytest.mark.parametrize(
    "value",
    ['{"password": {"$regex": "^\\\\$argon"}}', '{"$where": "1"}', '{"name": {"$gt": {"$x": 1}}}', "{broken"],
)
def test_unsafe_or_broken_filters_are_400(client, admin, value):
    error_of(client.get(ROLES, query_string={"filter": value}, headers=admin), 400)


def test_deeply_nested_filters_are_400_naming_the_limit(client, admin):
    """One validator for every client query: nesting is bounded for role lists
    too (a few hundred levels once exhausted the stack: a 500)."""
    for depth in (query.MAX_QUERY_DEPTH + 1, 400):
        value = '{"$and": [' * depth + '{"name": "admin"}' + "]}" * depth
        error = error_of(client.get(ROLES, query_string={"filter": value}, headers=admin), 400)
        assert f"nests deeper than {query.MAX_QUERY_DEPTH} levels" in error
    value = '{"$and": [' * query.MAX_QUERY_DEPTH + '{"name": "admin"}' + "]}" * query.MAX_QUERY_DEPTH
    assert client.get(ROLES, query_string={"filter": value}, headers=admin).get_json()["total_count"] == 1


def test_backtracking_regex_filters_are_400_at_once(client, admin, monkeypatch):
    # a role manager, not only a cop, may list roles with a filter of its choice
    _, manager = make_user(client, admin, "manager", "api://core4flask")
    create(client, manager, name="a" * 26 + "!")
    # refused by its shape, before any name is matched against it
    response = client.get(ROLES, query_string={"filter": '{"name": {"$regex": "(a+)+$"}}'}, headers=manager)
    assert "nests quantifiers" in error_of(response, 400)
    for pattern in ("(a|aa)*$", "(x)\\1", "a" * 600):
        value = json.dumps({"name": {"$regex": pattern}})
        error_of(client.get(ROLES, query_string={"filter": value}, headers=manager), 400)
    # whatever is left is cut off by time, also as 400
    monkeypatch.setattr(query, "REGEX_TIME_LIMIT", 0.0)
    response = client.get(ROLES, query_string={"filter": '{"name": {"$regex": "^a+!"}}'}, headers=manager)
    assert "took too long" in error_of(response, 400)


def test_filter_in_json_body(client, admin):
    response = client.get(ROLES, json={"filter": {"name": "admin"}}, headers=admin)
    assert response.get_json()["total_count"] == 1


# --- creating and reading ---


def test_create_role_and_user(client, admin, app):
    role = create(client, admin, name="reporting", realname="Reporting User", perm=["api://reporting.api.v1.public"])
    assert role["role"] == [] and role["is_active"] is True
    assert "email" not in role and "updated" not in role
    record = create(client, admin, name="hans", email="Hans@Example.com", passwd="Velvet-Canyon-52", role=["reporting"])
    assert record["role"] == ["reporting"]
    assert record["email"] == "hans@example.com"
    no_passwords(record)
    assert app.extensions["core4flask"].store.role_count() == 4
    login(client, "hans", "Velvet-Canyon-52")


@pytest.mark.parametrize(
    ("fields", "status", "text"),
    [
        ({"realname": "x"}, 400, "Missing argument name"),
        ({"name": "x", "perm": "bla"}, 400, "parameter [perm] expected as_type [list]"),
        ({"name": "x", "is_active": "x"}, 400, "parameter [is_active] expected as_type [bool]"),
        ({"name": "x", "perm": ["bla"]}, 400, "invalid permission protocol [bla]"),
        ({"name": "x", "passwd": "pw"}, 400, "requires email on creation"),
        ({"name": "x", "email": "no-mail", "passwd": "pw"}, 400, "field [email] must match"),
        ({"name": "x y"}, 400, "field [name] must match"),
        ({"name": ["x"]}, 400, "parameter [name] expected as_type [str]"),
        ({"name": "admin"}, 400, "name or email exists"),
        ({"name": "x", "email": "ADMIN@localhost.localdomain", "passwd": "Quiet-Harbor-83"}, 400, "mail exists"),
        ({"name": "x", "role": ["test_role3"]}, 404, "role [test_role3] not found"),
        ({"name": "x", "email": "", "passwd": "bla"}, 400, "requires email on creation"),
    ],
)
def test_create_errors(client, admin, fields, status, text):
    assert text in error_of(client.post(ROLES, json=fields, headers=admin), status)


def test_create_with_query_arguments(client, admin):
    query = {"name": "q", "perm": '["app://q"]', "is_active": "no"}
    response = client.post(ROLES, query_string=query, headers=admin)
    assert response.get_json()["data"]["perm"] == ["app://q"]
    assert response.get_json()["data"]["is_active"] is False


def test_empty_email_and_passwd_create_a_role(client, admin):
    record = create(client, admin, name="empty", email="", passwd="")
    assert "email" not in record


def test_detail_distinct_and_bad_ids(client, admin):
    create(client, admin, name="r1", perm=["app://1"])
    create(client, admin, name="r2", perm=["app://2"], role=["r1"])
    u3, _ = make_user(client, admin, "user3", "app://3", roles=["r1", "r2"])
    data = client.get(f"{ROLES}/{u3['_id']}", headers=admin).get_json()["data"]
    assert data["perm_total"] == ["app://1", "app://2", "app://3"]
    assert data["role_total"] == ["r1", "r2"]
    assert data["role"] == ["r1", "r2"]
    no_passwords(data)
    names = client.get(f"{ROLES}/distinct", headers=admin).get_json()["data"]
    assert names == ["admin", "r1", "r2", "standard_user", "user3"]
    assert "failed to parse ObjectId" in error_of(client.get(f"{ROLES}/nonsense", headers=admin), 400)
    assert "not found" in error_of(client.get(f"{ROLES}/{new_id()}", headers=admin), 404)


# --- updating ---


def test_update(client, admin):
    record = create(client, admin, name="r", realname="Old")
    url = f"{ROLES}/{record['_id']}"
    same = client.put(url, json={"etag": record["etag"], "name": "r", "realname": "Old"}, headers=admin)
    assert same.get_json()["data"] == "no changes"
    changed = client.put(url, json={"etag": record["etag"], "realname": "New"}, headers=admin).get_json()["data"]
    assert changed["realname"] == "New" and changed["etag"] != record["etag"]
    assert client.get(url, headers=admin).get_json()["data"]["etag"] == changed["etag"]
    stale = client.put(url, json={"etag": record["etag"], "realname": "Newer"}, headers=admin)
    assert "with etag" in error_of(stale, 409)
    renamed = client.put(url, json={"etag": changed["etag"], "name": "admin"}, headers=admin)
    assert "exists" in error_of(renamed, 400)
    cleared = client.put(url, json={"etag": changed["etag"], "realname": ""}, headers=admin).get_json()["data"]
    assert "realname" not in cleared


def test_update_errors(client, admin):
    record = create(client, admin, name="r")
    url = f"{ROLES}/{record['_id']}"
    assert "MissingArgumentError" in error_of(client.put(url, json={"realname": "x"}, headers=admin), 400)
    error_of(client.put(f"{ROLES}/bad", json={"etag": record["etag"]}, headers=admin), 400)
    error_of(client.put(f"{ROLES}/{new_id()}", json={"etag": record["etag"]}, headers=admin), 404)
    error_of(client.put(ROLES, json={"etag": record["etag"]}, headers=admin), 400)
    error_of(client.put(url, json={"etag": record["etag"], "role": ["missing"]}, headers=admin), 404)
    error_of(client.put(url, json={"etag": record["etag"], "perm": "app://x"}, headers=admin), 400)


def test_password_change_takes_effect(client, admin):
    record, _ = make_user(client, admin, "changer")
    url = f"{ROLES}/{record['_id']}"
    blank = client.put(url, json={"etag": record["etag"], "passwd": ""}, headers=admin)
    assert blank.get_json()["data"] == "no changes"
    changed = client.put(url, json={"etag": record["etag"], "passwd": "Fresh-Granite-66"}, headers=admin)
    assert changed.status_code == 200
    no_passwords(changed.get_json())
    login(client, "changer", "Fresh-Granite-66")
    old = client.get(f"{ROOT}/login", query_string={"username": "changer", "password": "Quiet-Harbor-83"})
    assert old.status_code == 401


def test_user_becomes_role_when_email_and_passwd_are_cleared(client, admin):
    record, _ = make_user(client, admin, "u")
    url = f"{ROLES}/{record['_id']}"
    half = client.put(url, json={"etag": record["etag"], "email": ""}, headers=admin)
    assert "requires email and password" in error_of(half, 400)
    both = client.put(url, json={"etag": record["etag"], "email": "", "passwd": ""}, headers=admin)
    assert "email" not in both.get_json()["data"]


# --- deleting ---


def test_delete(client, admin):
    r1 = create(client, admin, name="r1", perm=["app://1"])
    dependent = create(client, admin, name="r2", perm=["app://2"], role=["r1"])
    url = f"{ROLES}/{r1['_id']}"
    assert "MissingArgumentError" in error_of(client.delete(url, headers=admin), 400)
    assert "with etag" in error_of(client.delete(f"{url}?etag={new_id()}", headers=admin), 409)
    response = client.delete(f"{url}?etag={r1['etag']}", headers=admin)
    assert response.get_json()["data"] is True
    assert client.get(url, headers=admin).status_code == 404
    assert client.delete(f"{url}?etag={r1['etag']}", headers=admin).status_code == 404
    data = client.get(f"{ROLES}/{dependent['_id']}", headers=admin).get_json()["data"]
    assert data["role"] == [] and data["perm_total"] == ["app://2"]
    other = create(client, admin, name="r3")
    assert client.delete(f"{ROLES}/{other['_id']}/{other['etag']}", headers=admin).get_json()["data"] is True
    error_of(client.delete(ROLES, headers=admin), 400)


def test_deleted_and_deactivated_users_are_locked_out(client, admin):
    gone, gone_headers = make_user(client, admin, "gone", roles=["standard_user"])
    idle, idle_headers = make_user(client, admin, "idle", roles=["standard_user"])
    assert client.get(f"{ROOT}/profile", headers=gone_headers).status_code == 200
    client.delete(f"{ROLES}/{gone['_id']}/{gone['etag']}", headers=admin)
    client.put(f"{ROLES}/{idle['_id']}", json={"etag": idle["etag"], "is_active": False}, headers=admin)
    assert client.get(f"{ROOT}/profile", headers=gone_headers).status_code == 401
    assert client.get(f"{ROOT}/profile", headers=idle_headers).status_code == 401


# --- privileges ---


def test_role_updater_cannot_escalate(client, admin):
    me, headers = make_user(client, admin, "sneaky", "api://core4flask.roles/u", "app://mine")
    url = f"{ROLES}/{me['_id']}"
    assert "cop" in error_of(client.put(url, json={"etag": me["etag"], "perm": ["cop"]}, headers=headers), 403)
    wider = client.put(url, json={"etag": me["etag"], "perm": ["api://core4flask"]}, headers=headers)
    error_of(wider, 403)
    admin_doc = client.get(ROLES, query_string={"filter": '{"name": "admin"}'}, headers=admin).get_json()["data"][0]
    demote = client.put(f"{ROLES}/{admin_doc['_id']}", json={"etag": admin_doc["etag"], "perm": []}, headers=headers)
    error_of(demote, 403)
    cop_role = client.put(url, json={"etag": me["etag"], "role": ["admins"]}, headers=headers)
    assert cop_role.status_code == 404
    create(client, admin, name="admins", perm=["cop"])
    error_of(client.put(url, json={"etag": me["etag"], "role": ["admins"]}, headers=headers), 403)
    own = client.put(url, json={"etag": me["etag"], "realname": "Me"}, headers=headers)
    assert own.get_json()["data"]["realname"] == "Me"
    data = client.get(url, headers=admin).get_json()["data"]
    assert data["perm_total"] == ["api://core4flask.roles/u", "app://mine"]


def test_role_creator_grants_only_what_it_holds(client, admin):
    _, headers = make_user(client, admin, "creator", "api://core4flask.roles/c", "app://mine")
    error_of(client.post(ROLES, json={"name": "x", "perm": ["cop"]}, headers=headers), 403)
    error_of(client.post(ROLES, json={"name": "x", "perm": ["app://other"]}, headers=headers), 403)
    error_of(client.post(ROLES, json={"name": "x", "role": ["standard_user"]}, headers=headers), 403)
    ok = client.post(ROLES, json={"name": "x", "perm": ["app://mine"]}, headers=headers)
    assert ok.get_json()["data"]["perm"] == ["app://mine"]


def test_role_manager_cannot_delete_admin_or_itself(client, admin):
    me, headers = make_user(client, admin, "manager", "api://core4flask.roles")
    admin_doc = client.get(ROLES, query_string={"filter": "admin"}, headers=headers).get_json()["data"][0]
    error_of(client.delete(f"{ROLES}/{admin_doc['_id']}/{admin_doc['etag']}", headers=headers), 403)
    error_of(client.delete(f"{ROLES}/{me['_id']}/{me['etag']}", headers=headers), 403)


def test_last_active_cop_stays(client, admin):
    admin_doc = client.get(ROLES, query_string={"filter": '{"name": "admin"}'}, headers=admin).get_json()["data"][0]
    url = f"{ROLES}/{admin_doc['_id']}"
    assert "last active cop" in error_of(
        client.put(url, json={"etag": admin_doc["etag"], "is_active": False}, headers=admin), 400
    )
    error_of(client.delete(f"{url}/{admin_doc['etag']}", headers=admin), 403)
