"""Operator commands for users and roles, for when nobody can use the web API.

``register_cli(app)`` adds the ``users`` and ``roles`` groups to
``flask --app wsgi``::

    flask --app wsgi users create NAME --email E [--password P] [--perm P]... [--role R]...
    flask --app wsgi users passwd NAME [--password P]
    flask --app wsgi users grant NAME PERM...
    flask --app wsgi users revoke NAME PERM...
    flask --app wsgi users list
    flask --app wsgi users deactivate NAME
    flask --app wsgi users activate NAME
    flask --app wsgi users delete NAME [--yes]
    flask --app wsgi roles create NAME [--perm P]... [--role R]... [--realname R]
    flask --app wsgi roles list
    flask --app wsgi roles delete NAME [--yes]

(``grant``, ``revoke``, ``activate`` and ``deactivate`` take a user or a
role.) The operator is not limited by privileges, but every change goes
through the same service and validation as the REST API (passwords meet the
same policy), and the last active cop cannot be removed. Password hashes are
never printed; passwords are prompted for unless given.

Layer: the roles feature; it may use authentication, the request core and the
helpers, never the apps feature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click
import flask
from flask.cli import AppGroup

from core4flask.store.base import StoreError

from .bootstrap import bootstrap
from .model import RoleError, RoleService

__all__ = ["register_cli", "roles", "users"]

T = TypeVar("T")

#: the ``users`` command group
users = AppGroup("users", help="Manage users (and the permissions of roles) in the core4flask store.")
#: the ``roles`` command group
roles = AppGroup("roles", help="Manage roles in the core4flask store.")


def register_cli(app: flask.Flask) -> None:
    """Add the ``users`` and ``roles`` command groups to ``app``'s ``flask`` command line."""
    app.cli.add_command(users)
    app.cli.add_command(roles)


def _service() -> RoleService:
    """The role service on the app's store, bootstrapped like a first start.

    A fresh installation has no admin and no standard role until a server
    started; the CLI creates them too, and prints a generated admin
    password once, as the server does.
    """
    ext = flask.current_app.extensions["core4flask"]
    generated = _run(bootstrap, ext.store, ext.config)
    if generated:
        click.echo(f"admin password: {generated}", err=True)
    return RoleService(ext.store)


def _run(action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a service method; refusals become a clean error and exit status 1."""
    try:
        return action(*args, **kwargs)
    except RoleError as exc:
        raise click.ClickException(exc.message or str(exc)) from None
    except StoreError as exc:
        raise click.ClickException(f"store error: {exc}") from None


def _update(name: str, fields: dict[str, Any]) -> dict | None:
    service = _service()
    doc = _run(service.require_name, name)
    return _run(service.update, doc["_id"], doc["etag"], fields)


def _prompt_password() -> str:
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create")
@click.argument("name")
@click.option("--email", required=True, help="email address of the user")
@click.option("--password", default=None, help="password; prompted for when missing")
@click.option("--realname", default=None, help="full name")
@click.option("--perm", "perms", multiple=True, metavar="PERM", help="a permission (repeatable)")
@click.option("--role", "roles", multiple=True, metavar="ROLE", help="a role name (repeatable)")
def create_user(
    name: str, email: str, password: str | None, realname: str | None, perms: Iterable[str], roles: Iterable[str]
) -> None:
    """Create the user NAME."""
    fields = {
        "name": name,
        "email": email,
        "password": password if password is not None else _prompt_password(),
        "realname": realname,
        "perm": list(perms),
        "role": list(roles),
    }
    record = _run(_service().create, fields)
    click.echo(f"created user [{record['name']}] with id {record['_id']}")


@users.command("passwd")
@click.argument("name")
@click.option("--password", default=None, help="new password; prompted for when missing")
def set_password(name: str, password: str | None) -> None:
    """Set a new password for the user NAME."""
    if password is None:
        password = _prompt_password()
    result = _update(name, {"password": password})
    click.echo(f"password of [{name}] {'unchanged' if result is None else 'changed'}")


@users.command("grant")
@click.argument("name")
@click.argument("perms", nargs=-1, required=True, metavar="PERM...")
def grant(name: str, perms: tuple[str, ...]) -> None:
    """Add permissions to the user or role NAME."""
    doc = _run(_service().require_name, name)
    wanted = list(dict.fromkeys([*(doc.get("perm") or ()), *perms]))
    result = _update(name, {"perm": wanted})
    _report(name, result)


@users.command("revoke")
@click.argument("name")
@click.argument("perms", nargs=-1, required=True, metavar="PERM...")
def revoke(name: str, perms: tuple[str, ...]) -> None:
    """Remove permissions from the user or role NAME."""
    doc = _run(_service().require_name, name)
    held = list(doc.get("perm") or ())
    for perm in perms:
        if perm not in held:
            click.echo(f"warning: [{name}] does not hold [{perm}]", err=True)
    result = _update(name, {"perm": [p for p in held if p not in perms]})
    _report(name, result)


@users.command("activate")
@click.argument("name")
def activate(name: str) -> None:
    """Let the user NAME log in again (or re-enable the role NAME)."""
    _report(name, _update(name, {"is_active": True}))


@users.command("deactivate")
@click.argument("name")
def deactivate(name: str) -> None:
    """Stop the user NAME from logging in (or disable the role NAME)."""
    _report(name, _update(name, {"is_active": False}))


@users.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def delete_user(name: str, yes: bool) -> None:
    """Delete the user NAME."""
    _delete(name, yes, user=True)


@users.command("list")
def list_users() -> None:
    """List every user and role with its permissions."""
    _print_records(_run(_service().find, sort="name"))


@roles.command("create")
@click.argument("name")
@click.option("--realname", default=None, help="description of the role")
@click.option("--perm", "perms", multiple=True, metavar="PERM", help="a permission (repeatable)")
@click.option("--role", "parents", multiple=True, metavar="ROLE", help="a role it includes (repeatable)")
def create_role(name: str, realname: str | None, perms: Iterable[str], parents: Iterable[str]) -> None:
    """Create the role NAME (a role has no email and no password)."""
    fields = {"name": name, "realname": realname, "perm": list(perms), "role": list(parents)}
    record = _run(_service().create, fields)
    click.echo(f"created role [{record['name']}] with id {record['_id']}")


@roles.command("list")
def list_roles() -> None:
    """List every role with its permissions."""
    _print_records(_run(_service().find, {"email": {"$exists": False}}, sort="name"))


@roles.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def delete_role(name: str, yes: bool) -> None:
    """Delete the role NAME; users and roles that included it lose it."""
    _delete(name, yes, user=False)


def _delete(name: str, yes: bool, *, user: bool) -> None:
    service = _service()
    doc = _run(service.require_name, name)
    kind = "user" if doc.get("email") else "role"
    if (kind == "user") != user:
        raise click.ClickException(f"[{name}] is a {kind}: use `{kind}s delete`")
    if not yes:
        click.confirm(f"delete {kind} [{name}]?", abort=True)
    _run(service.delete, doc["_id"], doc["etag"])
    click.echo(f"deleted {kind} [{name}]")


def _print_records(records: list[dict]) -> None:
    rows = [
        (
            record["name"],
            "user" if record.get("email") else "role",
            "active" if record.get("is_active", True) else "inactive",
            record.get("email", "-"),
            ",".join(record.get("role") or ()) or "-",
            ",".join(record.get("perm") or ()) or "-",
        )
        for record in records
    ]
    header = ("NAME", "KIND", "STATE", "EMAIL", "ROLES", "PERMS")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


def _report(name: str, result: dict | None) -> None:
    if result is None:
        click.echo(f"[{name}]: no changes")
        return
    state = "active" if result.get("is_active", True) else "inactive"
    perms = ", ".join(result.get("perm") or ()) or "-"
    click.echo(f"[{name}] is {state}; perm: {perms}")
