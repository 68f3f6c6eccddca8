"""The operator commands ``flask users ...``."""

from __future__ import annotations

import pytest

from core4flask import create_app
from core4flask.auth.passwords import verify_password
from core4flask.roles.bootstrap import bootstrap
from core4flask.roles.cli import register_cli
from core4flask.roles.model import AUTH_CHANGES_NS


@pytest.fixture
def app(tmp_path):
    app = create_app(config={"api": {"admin_password": "hans"}}, instance_path=str(tmp_path))
    register_cli(app)
    ext = app.extensions["core4flask"]
    bootstrap(ext.store, ext.config)
    return app


@pytest.fixture
def store(app):
    return app.extensions["core4flask"].store


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args, input=None):
        group = [] if args and args[0] == "roles" else ["users"]
        return runner.invoke(args=[*group, *args], input=input)

    return invoke


def test_create_with_password_perms_and_roles(run, store):
    result = run(
        "create", "hans", "--email", "Hans@Example.com", "--password", "Velvet-Canyon-52",
        "--perm", "app://x", "--perm", "api://my.api", "--role", "standard_user", "--realname", "Hans Wurst",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "created user [hans]" in result.output
    doc = store.role_by_name("hans")
    assert doc["email"] == "hans@example.com"
    assert doc["perm"] == ["app://x", "api://my.api"]
    assert doc["role"] == [store.role_by_name("standard_user")["_id"]]
    assert verify_password("Velvet-Canyon-52", doc["password"])


def test_create_prompts_for_the_password(run, store):
    result = run("create", "quiet", "--email", "quiet@example.com", input="Silver-Otter-Pond-5\nSilver-Otter-Pond-5\n")
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert verify_password("Silver-Otter-Pond-5", store.role_by_name("quiet")["password"])


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("--perm", "bla"), "invalid permission protocol [bla]"),
        (("--role", "nope"), "role [nope] not found"),
        (("--email", "admin@localhost.localdomain"), "name or email exists"),
        (("--email", "not-a-mail"), "field [email] must match"),
    ],
)
def test_create_is_validated_like_the_api(run, store, args, text):
    base = ["create", "x", "--password", "Quiet-Harbor-83"]
    if "--email" not in args:
        base += ["--email", "x@example.com"]
    result = run(*base, *args)
    assert result.exit_code == 1
    assert text in result.output
    assert store.role_by_name("x") is None


def test_create_needs_an_email(run):
    result = run("create", "x", "--password", "Quiet-Harbor-83")
    assert result.exit_code == 2
    assert "--email" in result.output


def test_passwd(run, store):
    result = run("passwd", "admin", "--password", "Fresh-Granite-66")
    assert result.exit_code == 0, result.output
    assert verify_password("Fresh-Granite-66", store.role_by_name("admin")["password"])
    result = run("passwd", "admin", input="Newer-Granite-77\nNewer-Granite-77\n")
    assert result.exit_code == 0, result.output
    assert verify_password("Newer-Granite-77", store.role_by_name("admin")["password"])
    assert store.role_by_name("admin")["_id"] in {key for key, *_ in store.kv_changed_since(AUTH_CHANGES_NS, None)}
    result = run("passwd", "nobody", "--password", "x")
    assert result.exit_code == 1
    assert "role [nobody] not found" in result.output


@pytest.mark.parametrize(
    ("command", "password", "rule"),
    [
        (("create", "weakling", "--email", "weakling@example.com"), "pw", "min_length"),
        (("create", "weakling", "--email", "weakling@example.com"), "football", "common"),
        (("passwd", "admin"), "admin-admin", "user_name"),
        (("passwd", "admin"), "Password1", "common"),
    ],
)
def test_cli_passwords_follow_the_policy(run, store, command, password, rule):
    """``users create`` and ``users passwd`` go through the same validation as the API."""
    before = store.role_by_name("admin")["password"]
    for how in ({"args": (*command, "--password", password)}, {"args": command, "input": f"{password}\n{password}\n"}):
        result = run(*how["args"], input=how.get("input"))
        assert result.exit_code == 1
        assert f"rule [{rule}]" in result.output
    assert store.role_by_name("weakling") is None
    assert store.role_by_name("admin")["password"] == before


def test_cli_follows_the_configured_minimum(tmp_path):
    app = create_app(
        config={"api": {"admin_password": "hans", "password": {"min_length": 16}}}, instance_path=str(tmp_path)
    )
    runner = app.test_cli_runner()
    short = runner.invoke(args=["users", "passwd", "admin", "--password", "Quiet-Harbor-83"])
    assert short.exit_code == 1 and "at least 16 characters" in short.output
    long = runner.invoke(args=["users", "passwd", "admin", "--password", "Quiet-Harbor-83-Pier"])
    assert long.exit_code == 0, long.output


def test_passwd_of_a_role_is_refused(run):
    result = run("passwd", "standard_user", "--password", "x")
    assert result.exit_code == 1
    assert "requires email and password" in result.output


def test_grant_and_revoke(run, store):
    assert run("grant", "standard_user", "app://a", "app://b").exit_code == 0
    assert store.role_by_name("standard_user")["perm"][-2:] == ["app://a", "app://b"]
    result = run("grant", "standard_user", "app://a")
    assert "no changes" in result.output
    result = run("revoke", "standard_user", "app://a", "app://zzz")
    assert result.exit_code == 0
    assert "does not hold [app://zzz]" in result.output
    assert "app://a" not in store.role_by_name("standard_user")["perm"]
    result = run("grant", "standard_user", "nonsense")
    assert result.exit_code == 1
    assert "invalid permission protocol [nonsense]" in result.output


def test_last_active_cop_cannot_be_revoked_or_deactivated(run, store):
    for args in (("revoke", "admin", "cop"), ("deactivate", "admin")):
        result = run(*args)
        assert result.exit_code == 1
        assert "last active cop" in result.output
    assert store.role_by_name("admin")["is_active"] is True
    run("create", "second", "--email", "second@example.com", "--password", "Quiet-Harbor-83", "--perm", "cop")
    assert run("deactivate", "admin").exit_code == 0
    assert store.role_by_name("admin")["is_active"] is False
    assert run("activate", "admin").exit_code == 0
    assert store.role_by_name("admin")["is_active"] is True


def test_list(run):
    run("create", "hans", "--email", "hans@example.com", "--password", "Quiet-Harbor-83", "--role", "standard_user")
    result = run("list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "STATE", "EMAIL", "ROLES", "PERMS"]
    assert lines[1].split() == ["admin", "user", "active", "admin@localhost.localdomain", "-", "cop"]
    assert lines[2].split()[:5] == ["hans", "user", "active", "hans@example.com", "standard_user"]
    assert lines[3].split()[:4] == ["standard_user", "role", "active", "-"]
    assert "$argon2" not in result.output
    assert "password" not in result.output.lower()


def test_a_fresh_installation_is_bootstrapped_by_the_first_command(tmp_path):
    # no server ever ran here: the CLI creates admin and standard_user first,
    # and prints a generated admin password once
    fresh = create_app(instance_path=str(tmp_path / "fresh"))
    runner = fresh.test_cli_runner()
    created = runner.invoke(
        args=[
            "users",
            "create",
            "alice",
            "--email",
            "alice@example.org",
            "--password",
            "Ruby-Meadow-Lantern-1",
            "--role",
            "standard_user",
        ]
    )
    assert created.exit_code == 0, created.output
    assert "admin password: " in created.output
    listed = runner.invoke(args=["users", "list"])
    assert listed.exit_code == 0
    assert "admin" in listed.output and "standard_user" in listed.output and "alice" in listed.output
    assert "admin password: " not in listed.output


def test_roles_create_list_and_delete(run, store):
    result = run("roles", "create", "analysts", "--perm", "api://reports", "--realname", "the analysts")
    assert result.exit_code == 0, result.output
    assert "created role [analysts]" in result.output
    role = store.role_by_name("analysts")
    assert role["perm"] == ["api://reports"] and "email" not in role and "password" not in role
    result = run("roles", "create", "seniors", "--role", "analysts", "--perm", "app://client/x")
    assert result.exit_code == 0, result.output
    result = run(
        "create", "hans", "--email", "hans@example.com", "--password", "Pewter-Harbor-Quince-9", "--role", "analysts"
    )
    assert result.exit_code == 0, result.output
    listed = run("roles", "list")
    assert listed.exit_code == 0
    names = [line.split()[0] for line in listed.output.splitlines()[1:]]
    assert names == ["analysts", "seniors", "standard_user"]  # roles only, no users
    deleted = run("roles", "delete", "analysts", "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert "deleted role [analysts]" in deleted.output
    assert store.role_by_name("analysts") is None
    # who included the role lost it
    assert store.role_by_name("hans")["role"] == []
    assert store.role_by_name("seniors")["role"] == []


def test_roles_are_validated_like_the_api(run, store):
    for args, text in [
        (("roles", "create", "bad name"), "field [name]"),
        (("roles", "create", "x", "--perm", "bla"), "invalid permission protocol [bla]"),
        (("roles", "create", "x", "--role", "nope"), "role [nope] not found"),
        (("roles", "create", "standard_user"), "name or email exists"),
    ]:
        result = run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert text in result.output, (args, result.output)
    assert store.role_by_name("x") is None


def test_delete_asks_and_knows_users_from_roles(run, store):
    assert run("create", "hans", "--email", "hans@example.com", "--password", "Amber-Lagoon-Fjord-7").exit_code == 0
    refused = run("delete", "hans", input="n\n")
    assert refused.exit_code == 1 and store.role_by_name("hans") is not None
    wrong_group = run("roles", "delete", "hans", "--yes")
    assert wrong_group.exit_code == 1 and "is a user: use `users delete`" in wrong_group.output
    assert run("delete", "standard_user", "--yes").exit_code == 1
    assert store.role_by_name("standard_user") is not None
    confirmed = run("delete", "hans", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert store.role_by_name("hans") is None
    assert run("delete", "nobody", "--yes").exit_code == 1


def test_the_last_active_cop_cannot_be_deleted(run, store):
    result = run("delete", "admin", "--yes")
    assert result.exit_code == 1 and "last active cop" in result.output
    assert store.role_by_name("admin") is not None
