"""The user and role model (``RoleService``) and the bootstrap, on both stores."""

from __future__ import annotations

import functools

import mongomock
import pytest
from mongomock.store import ServerStore

from core4flask.auth.passwords import verify_password
from core4flask.config import load_config
from core4flask.roles.bootstrap import bootstrap
from core4flask.roles.model import (
    AUTH_CHANGES_NS,
    RoleConflict,
    RoleError,
    RoleForbidden,
    RoleInvalid,
    RoleNotFound,
    RoleService,
    profile_fields,
)
from core4flask.store import DuplicateKey, MongoStore, SQLiteStore, new_id


@pytest.fixture(params=["sqlite", "mongomock"])
def store(request, tmp_path):
    if request.param == "sqlite":
        backend = SQLiteStore(tmp_path / "core4flask.sqlite3")
    else:
        factory = functools.partial(mongomock.MongoClient, _store=ServerStore())
        backend = MongoStore("mongodb://localhost:27017/core4flask_test", client_factory=factory)
    backend.setup()
    yield backend
    backend.close()


@pytest.fixture
def service(store):
    return RoleService(store)


@pytest.fixture
def admin(service):
    return service.create(
        {"name": "admin", "email": "admin@example.com", "password": "Birch-Cabin-Keeper-8", "perm": ["cop"]}
    )


def user(service, name, *perms, roles=(), **extra):
    fields = {
        "name": name,
        "email": f"{name}@example.com",
        "password": "Quiet-Harbor-83",
        "perm": list(perms),
        "role": list(roles),
    }
    return service.create({**fields, **extra})


def raises(kind, fn, *args, **kwargs) -> RoleError:
    with pytest.raises(kind) as info:
        fn(*args, **kwargs)
    return info.value


def stamps(store) -> set[str]:
    return {key for key, _value, _at in store.kv_changed_since(AUTH_CHANGES_NS, None)}


# --- creating and reading ---


def test_cascade_of_nested_roles(service):
    r1 = service.create({"name": "r1", "perm": ["app://1"]})
    r2 = service.create({"name": "r2", "perm": ["app://2"], "role": ["r1"]})
    u3 = user(service, "user3", "app://3", roles=["r1", "r2"])
    totals = [service.detail(service.get(doc["_id"]))["perm_total"] for doc in (r1, r2, u3)]
    assert totals == [["app://1"], ["app://1", "app://2"], ["app://1", "app://2", "app://3"]]
    detail = service.detail(service.get(u3["_id"]))
    assert detail["role"] == ["r1", "r2"]
    assert detail["role_total"] == ["r1", "r2"]
    assert service.cascade(service.get(u3["_id"])) == (["app://1", "app://2", "app://3"], ["r1", "r2"])


def test_roles_are_stored_as_ids_and_returned_as_names(service, store):
    r1 = service.create({"name": "r1"})
    record = service.create({"name": "r2", "role": ["r1", "r1"]})
    assert record["role"] == ["r1"]
    assert store.role_get(record["_id"])["role"] == [r1["_id"]]


def test_cycles_and_self_references_terminate(service):
    a = service.create({"name": "a", "perm": ["app://a"]})
    b = service.create({"name": "b", "perm": ["app://b"], "role": ["a"]})
    service.update(a["_id"], a["etag"], {"role": ["a", "b"]})
    stored = service.get(a["_id"])
    assert set(stored["role"]) == {a["_id"], b["_id"]}
    detail = service.detail(stored)
    assert detail["role"] == ["b"]
    assert detail["role_total"] == ["b"]
    assert detail["perm_total"] == ["app://a", "app://b"]


def test_inactive_role_drops_out_with_its_subtree(service):
    service.create({"name": "inner", "perm": ["app://inner"]})
    outer = service.create({"name": "outer", "perm": ["app://outer"], "role": ["inner"]})
    u = user(service, "u", roles=["outer"])
    assert service.detail(service.get(u["_id"]))["perm_total"] == ["app://inner", "app://outer"]
    service.update(outer["_id"], outer["etag"], {"is_active": False})
    detail = service.detail(service.get(u["_id"]))
    assert detail["perm_total"] == []
    assert detail["role_total"] == []


def test_records_never_hold_passwords(service, admin):
    detail = service.detail(service.get(admin["_id"]))
    listed = service.find()
    assert "password" not in admin
    assert "password" not in detail
    assert all("password" not in item for item in listed)
    assert service.get(admin["_id"])["password"].startswith("$argon2")


def test_user_with_email_only_gets_a_random_password(service, store):
    record = service.create({"name": "mail", "email": "Mail@Example.com"})
    assert record["email"] == "mail@example.com"
    assert store.role_get(record["_id"])["password"].startswith("$argon2")


def test_password_without_email_is_refused(service):
    error = raises(RoleInvalid, service.create, {"name": "x", "password": "Quiet-Harbor-83"})
    assert error.status_code == 400
    assert "requires email on creation" in error.message


def test_empty_email_and_password_make_a_role(service):
    record = service.create({"name": "role", "email": "", "password": ""})
    assert "email" not in record
    assert "password" not in service.get(record["_id"])


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"name": "with space"}, "field [name] must match"),
        ({"name": "x", "email": "not-an-email", "password": "Quiet-Harbor-83"}, "field [email] must match"),
        ({"name": "x", "perm": ["bla"]}, "invalid permission protocol [bla]"),
        ({"name": "x", "perm": "app://x"}, "field [perm] must be of type [list]"),
        ({"name": "x", "etag": new_id()}, "unknown field [etag]"),
    ],
)
def test_invalid_fields_are_400(service, fields, text):
    error = raises(RoleInvalid, service.create, fields)
    assert text in error.message


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "ADMIN", "email": "other@example.com", "password": "Quiet-Harbor-83"},
        {"name": "other", "email": "ADMIN@example.com", "password": "Quiet-Harbor-83"},
        {"name": "admin"},
    ],
)
def test_duplicate_name_or_email_ignoring_case(service, admin, fields):
    error = raises(RoleInvalid, service.create, fields)
    assert error.message == "name or email exists"


def test_unknown_role_is_404(service, admin):
    error = raises(RoleNotFound, service.create, {"name": "x", "role": ["test_role3"]})
    assert error.status_code == 404
    assert error.message == "role [test_role3] not found"
    error = raises(RoleNotFound, service.update, admin["_id"], admin["etag"], {"role": ["nope"]})
    assert error.message == "role [nope] not found"


def test_require_tells_bad_ids_from_unknown_ones(service):
    assert raises(RoleInvalid, service.require, "xyz").message == "failed to parse ObjectId [xyz]"
    unknown = new_id()
    assert raises(RoleNotFound, service.require, unknown).message == f"role [{unknown}] not found"
    assert service.get("xyz") is None
    assert service.by_name("nobody") is None


def test_by_name_is_exact_and_ignores_case(service, admin):
    assert service.by_name("ADMIN")["_id"] == admin["_id"]
    assert service.by_name("adm") is None
    assert service.by_name("adm.*") is None


def test_find_filters_sorts_and_refuses_password_queries(service, admin):
    service.create({"name": "b-role", "realname": "Bee"})
    service.create({"name": "a-role", "realname": "Ay"})
    names = [r["name"] for r in service.find(sort="name", order=-1)]
    assert names == ["b-role", "admin", "a-role"]
    assert [r["name"] for r in service.find({"name": "a-role"})] == ["a-role"]
    assert service.count({"name": {"$ne": "admin"}}) == 2
    assert service.distinct_names() == ["a-role", "admin", "b-role"]
    with pytest.raises(RoleInvalid):
        service.find({"password": {"$regex": "^\\$argon"}})
    with pytest.raises(RoleInvalid):
        service.count({"password": {"$exists": True}})
    with pytest.raises(RoleInvalid):
        service.find(sort="password")


# --- updating ---


def test_update_changes_etag_and_updated(service, store):
    record = service.create({"name": "r", "realname": "old"})
    result = service.update(record["_id"], record["etag"], {"realname": "new"})
    assert result["realname"] == "new"
    assert result["etag"] != record["etag"]
    assert "updated" in result
    assert service.get(record["_id"])["etag"] == result["etag"]


def test_update_with_same_data_is_no_changes(service, admin):
    fields = {
        "name": "admin",
        "email": "ADMIN@example.com",
        "password": "Birch-Cabin-Keeper-8",
        "perm": ["cop"],
        "role": [],
    }
    assert service.update(admin["_id"], admin["etag"], fields) is None
    assert service.get(admin["_id"])["etag"] == admin["etag"]


def test_stale_etag_is_a_409_conflict(service):
    record = service.create({"name": "r"})
    service.update(record["_id"], record["etag"], {"realname": "one"})
    error = raises(RoleConflict, service.update, record["_id"], record["etag"], {"realname": "two"})
    assert error.status_code == 409
    assert "with etag" in error.message
    error = raises(RoleConflict, service.update, record["_id"], record["etag"], {"realname": "one"})
    assert error.status_code == 409
    error = raises(RoleConflict, service.delete, record["_id"], record["etag"])
    assert "with etag" in error.message
    assert raises(RoleInvalid, service.update, record["_id"], "bad", {}).status_code == 400


def test_update_lower_cases_email_and_clears_fields(service):
    record = user(service, "u", realname="Real")
    result = service.update(record["_id"], record["etag"], {"email": "New@Example.COM", "realname": None})
    assert result["email"] == "new@example.com"
    assert "realname" not in result
    assert "realname" not in service.get(record["_id"])


def test_half_a_user_is_refused_and_both_cleared_make_a_role(service):
    record = user(service, "u")
    error = raises(RoleInvalid, service.update, record["_id"], record["etag"], {"email": None})
    assert "requires email and password" in error.message
    result = service.update(record["_id"], record["etag"], {"email": None, "password": None})
    stored = service.get(record["_id"])
    assert "email" not in result
    assert "email" not in stored and "password" not in stored


def test_password_change_hashes_and_same_password_is_no_change(service):
    record = user(service, "u")
    assert service.update(record["_id"], record["etag"], {"password": "Quiet-Harbor-83"}) is None
    result = service.update(record["_id"], record["etag"], {"password": "Fresh-Granite-66"})
    assert result is not None
    assert verify_password("Fresh-Granite-66", service.get(record["_id"])["password"])


def test_rename_to_existing_name_is_400(service, admin):
    record = service.create({"name": "r"})
    error = raises(RoleInvalid, service.update, record["_id"], record["etag"], {"name": "Admin"})
    assert "exists" in error.message


def test_auth_relevant_changes_are_stamped(service, store):
    role = service.create({"name": "r", "perm": ["app://1"]})
    record = user(service, "u")
    service.update(record["_id"], record["etag"], {"realname": "only cosmetic"})
    assert stamps(store) == set()
    service.update(role["_id"], role["etag"], {"perm": ["app://2"]})
    assert stamps(store) == {role["_id"]}
    etag = service.get(record["_id"])["etag"]
    service.update(record["_id"], etag, {"is_active": False})
    assert stamps(store) == {role["_id"], record["_id"]}
    other = user(service, "other")
    service.delete(other["_id"], other["etag"])
    assert other["_id"] in stamps(store)


def test_update_profile(service, admin, store):
    record = user(service, "u")
    result = service.update_profile(
        service.get(record["_id"]), record["etag"], {"realname": "Me", "password": "Tidal-Compass-19"}
    )
    assert result["realname"] == "Me"
    assert verify_password("Tidal-Compass-19", service.get(record["_id"])["password"])
    assert record["_id"] in stamps(store)
    assert service.update_profile(service.get(record["_id"]), result["etag"], {"realname": "Me"}) is None
    assert service.get(record["_id"])["etag"] == result["etag"]
    assert raises(RoleInvalid, service.update_profile, service.get(record["_id"]), result["etag"], {"perm": ["cop"]})
    assert raises(RoleConflict, service.update_profile, service.get(record["_id"]), record["etag"], {"realname": "y"})
    error = raises(
        RoleInvalid, service.update_profile, service.get(record["_id"]), result["etag"], {"email": "ADMIN@example.com"}
    )
    assert "mail exists" in error.message


# --- deleting ---


def test_delete_pulls_references(service, store):
    r1 = service.create({"name": "r1", "perm": ["app://1"]})
    r2 = service.create({"name": "r2", "perm": ["app://2"], "role": ["r1"]})
    u = user(service, "u", roles=["r1", "r2"])
    service.delete(r1["_id"], r1["etag"])
    assert service.get(r1["_id"]) is None
    detail = service.detail(service.get(u["_id"]))
    assert detail["role"] == ["r2"]
    assert detail["perm_total"] == ["app://2"]
    assert service.get(r2["_id"])["role"] == []
    assert raises(RoleNotFound, service.delete, r1["_id"], r1["etag"]).status_code == 404


def test_delete_removes_the_users_settings(service, store):
    u = user(service, "u")
    store.setting_put(u["_id"], {"language": "DE"})
    service.delete(u["_id"], u["etag"])
    assert store.setting_get(u["_id"]) is None


# --- privileges ---


@pytest.fixture
def manager_doc(service, admin):
    return user(service, "manager", "api://core4flask.roles/u", "api://core4flask.roles/c", "app://x")


@pytest.fixture
def manager(service, manager_doc):
    return service.manager(manager_doc["_id"])


def test_manager_reads_current_permissions(service, manager_doc, manager):
    assert not manager.is_cop
    assert manager.name == "manager"
    assert "app://x" in manager.perms
    assert raises(RoleForbidden, service.manager, new_id()).status_code == 403
    assert service.manager(service.by_name("admin")["_id"]).is_cop


def test_non_cop_cannot_grant_cop(service, manager_doc, manager):
    error = raises(RoleForbidden, service.create, {"name": "x", "perm": ["cop"]}, actor=manager)
    assert error.status_code == 403
    error = raises(
        RoleForbidden, service.update, manager_doc["_id"], manager_doc["etag"], {"perm": ["cop"]}, actor=manager
    )
    assert "cop" in error.message
    assert "cop" not in service.get(manager_doc["_id"])["perm"]


def test_non_cop_grants_only_what_it_holds(service, manager):
    raises(RoleForbidden, service.create, {"name": "x", "perm": ["app://y"]}, actor=manager)
    raises(RoleForbidden, service.create, {"name": "x", "perm": ["api://core4flask.roles"]}, actor=manager)
    raises(RoleForbidden, service.create, {"name": "x", "perm": ["api://core4flask.roles/ud"]}, actor=manager)
    record = service.create({"name": "x", "perm": ["app://x", "api://core4flask.roles.api/u"]}, actor=manager)
    assert record["perm"] == ["app://x", "api://core4flask.roles.api/u"]


def test_non_cop_cannot_grant_roles_carrying_more(service, admin, manager):
    service.create({"name": "admins", "perm": ["cop"]})
    service.create({"name": "wrapper", "role": ["admins"]})
    service.create({"name": "wide", "perm": ["app://y"]})
    service.create({"name": "narrow", "perm": ["app://x"]})
    for role in ("admins", "wrapper"):
        error = raises(RoleForbidden, service.create, {"name": "x", "role": [role]}, actor=manager)
        assert "only a cop may grant role" in error.message
    raises(RoleForbidden, service.create, {"name": "x", "role": ["wide"]}, actor=manager)
    assert service.create({"name": "x", "role": ["narrow"]}, actor=manager)["role"] == ["narrow"]


def test_non_cop_cannot_touch_more_privileged_users(service, admin, manager):
    error = raises(RoleForbidden, service.update, admin["_id"], admin["etag"], {"realname": "x"}, actor=manager)
    assert "more permissions" in error.message
    raises(RoleForbidden, service.delete, admin["_id"], admin["etag"], actor=manager)
    wider = user(service, "wider", "app://x", "app://y")
    raises(RoleForbidden, service.update, wider["_id"], wider["etag"], {"perm": ["app://x"]}, actor=manager)
    narrower = user(service, "narrower", "app://x")
    assert service.update(narrower["_id"], narrower["etag"], {"realname": "ok"}, actor=manager)["realname"] == "ok"
    service.delete(narrower["_id"], service.get(narrower["_id"])["etag"], actor=manager)


def test_cop_may_grant_everything(service, admin, manager_doc):
    cop = service.manager(admin["_id"])
    record = service.create({"name": "x", "perm": ["cop", "app://anything"]}, actor=cop)
    assert record["perm"] == ["cop", "app://anything"]
    service.update(manager_doc["_id"], manager_doc["etag"], {"perm": ["cop"]}, actor=cop)
    assert service.manager(manager_doc["_id"]).is_cop


def test_nobody_deletes_themselves(service, admin, manager_doc, manager):
    error = raises(RoleForbidden, service.delete, manager_doc["_id"], manager_doc["etag"], actor=manager)
    assert error.message == "you cannot delete yourself"
    cop = service.manager(admin["_id"])
    raises(RoleForbidden, service.delete, admin["_id"], admin["etag"], actor=cop)


def test_last_active_cop_is_protected(service, admin):
    for fields in ({"is_active": False}, {"perm": []}):
        error = raises(RoleInvalid, service.update, admin["_id"], admin["etag"], fields)
        assert "last active cop" in error.message
    assert "last active cop" in raises(RoleInvalid, service.delete, admin["_id"], admin["etag"]).message
    second = user(service, "second", "cop")
    service.update(admin["_id"], admin["etag"], {"is_active": False})
    raises(RoleInvalid, service.delete, second["_id"], second["etag"])
    assert not service.get(admin["_id"])["is_active"]


def test_last_cop_through_a_role_is_protected(service):
    admins = service.create({"name": "admins", "perm": ["cop"]})
    user(service, "boss", roles=["admins"])
    raises(RoleInvalid, service.update, admins["_id"], admins["etag"], {"perm": []})
    raises(RoleInvalid, service.update, admins["_id"], admins["etag"], {"is_active": False})
    raises(RoleInvalid, service.delete, admins["_id"], admins["etag"])
    assert service.update(admins["_id"], admins["etag"], {"realname": "fine"})["realname"] == "fine"


# --- bootstrap ---


def config(**api):
    return load_config({"api": api}, environ={})


def test_bootstrap_creates_admin_and_user_role(service, store):
    password = bootstrap(store, config())
    admin = service.by_name("admin")
    assert password and len(password) == 32
    assert verify_password(password, admin["password"])
    assert admin["perm"] == ["cop"]
    assert admin["email"] == "admin@localhost.localdomain"
    assert admin["realname"] == "admin user"
    role = service.by_name("standard_user")
    assert role["perm"] == ["api://core4flask.auth", "api://core4flask.apps"]
    assert "email" not in role and "password" not in role
    assert store.role_count() == 2


def test_bootstrap_never_overwrites(service, store):
    assert bootstrap(store, config(admin_password="hans")) is None
    admin = service.by_name("admin")
    assert verify_password("hans", admin["password"])
    service.update(admin["_id"], admin["etag"], {"realname": "changed"})
    assert bootstrap(store, config(admin_password="other", admin_realname="again")) is None
    again = service.by_name("admin")
    assert again["realname"] == "changed"
    assert verify_password("hans", again["password"])
    assert store.role_count() == 2


def test_bootstrap_uses_configured_names(service, store):
    cfg = config(
        admin_username="Root", admin_email="root@example.org", user_rolename="people", user_permission=["app://p"]
    )
    bootstrap(store, cfg)
    assert service.by_name("root")["email"] == "root@example.org"
    assert service.by_name("people")["perm"] == ["app://p"]


def test_bootstrap_refuses_invalid_configuration(store):
    with pytest.raises(ValueError, match="invalid permission protocol"):
        bootstrap(store, config(user_permission=["bla"]))
    with pytest.raises(ValueError, match="field \\[name\\] must match"):
        bootstrap(store, config(admin_username="a b"))


def test_bootstrap_takes_a_configured_weak_admin_password_with_a_warning(service, store, caplog):
    """The operator's api.admin_password is exempt from the policy (the seed's
    admin/hans keeps working); a weak one is reported without the password."""
    with caplog.at_level("WARNING", logger="core4flask.roles.bootstrap"):
        assert bootstrap(store, config(admin_password="hans")) is None
    assert verify_password("hans", service.by_name("admin")["password"])
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("api.admin_password" in text and "rule [min_length]" in text for text in warnings)
    assert not any("hans" in text for text in warnings)


def test_bootstrap_is_quiet_about_a_strong_admin_password(store, caplog):
    with caplog.at_level("WARNING", logger="core4flask.roles.bootstrap"):
        bootstrap(store, config(admin_password="Granite-Lake-Observatory-5"))
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_bootstrap_refuses_an_impossible_password_policy(store):
    with pytest.raises(ValueError, match="api.password"):
        bootstrap(store, load_config({"api": {"password": {"min_length": 4}}}, environ={}))


def test_passwords_users_set_follow_the_policy(service, admin):
    error = raises(RoleInvalid, service.create, {"name": "weak", "email": "weak@example.com", "password": "hans"})
    assert error.status_code == 400 and "rule [min_length]" in error.message
    record = user(service, "carol")
    for password, rule in (("carol-the-great", "user_name"), ("sunshine", "common"), ("x" * 300, "max_length")):
        error = raises(RoleInvalid, service.update, record["_id"], record["etag"], {"password": password})
        assert f"rule [{rule}]" in error.message
    renamed = raises(
        RoleInvalid, service.update, record["_id"], record["etag"], {"name": "quiet", "password": "Quiet-Harbor-83"}
    )
    assert "rule [user_name]" in renamed.message
    assert verify_password("Quiet-Harbor-83", service.get(record["_id"])["password"])


def test_bootstrap_lost_race_is_not_an_error(service, store):
    class LateStore:
        """Looks empty at first, as to a worker racing another one."""

        def __init__(self, real):
            self.real = real
            self.asked: set[str] = set()

        def role_by_name(self, name):
            if name not in self.asked:
                self.asked.add(name)
                return None
            return self.real.role_by_name(name)

        def __getattr__(self, name):
            return getattr(self.real, name)

    bootstrap(store, config(admin_password="first"))
    assert bootstrap(LateStore(store), config()) is None
    assert verify_password("first", service.by_name("admin")["password"])
    assert store.role_count() == 2


def test_bootstrap_email_taken_by_someone_else(service, store):
    service.create({"name": "other", "email": "admin@localhost.localdomain", "password": "Quiet-Harbor-83"})
    with pytest.raises(ValueError, match="email is taken"):
        bootstrap(store, config())
    with pytest.raises(DuplicateKey):
        store.role_insert({"_id": new_id(), "etag": new_id(), "name": "OTHER"})


def test_profile_fields():
    assert profile_fields({"realname": "x", "email": "a@b.cd", "password": "pw"}) == {
        "realname": "x",
        "email": "a@b.cd",
        "password": "pw",
    }
    for blank in ("", "  ", None):
        assert profile_fields({"email": "", "password": blank}) == {"email": ""}
    assert profile_fields({"password": 5}) == {"password": 5}  # the model refuses its type
    assert raises(RoleInvalid, profile_fields, {"perm": ["cop"]}).message == (
        "field [perm] cannot be changed on the profile"
    )


def test_update_profile_refuses_to_drop_the_email(service, admin):
    record = user(service, "u")
    doc = service.get(record["_id"])
    for fields in ({"email": ""}, {"email": None, "password": ""}, {"email": "", "password": None}):
        error = raises(RoleInvalid, service.update_profile, doc, record["etag"], fields)
        assert error.message == "user role requires email and password"
    assert service.get(record["_id"])["email"] == doc["email"]
