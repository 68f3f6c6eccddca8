"""A pytest plugin for testing core4flask applications, built on pytest-flask.

Enable it in your ``conftest.py``::

    pytest_plugins = ["core4flask.testing"]

and say which containers to serve::

    @pytest.fixture
    def core4_containers():
        return (MyServer,)

Fixtures:

* ``core4_config`` - the configuration dict (a random admin password and
  token secret); override it to change settings.
* ``core4_containers`` - the containers to serve (default: none besides the
  standard container).
* ``app`` - pytest-flask's application fixture: ``create_app()`` with those
  containers on a throw-away SQLite store in the test's ``tmp_path``.
  pytest-flask's ``client`` fixture works with it.
* ``core4_login(perm=[...], name=None)`` - a factory returning a Flask test
  client logged in (``Authorization: Bearer``) as a new user holding exactly
  those permissions. The client's ``core4_user`` attribute describes the user.

The plugin never writes into a real store. ``core4_login`` works with an
``app`` fixture of your own too (an application using ``Core4(app)``): it
first moves that application to a throw-away SQLite store in the test's
``tmp_path``, whatever its instance folder or ``mongo_url`` say.

:func:`create_user` and :func:`issue_token` are usable without the fixtures,
on an application whose store :func:`use_throwaway_store` replaced; on any
other they refuse (``RuntimeError``) rather than write test users into real
data.

Layer: entry point; it may use every layer below (see the README's Layout).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
import pytest
from flask.testing import FlaskClient

from .app import create_app
from .auth.passwords import hash_password
from .roles.validation import validate_role_fields
from .store import new_id, open_store

__all__ = [
    "CreatedUser",
    "app",
    "core4_config",
    "core4_containers",
    "core4_login",
    "create_user",
    "issue_token",
    "use_throwaway_store",
]


@dataclass(frozen=True)
class CreatedUser:
    """A user made by :func:`create_user`."""

    #: the user's id
    _id: str
    #: the user name
    name: str
    #: the plain password
    password: str
    #: the stored document (with the password hash)
    doc: dict[str, Any]


def _ext(app: flask.Flask) -> Any:
    return app.extensions["core4flask"]


def use_throwaway_store(app: flask.Flask, folder: str | Path) -> None:
    """Serve ``app``'s users from a new SQLite store in ``folder`` (idempotent).

    Whatever the application's instance folder or ``mongo_url``, the test
    helpers then read and write only there.
    """
    ext = _ext(app)
    if getattr(ext, "throwaway_store", None) is not None:
        return
    store = open_store(None, str(folder))
    store.setup()
    ext.use_store(store)
    # whatever else core4flask keeps beside the store goes there too
    app.instance_path = str(folder)
    ext.throwaway_store = store


def _test_store(app: flask.Flask) -> Any:
    """The application's store, if it is a throw-away one; else refuse."""
    ext = _ext(app)
    if getattr(ext, "throwaway_store", None) is None:
        raise RuntimeError(
            "core4flask.testing writes test users only into a throw-away store: use the core4_login "
            "fixture or call use_throwaway_store(app, tmp_path) first"
        )
    return ext.store


def create_user(
    app: flask.Flask,
    name: str | None = None,
    *,
    perm: Iterable[str] = (),
    role: Iterable[str] = (),
    password: str | None = None,
    email: str | None = None,
    is_active: bool = True,
) -> CreatedUser:
    """Insert a user with exactly ``perm`` and the roles named in ``role``.

    Raises ValueError for invalid fields or an unknown role name.
    """
    store = _test_store(app)
    name = name or f"user-{secrets.token_hex(4)}"
    password = password or secrets.token_urlsafe(16)
    fields = validate_role_fields(
        {
            "name": name,
            "email": email or f"user-{secrets.token_hex(6)}@example.com",
            "password": password,
            "perm": list(perm),
            "is_active": is_active,
        },
        creating=True,
    )
    role_ids = []
    for role_name in role:
        found = store.role_by_name(role_name)
        if found is None:
            raise ValueError(f"role [{role_name}] not found")
        role_ids.append(found["_id"])
    doc = {
        **fields,
        "_id": new_id(),
        "etag": new_id(),
        "password": hash_password(password),
        "role": role_ids,
        "created": store.now(),
    }
    store.role_insert({k: v for k, v in doc.items() if v is not None})
    return CreatedUser(doc["_id"], fields["name"], password, doc)


def issue_token(app: flask.Flask, user_id: str) -> str:
    """A session token for the (active) user ``user_id``, as a login would give."""
    _test_store(app)
    auth = _ext(app).auth
    with app.app_context():
        user = auth.user(user_id)
        if user is None:
            raise ValueError(f"no active user [{user_id}]")
        issued = auth.issue_token(user)
    if issued is None:
        raise ValueError("no token could be issued (check api.token.session_limit)")
    return issued[0]


@pytest.fixture
def core4_config() -> dict[str, Any]:
    """The configuration of the ``app`` fixture; override to change settings."""
    return {"api": {"admin_password": secrets.token_urlsafe(16), "token": {"secret": secrets.token_urlsafe(64)}}}


@pytest.fixture
def core4_containers() -> tuple[type, ...]:
    """The containers the ``app`` fixture serves besides the standard one."""
    return ()


@pytest.fixture
def app(core4_containers: Iterable[type], core4_config: dict[str, Any], tmp_path: Path) -> Iterator[flask.Flask]:
    """The application under test, on a throw-away SQLite store.

    A ``mongo_url`` from the environment or a local config file is ignored:
    tests never write users into a real database.
    """
    config = {**core4_config, "mongo_url": None}
    folder = tmp_path / "core4-instance"
    application = create_app(*core4_containers, config=config, instance_path=str(folder))
    application.testing = True
    use_throwaway_store(application, folder)
    yield application
    _ext(application).throwaway_store.close()


@pytest.fixture
def core4_login(app: flask.Flask, tmp_path: Path) -> Iterator[Callable[..., FlaskClient]]:
    """Factory: ``core4_login(perm=[...], name=None)`` → a logged-in test client.

    An ``app`` fixture of the project's own is moved to a throw-away store first.
    """
    if getattr(_ext(app), "throwaway_store", None) is None:
        use_throwaway_store(app, tmp_path / "core4-login-store")
        moved = _ext(app).throwaway_store
    else:
        moved = None

    def login(perm: Iterable[str] = (), name: str | None = None, **fields: Any) -> FlaskClient:
        user = create_user(app, name, perm=perm, **fields)
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(app, user._id)}"
        client.core4_user = user  # type: ignore[attr-defined]
        return client

    yield login
    if moved is not None:
        moved.close()
