"""Permission validation, matching, privilege checks and role cascades."""

from __future__ import annotations

import copy

import pytest

from core4flask.auth.permissions import (
    METHOD_LETTERS,
    InvalidPermission,
    PermissionSet,
    cascade,
    validate_permission,
)

# --- validation ---


@pytest.mark.parametrize(
    "perm",
    [
        "cop",
        "app://test",
        "app://client/client1/unit2",
        "api://bla",
        "api://bla.bli.blub",
        "api://core4flask.api.*",
        "api://x.y/",
        "api://x.y/r",
        "api://x.y/crud",
        "api://x.y/dr",
        "job://core4.job.*/x",
        "job://core4.job.*/r",
        "mongodb://test",
    ],
)
def test_valid_permissions_are_returned_unchanged(perm):
    assert validate_permission(perm) == perm


@pytest.mark.parametrize(
    "perm",
    [
        "bla",
        "app:hello",
        "app:/hello",
        "api:/bla",
        "bla://test",
        "api://x.y/x",
        "api://x.y/rxc",
        "api://x.y/R",
        "api://a/b/r",
        "api://",
        "api://has space",
        "app://",
        "app://with space",
        "job://x/y",
        "job://x/rx",
        "job://x",
        "mongodb://",
        "COP",
        "cop ",
        "cop\n",
        "api://x.y\n",
        "",
    ],
)
def test_invalid_permissions_name_themselves(perm):
    with pytest.raises(InvalidPermission) as info:
        validate_permission(perm)
    assert str(info.value) == f"invalid permission protocol [{perm}]"


def test_invalid_permission_is_a_value_error():
    with pytest.raises(ValueError, match=r"invalid permission protocol \[bla\]"):
        validate_permission("bla")


@pytest.mark.parametrize("perm", ["api://core4(", "api://[a-", "api://a**", "job://(/x"])
def test_uncompilable_regex_is_rejected(perm):
    with pytest.raises(InvalidPermission) as info:
        validate_permission(perm)
    assert f"invalid permission protocol [{perm}]" in str(info.value)
    assert "bad regex" in str(info.value)


@pytest.mark.parametrize("perm", [None, 1, ["cop"]])
def test_non_string_permission_is_invalid(perm):
    with pytest.raises(InvalidPermission):
        validate_permission(perm)


# --- method letters ---


def test_method_letters_table():
    assert METHOD_LETTERS["GET"] == {"r"}
    assert METHOD_LETTERS["HEAD"] == {"r"}
    assert METHOD_LETTERS["OPTIONS"] == {"r"}
    assert METHOD_LETTERS["POST"] == {"c"}
    assert METHOD_LETTERS["PUT"] == {"u"}
    assert METHOD_LETTERS["PATCH"] == {"u"}
    assert METHOD_LETTERS["DELETE"] == {"d"}
    assert METHOD_LETTERS["CARD"] == set("crud")
    assert METHOD_LETTERS["HELP"] == set("crud")
    assert METHOD_LETTERS["ENTER"] == {"r"}


# --- api access ---

QUAL = "core4flask.api.roles.RoleHandler"


def test_api_permission_is_a_prefix_match():
    perms = PermissionSet(["api://core4flask.api"])
    assert perms.has_api_access("core4flask.api.x.Y")
    assert perms.has_api_access(QUAL)
    assert perms.has_api_access("core4flask.api")
    assert not perms.has_api_access("other.core4flask.api.x.Y")
    assert not perms.has_api_access("core4flask.ap")


def test_api_pattern_dots_are_regex_wildcards():
    assert PermissionSet(["api://core4flask.api"]).has_api_access("core4flaskXapi.Z")


def test_api_pattern_is_case_sensitive():
    perms = PermissionSet(["api://core4flask.api"])
    assert not perms.has_api_access("Core4flask.api.x.Y")
    assert not PermissionSet(["api://Core4flask"]).has_api_access("core4flask.api.X")


def test_api_pattern_can_be_anchored_at_the_end():
    perms = PermissionSet(["api://core4flask.api.roles.RoleHandler$"])
    assert perms.has_api_access(QUAL)
    assert not perms.has_api_access(QUAL + "2")


def test_api_permission_without_letters_grants_every_method():
    perms = PermissionSet(["api://core4flask"])
    for method in ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]:
        assert perms.has_api_access(QUAL, method)
    assert perms.has_api_access(QUAL, "BREW")


@pytest.mark.parametrize(
    ("letters", "granted"),
    [
        ("r", {"GET", "HEAD", "OPTIONS"}),
        ("c", {"POST"}),
        ("u", {"PUT", "PATCH"}),
        ("d", {"DELETE"}),
        ("rd", {"GET", "HEAD", "OPTIONS", "DELETE"}),
        ("rcd", {"GET", "HEAD", "OPTIONS", "POST", "DELETE"}),
        ("", set()),
    ],
)
def test_letters_limit_methods(letters, granted):
    perms = PermissionSet([f"api://core4flask.api.roles/{letters}"])
    for method in ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]:
        assert perms.has_api_access(QUAL, method) is (method in granted), method


def test_method_names_are_case_insensitive():
    perms = PermissionSet(["api://core4flask/r"])
    assert perms.has_api_access(QUAL, "get")
    assert not perms.has_api_access(QUAL, "post")


def test_default_method_is_get():
    assert PermissionSet(["api://core4flask/r"]).has_api_access(QUAL)
    assert not PermissionSet(["api://core4flask/c"]).has_api_access(QUAL)


def test_pseudo_methods():
    only_delete = PermissionSet(["api://test.*/d"])
    assert only_delete.has_api_access("test.api.H", "CARD")
    assert only_delete.has_api_access("test.api.H", "HELP")
    assert not only_delete.has_api_access("test.api.H", "ENTER")
    reader = PermissionSet(["api://test.*/r"])
    assert reader.has_api_access("test.api.H", "ENTER")
    assert reader.has_api_access("test.api.H", "CARD")


def test_unknown_method_with_letters_is_refused_not_crashing():
    perms = PermissionSet(["api://core4flask/crud"])
    assert not perms.has_api_access(QUAL, "XHELP2")
    assert not perms.has_api_access(QUAL, "")


def test_info_access_ignores_letters():
    perms = PermissionSet(["api://core4flask.api.roles/"])
    assert perms.has_info_access(QUAL)
    assert not perms.has_api_access(QUAL, "GET")
    assert not perms.has_info_access("core4flask.api.login.LoginHandler")


def test_no_permissions_grant_nothing():
    perms = PermissionSet([])
    assert not perms.is_admin
    assert not perms.has_api_access(QUAL)
    assert not perms.has_info_access(QUAL)
    assert not perms.has_client_access("client1")


def test_non_api_permissions_do_not_grant_handlers():
    perms = PermissionSet(["app://core4flask", "mongodb://core4flask", "job://.*/x"])
    assert not perms.has_api_access(QUAL)
    assert not perms.has_info_access(QUAL)


def test_cop_grants_everything():
    perms = PermissionSet(["cop"])
    assert perms.is_admin
    assert perms.has_api_access("anything.At.All", "DELETE")
    assert perms.has_api_access("anything.At.All", "BREW")
    assert perms.has_info_access("anything")
    assert perms.has_client_access("any/client")


def test_cop_is_case_sensitive():
    assert not PermissionSet(["COP"]).is_admin


def test_api_patterns_are_parsed():
    perms = PermissionSet(["api://a.b/rd", "api://c", "app://x", "cop"])
    parsed = {g.perm: (g.source, g.letters) for g in perms.api_patterns}
    assert parsed == {
        "api://a.b/rd": ("a.b", frozenset("rd")),
        "api://c": ("c", None),
    }


def test_invalid_stored_permissions_are_ignored():
    perms = PermissionSet(["api://broken(", "api://core4flask"])
    assert [g.perm for g in perms.api_patterns] == ["api://core4flask"]
    assert perms.has_api_access(QUAL)


def test_permissions_are_deduplicated_and_contained():
    perms = PermissionSet(["app://1", "app://1", "api://x"])
    assert perms.perms == ("app://1", "api://x")
    assert "app://1" in perms
    assert "app://2" not in perms


# --- tenants ---


def test_client_access_is_exact():
    perms = PermissionSet(["app://client/client1", "app://client/client1/unit2"])
    assert perms.has_client_access("client1")
    assert perms.has_client_access("client1/unit2")
    assert not perms.has_client_access("client2")
    assert not perms.has_client_access("client")
    assert not perms.has_client_access("client11")
    assert not perms.has_client_access("Client1")
    assert not perms.has_client_access("client1/unit3")
    assert not perms.has_client_access("")


def test_client_names_are_not_regexes():
    perms = PermissionSet(["app://client/c.*"])
    assert not perms.has_client_access("client1")
    assert perms.has_client_access("c.*")


def test_client_access_needs_the_client_prefix():
    assert not PermissionSet(["app://client1"]).has_client_access("client1")
    assert not PermissionSet(["app://store/client1"]).has_client_access("client1")


# --- covers ---


@pytest.mark.parametrize(
    ("held", "wanted", "expected"),
    [
        # cop grants anything, nobody else grants cop
        (["cop"], "cop", True),
        (["cop"], "api://anything", True),
        (["cop"], "app://x", True),
        (["api://.*"], "cop", False),
        ([], "cop", False),
        # identical strings
        (["app://client/a"], "app://client/a", True),
        (["app://client/a"], "app://client/b", False),
        (["app://client"], "app://client/a", False),
        (["mongodb://db"], "mongodb://db", True),
        (["mongodb://db"], "mongodb://db2", False),
        (["job://a.*/x"], "job://a.*/x", True),
        (["job://a.*/x"], "job://a.*/r", False),
        (["api://a.b/r"], "api://a.b/r", True),
        # regex prefix with letters
        (["api://core4flask"], "api://core4flask.api.roles", True),
        (["api://core4flask"], "api://core4flask.api/r", True),
        (["api://core4flask"], "api://core4flask/", True),
        (["api://core4flask/r"], "api://core4flask.api/r", True),
        (["api://core4flask/rd"], "api://core4flask.api/d", True),
        (["api://core4flask/crud"], "api://core4flask.api", False),
        (["api://core4flask/r"], "api://core4flask.api", False),
        (["api://core4flask/r"], "api://core4flask.api/rc", False),
        (["api://core4flask.api"], "api://core4flask", False),
        (["api://core4flask.api"], "api://other", False),
        (["api://core4flask.api"], "api://.*", False),
        # suffixes that would widen the regex are refused
        (["api://core4flask"], "api://core4flask|.*", False),
        (["api://core4flask"], "api://core4flask*", False),
        (["api://core4flask"], "api://core4flask?", False),
        (["api://core4flask"], "api://core4flask+", False),
        (["api://core4flask"], "api://core4flask{0,3}", False),
        # conservative: narrower, but refused
        (["api://core4flask.api"], "api://core4flask.api.(x|y)", False),
        (["api://a.b"], "api://a.(b)", False),
        (["api://a{2"], "api://a{2,3}", False),
        (["api://a\\01"], "api://a\\012", False),
        (["api://(a)"], "api://(a)\\1", False),
        (["api://a.*"], "api://a.*x", True),
        # non-api permissions are not regexes
        (["app://client/.*"], "app://client/a", False),
        (["job://.*/x"], "job://a/x", False),
        # invalid permissions are never covered
        (["api://core4flask"], "api://core4flask(", False),
        (["api://core4flask"], "bla", False),
        (["api://core4flask"], None, False),
    ],
)
def test_covers(held, wanted, expected):
    assert PermissionSet(held).covers(wanted) is expected


def test_covers_with_several_own_permissions():
    perms = PermissionSet(["api://a/r", "api://a/d", "api://b"])
    assert perms.covers("api://a.x/r")
    assert perms.covers("api://a.x/d")
    # letters are not combined across permissions: conservative
    assert not perms.covers("api://a.x/rd")
    assert perms.covers("api://b.x/rd")


# --- cascade ---


def _loader(docs):
    by_id = {d["_id"]: d for d in docs}
    calls = []

    def load(ids):
        calls.append(list(ids))
        return [by_id[i] for i in ids if i in by_id]

    load.calls = calls
    return load


def _role(_id, perm=(), role=(), is_active=True):
    return {
        "_id": _id,
        "name": _id,
        "perm": list(perm),
        "role": list(role),
        "is_active": is_active,
    }


def test_cascade_core4_example():
    r1 = _role("r1", ["app://1"])
    r2 = _role("r2", ["app://2"], ["r1"])
    user3 = _role("user3", ["app://3"], ["r1", "r2"])
    load = _loader([r1, r2, user3])
    assert cascade(r1, load) == (["app://1"], [])
    assert cascade(r2, load) == (["app://1", "app://2"], ["r1"])
    assert cascade(user3, load) == (["app://1", "app://2", "app://3"], ["r1", "r2"])


def test_cascade_does_not_mutate_documents():
    r1 = _role("r1", ["app://1"])
    user = _role("u", ["app://u"], ["r1"])
    before = copy.deepcopy([r1, user])
    cascade(user, _loader([r1, user]))
    assert [r1, user] == before


def test_cascade_allows_cycles_and_self_reference():
    a = _role("a", ["app://a"], ["b", "a"])
    b = _role("b", ["app://b"], ["c"])
    c = _role("c", ["app://c"], ["a", "b"])
    load = _loader([a, b, c])
    assert cascade(a, load) == (["app://a", "app://b", "app://c"], ["b", "c"])
    assert cascade(b, load) == (["app://a", "app://b", "app://c"], ["a", "c"])


def test_cascade_loads_each_role_once():
    a = _role("a", role=["b", "c"])
    b = _role("b", role=["c", "a"])
    c = _role("c", role=["a", "b", "c"])
    user = _role("u", role=["a", "a", "b"])
    load = _loader([a, b, c])
    assert cascade(user, load) == ([], ["a", "b", "c"])
    loaded = [i for call in load.calls for i in call]
    assert sorted(loaded) == ["a", "b", "c"]


def test_cascade_drops_inactive_subtrees():
    leaf = _role("leaf", ["app://leaf"])
    off = _role("off", ["cop"], ["leaf"], is_active=False)
    on = _role("on", ["app://on"])
    user = _role("u", ["app://u"], ["off", "on"])
    load = _loader([leaf, off, on])
    assert cascade(user, load) == (["app://on", "app://u"], ["on"])


def test_cascade_keeps_roles_reachable_through_active_paths():
    leaf = _role("leaf", ["app://leaf"])
    off = _role("off", [], ["leaf"], is_active=False)
    on = _role("on", [], ["leaf"])
    load = _loader([leaf, off, on])
    for order in (["off", "on"], ["on", "off"]):
        user = _role("u", role=order)
        assert cascade(user, load) == (["app://leaf"], ["leaf", "on"])


def test_inactive_user_keeps_own_permissions():
    user = _role("u", ["cop"], is_active=False)
    assert cascade(user, _loader([])) == (["cop"], [])


def test_cascade_ignores_unknown_roles_and_missing_fields():
    r1 = {"_id": "r1", "name": "r1"}
    user = {"_id": "u", "name": "u", "role": ["r1", "gone"]}
    assert cascade(user, _loader([r1])) == ([], ["r1"])
    assert cascade({"name": "new"}, _loader([])) == ([], [])


def test_cascade_deduplicates_and_sorts_permissions():
    r1 = _role("r1", ["app://b", "app://a"])
    user = _role("u", ["app://b", "app://c"], ["r1"])
    assert cascade(user, _loader([r1])) == (["app://a", "app://b", "app://c"], ["r1"])


def test_cascade_handles_deep_chains():
    docs = [_role(f"r{i}", [f"app://{i}"], [f"r{i + 1}"]) for i in range(3000)]
    perm_total, role_total = cascade(_role("u", role=["r0"]), _loader(docs))
    assert len(perm_total) == 3000
    assert len(role_total) == 3000
