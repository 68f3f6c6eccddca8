"""Validation of user and role fields."""

from __future__ import annotations

import pytest

from core4flask.roles.validation import (
    NAME_MAX_LENGTH,
    RoleValidationError,
    validate_role_fields,
)

USER = {"name": "hans", "email": "hans@example.com", "password": "Velvet-Canyon-52"}
STORED_USER = {
    "_id": "id1",
    "name": "hans",
    "email": "hans@example.com",
    "password": "$argon2id$stored",
    "etag": "e1",
}


def create(**fields):
    return validate_role_fields(fields, creating=True)


def update(existing=None, **fields):
    return validate_role_fields(fields, creating=False, existing=existing)


def error_of(fn, *args, **kwargs) -> str:
    with pytest.raises(RoleValidationError) as info:
        fn(*args, **kwargs)
    return str(info.value)


# --- creation defaults and normalisation ---


def test_create_role_gets_defaults():
    assert create(name="  r1 ") == {
        "name": "r1",
        "realname": None,
        "is_active": True,
        "role": [],
        "perm": [],
    }


def test_create_user_normalises():
    result = create(
        name="hans",
        realname="  Hans Meier ",
        email=" Hans.Meier+Test@Example.COM ",
        password="Velvet-Canyon-52",
        perm=["api://core4flask/r", "app://x", "api://core4flask/r"],
        role=["b", "a", "b"],
        is_active=False,
    )
    assert result == {
        "name": "hans",
        "realname": "Hans Meier",
        "email": "hans.meier+test@example.com",
        "password": "Velvet-Canyon-52",
        "perm": ["api://core4flask/r", "app://x"],
        "role": ["a", "b"],
        "is_active": False,
    }


def test_passwords_are_not_stripped_or_hashed():
    assert create(**{**USER, "password": " s p a c e d  o u t "})["password"] == " s p a c e d  o u t "


def test_blank_values_become_none():
    result = create(name="r", realname="   ", email="  ", password="  ")
    assert result["realname"] is None
    assert result["email"] is None
    assert result["password"] is None


def test_update_returns_only_given_fields():
    assert update(realname=" new ") == {"realname": "new"}
    assert update() == {}


def test_server_fields_pass_and_computed_fields_drop():
    fields = {
        "_id": "id1",
        "etag": "e1",
        "created": "c",
        "updated": "u",
        "last_login": "l",
        "perm_total": ["cop"],
        "role_total": ["x"],
        "name": "r",
    }
    result = validate_role_fields(fields, creating=False)
    assert result == {
        "_id": "id1",
        "etag": "e1",
        "created": "c",
        "updated": "u",
        "last_login": "l",
        "name": "r",
    }


def test_unknown_field_is_refused():
    assert error_of(create, name="r", colour="red") == "unknown field [colour]"


def test_input_is_not_mutated():
    fields = {"name": " r ", "role": ["b", "a"], "perm": ["app://x", "app://x"]}
    validate_role_fields(fields, creating=True)
    assert fields == {"name": " r ", "role": ["b", "a"], "perm": ["app://x", "app://x"]}


# --- name ---


@pytest.mark.parametrize("fields", [{}, {"name": ""}, {"name": "   "}, {"name": None}])
def test_name_is_mandatory_on_create(fields):
    assert error_of(validate_role_fields, fields, creating=True) == ("field [name] is mandatory")


def test_name_cannot_be_blanked_on_update():
    assert error_of(update, name=" ") == "field [name] is mandatory"


@pytest.mark.parametrize(
    "name",
    [
        "two words",
        "tab\there",
        "new\nline",
        "nul\x00",
        "bell\x07",
        "del\x7f",
        "c1\x85c1",
        "zero\u200bwidth",
        "rtl\u202eoverride",
        "no\u00a0break",
        "x" * (NAME_MAX_LENGTH + 1),
    ],
)
def test_bad_names(name):
    assert error_of(create, name=name).startswith("field [name] must match [")


@pytest.mark.parametrize("name", ["admin", "a.b-c_d", "(regex)*[chars]+?", "Ünïcødé", "x" * NAME_MAX_LENGTH])
def test_good_names(name):
    assert create(name=name)["name"] == name


@pytest.mark.parametrize("name", [1, ["a"], True])
def test_name_type(name):
    assert error_of(create, name=name) == "field [name] must be of type [str]"


# --- realname, is_active, role ---


def test_realname_type():
    assert error_of(create, name="r", realname=3) == ("field [realname] must be of type [str]")
    assert create(name="r", realname=None)["realname"] is None


@pytest.mark.parametrize("value", [1, 0, "true", None, "yes"])
def test_is_active_must_be_bool(value):
    assert error_of(create, name="r", is_active=value) == ("field [is_active] must be of type [bool]")


@pytest.mark.parametrize("value", ["r1", None, ("r1",), {"r1": 1}])
def test_role_must_be_a_list(value):
    assert error_of(create, name="r", role=value) == "field [role] must be of type [list]"


def test_role_items_must_be_strings():
    assert error_of(create, name="r", role=["a", 1]) == ("field [role] must be of type [list of str]")


# --- email ---


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("mail@mailer.com", "mail@mailer.com"),
        ("Mail@Mailer.COM", "mail@mailer.com"),
        ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org"),
        ("a_b-c@x-y.example.museum", "a_b-c@x-y.example.museum"),
        ("x@example.technology", "x@example.technology"),
        ("1@2.de", "1@2.de"),
    ],
)
def test_good_emails(given, stored):
    assert create(name="u", email=given)["email"] == stored


@pytest.mark.parametrize(
    "email",
    [
        "no-at-sign",
        "@example.com",
        "a@",
        "a@example",
        "a@example.c",
        "a@example.c0m",
        "a..b@example.com",
        ".a@example.com",
        "a b@example.com",
        "a@-example.com",
        "a@example-.com",
        "a@@example.com",
        "a@example..com",
        "a\n@example.com",
        "a@example.com.",
        "a" * 250 + "@example.com",
    ],
)
def test_bad_emails(email):
    assert error_of(create, name="u", email=email).startswith("field [email] must match [")


def test_email_type():
    assert error_of(create, name="u", email=["a@b.de"]) == ("field [email] must be of type [str]")


# --- users: email and password ---


def test_create_user_with_email_only_is_allowed():
    result = create(name="u", email="u@example.com")
    assert result["email"] == "u@example.com"
    assert "password" not in result


def test_create_password_without_email_is_refused():
    assert error_of(create, name="u", password="Velvet-Canyon-52") == ("user role requires email on creation")
    assert error_of(create, name="u", password="Velvet-Canyon-52", email=" ") == (
        "user role requires email on creation"
    )


def test_create_blank_password_without_email_is_a_role():
    assert create(name="r", password="   ")["password"] is None


def test_update_must_leave_both_or_neither():
    assert error_of(update, password="Velvet-Canyon-52") == "user role requires email and password"
    assert error_of(update, email="u@example.com") == ("user role requires email and password")
    assert update(email="u@example.com", password="Velvet-Canyon-52")["email"] == "u@example.com"


def test_update_considers_the_stored_document():
    assert update(STORED_USER, email="NEW@example.com") == {"email": "new@example.com"}
    assert update(STORED_USER, password="Fresh-Granite-66")["password"] == "Fresh-Granite-66"
    assert error_of(update, STORED_USER, email="") == ("user role requires email and password")
    assert error_of(update, STORED_USER, password=None) == ("user role requires email and password")
    role = {"_id": "r", "name": "r"}
    assert error_of(update, role, password="Velvet-Canyon-52") == ("user role requires email and password")
    assert update(role, perm=["app://x"]) == {"perm": ["app://x"]}


def test_password_type():
    assert error_of(create, **{**USER, "password": 123}) == ("field [password] must be of type [str]")


# --- perm ---


def test_perm_must_be_a_list():
    assert error_of(create, name="r", perm="cop") == "field [perm] must be of type [list]"


@pytest.mark.parametrize("perm", ["bla", "api://x.y/x", "api://x.y/rxc", "app:hello", "COP", "cop\n"])
def test_invalid_permission_message(perm):
    assert error_of(create, name="r", perm=["app://ok", perm]) == (f"invalid permission protocol [{perm}]")


def test_uncompilable_permission_regex():
    message = error_of(create, name="r", perm=["api://core4flask.(api"])
    assert message.startswith("invalid permission protocol [api://core4flask.(api]")


def test_non_string_permission():
    message = error_of(create, name="r", perm=[None])
    assert message.startswith("invalid permission protocol [")


def test_validation_error_is_a_value_error():
    with pytest.raises(ValueError):
        create(name="")


def test_fields_are_checked_in_core4_order():
    # name before email before perm
    assert error_of(create, name="a b", email="bad", perm=["bla"]).startswith("field [name]")
    assert error_of(create, name="ok", email="bad", perm=["bla"]).startswith("field [email]")
