"""Login, logout and profile: the self-service endpoints of the standard container.

``RULES`` mounts them at ``/core4/api/v1``; :func:`~.setup.install` adds
``/login`` and ``/logout`` to every other container root as well. Response
shapes are core4's: ``data.token`` for a login, ``data: "OK"`` for a logout,
the user's detail record for the profile.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from ..errors import ArgumentParsingError, HTTPError
from ..handler import CoreRequestHandler
from ..templating import package_environment
from .credentials import CREDENTIAL_ARGUMENTS
from .passwords import hash_password
from .user import load_user

__all__ = ["RULES", "LoginHandler", "LogoutHandler", "ProfileHandler", "safe_next"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="core4flask"'}
# the page may run its own inline style and script, talk to this site only,
# and never be framed (clickjacking)
_LOGIN_PAGE_POLICY = (
    "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def safe_next(value: Any, default: str = "/") -> str:
    """``value`` if it is a path on this site (``/x``), else ``default``.

    Refuses absolute URLs, scheme-relative ``//host`` and ``/\\host``
    (browsers treat a backslash as a slash) and control characters.
    """
    if not isinstance(value, str) or not value.startswith("/") or value[1:2] in ("/", "\\"):
        return default
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


class LoginHandler(CoreRequestHandler):
    """Signs a user in and hands out a session token.

    Credentials come from Basic auth, ``username`` and ``password``
    arguments (query string or JSON body), or a valid token. Browsers get
    the login page.

    Methods:
        GET /login - the login page for browsers, else like POST
        POST /login - sign in

    Parameters:
        username (str): the user name (matched exactly, ignoring case)
        password (str): the password
        next (str): where the login page goes after signing in

    Returns:
        data (dict): ``token``, also sent in the ``token`` header and as an
            HttpOnly cookie

    Raises:
        401: wrong or missing credentials
        429: too many failed logins; see ``Retry-After``
    """

    protected = False
    title = "login"
    author = "core4flask"

    def get(self) -> Any:
        """The login page for browsers without credentials; else sign in."""
        if self.wants_html() and not self._has_credentials():
            return self.login_page()
        return self._login()

    def post(self) -> Any:
        """Sign in."""
        return self._login()

    def _has_credentials(self) -> bool:
        if self.request.headers.get("Authorization"):
            return True
        return any(self.arguments.get(name) for name in CREDENTIAL_ARGUMENTS)

    def _login(self) -> dict[str, str]:
        result = self._ext.auth.login(self)
        if result is None:
            raise HTTPError(401, "wrong username, password or token", headers=_CHALLENGE)
        self.user, token = result
        self.current_user = self.user.name
        return {"token": token}

    def login_page(self) -> None:
        """Render the HTML login page."""
        nonce = secrets.token_urlsafe(16)
        template = package_environment().get_template("core4/login.html")
        body = template.render(
            login_url=self.request.path,
            next_url=safe_next(self.get_argument("next", default=None)),
            nonce=nonce,
        )
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Security-Policy", _LOGIN_PAGE_POLICY.format(nonce=nonce))
        self.set_header("X-Frame-Options", "DENY")
        self.finish_body(body, "text/html; charset=UTF-8")


class LogoutHandler(CoreRequestHandler):
    """Signs the user out: the token's session is revoked on every server
    and the cookie is cleared.

    Methods:
        GET /logout - sign out (browsers go to the login page)
        POST /logout - sign out

    Returns:
        data (str): ``OK``

    Raises:
        401: not signed in
    """

    title = "logout"
    author = "core4flask"

    def verify_access(self, method: str | None = None) -> bool:
        """Any signed-in user may sign out."""
        return True

    def get(self) -> Any:
        """Sign out; browsers are sent to the login page."""
        self._ext.auth.logout(self)
        if self.wants_html():
            self.redirect(self.login_url())
            return None
        return "OK"

    def post(self) -> str:
        """Sign out."""
        self._ext.auth.logout(self)
        return "OK"


class ProfileHandler(CoreRequestHandler):
    """The signed-in user's own record.

    Methods:
        GET /profile - the user with ``perm_total``, ``role_total`` and
            ``token_expires``
        PUT /profile - change realname, email or password

    Parameters:
        etag (str): the record's current etag (PUT, required)
        realname (str): new real name (PUT)
        email (str): new email address (PUT)
        passwd (str): new password (PUT; needs ``current_passwd``)
        current_passwd (str): the current password (PUT with ``passwd`` or a
            new ``email``)

    Returns:
        data (dict): the user record (never the password), or
            ``"no changes"``

    Raises:
        400: invalid field, weak password (names the rule), email taken,
            missing or wrong ``current_passwd``
        401: not signed in
        409: stale ``etag``
    """

    title = "profile"
    author = "core4flask"

    def verify_access(self, method: str | None = None) -> bool:
        """Every signed-in user may see and change their own profile."""
        return True

    def get(self) -> dict[str, Any]:
        """The current user's detail record."""
        store = self._ext.store
        doc = store.role_get(self.user._id)
        if doc is None:
            raise HTTPError(404, f"user [{self.user.name}] not found")
        record = load_user(store, doc).detail()
        record["token_expires"] = self.token_exp
        return record

    def put(self) -> Any:
        """Change the own realname, email or password."""
        from ..roles.validation import RoleValidationError, confirm_current_password, validate_role_fields
        from ..store import DuplicateKey, new_id, normalize_id

        etag = normalize_id(self.get_argument("etag"))
        if etag is None:
            raise ArgumentParsingError("parameter [etag] expected as_type [ObjectId]")
        wanted = {}
        for argument, field in (("realname", "realname"), ("email", "email"), ("passwd", "password")):
            value = self.get_argument(argument, default=None)
            if value is not None:
                wanted[field] = value
        store, auth = self._ext.store, self._ext.auth
        doc = store.role_get(self.user._id)
        if doc is None:
            raise HTTPError(404, f"user [{self.user.name}] not found")
        if doc.get("etag") != etag:
            raise HTTPError(409, f"update [{doc['_id']}] with etag [{etag}] failed")
        confirm_current_password(self, doc["name"], doc.get("email"), wanted)
        try:
            clean = validate_role_fields(wanted, creating=False, existing=doc)
        except RoleValidationError as exc:
            raise HTTPError(400, str(exc)) from None
        fields, unset = _changes(doc, clean)
        if not fields and not unset:
            return "no changes"
        fields.update(etag=new_id(), updated=store.now())
        try:
            updated = store.role_update(doc["_id"], etag, fields, unset)
        except DuplicateKey:
            raise HTTPError(400, "name or email exists") from None
        if not updated:
            raise HTTPError(409, f"update [{doc['_id']}] with etag [{etag}] failed")
        if "password" in fields:
            auth.revoke_user(doc["_id"])  # tells every worker, as changed() does
        else:
            auth.changed()
        user = auth.user(doc["_id"])
        if user is None:
            raise HTTPError(404, f"user [{doc['name']}] not found")
        if "password" in fields:
            issued = auth.issue_token(user)
            if issued is not None:
                auth.send_token(self, *issued)
        record = user.detail()
        del record["perm_total"], record["role_total"]
        return record


def _changes(doc: dict[str, Any], clean: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The fields to set and to remove for the validated profile fields."""
    fields: dict[str, Any] = {}
    unset: list[str] = []
    for key, value in clean.items():
        if key == "password":
            if value is not None:
                fields["password"] = hash_password(value)
        elif value is None:
            if doc.get(key) is not None:
                unset.append(key)
        elif doc.get(key) != value:
            fields[key] = value
    return fields, unset


#: The self-service rules of the standard container (``/core4/api/v1``).
RULES = [
    (r"/login", LoginHandler),
    (r"/logout", LogoutHandler),
    (r"/profile", ProfileHandler),
]
