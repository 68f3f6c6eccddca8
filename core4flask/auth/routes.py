"""Login and logout: the sign-in endpoints of the standard container.

``RULES`` mounts them at ``/core4/api/v1``; :func:`~.setup.install` adds
``/login`` and ``/logout`` to every other container root as well. Response
shapes are core4's: ``data.token`` for a login, ``data: "OK"`` for a logout.
The profile endpoint belongs to the roles feature
(:mod:`core4flask.roles.profile`), where the rules of a user record live.

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from ..errors import HTTPError
from ..handler import CoreRequestHandler
from ..templating import package_environment
from .authenticator import Authenticator
from .credentials import CREDENTIAL_ARGUMENTS
from .tokens import expired_token_cookie

__all__ = ["RULES", "LoginHandler", "LogoutHandler", "safe_next"]

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
        found = self._auth().login(self)
        if found is None:
            raise HTTPError(401, "wrong username, password or token", headers=_CHALLENGE)
        self.apply_authentication(found)
        return {"token": str(found.session.token)}

    def _auth(self) -> Authenticator:
        auth = self.ext.auth
        if not isinstance(auth, Authenticator):
            raise HTTPError(503, "authentication is not installed")
        return auth

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
        self.sign_out()
        if self.wants_html():
            self.redirect(self.login_url())
            return None
        return "OK"

    def post(self) -> str:
        """Sign out."""
        self.sign_out()
        return "OK"

    def sign_out(self) -> None:
        """Revoke the session (token logins), drop any fresh token and clear the cookie."""
        auth = self.ext.auth
        if isinstance(auth, Authenticator):
            auth.logout(self.auth_session)
        self.clear_header("token")
        self.clear_header("Set-Cookie")
        self.add_header("Set-Cookie", expired_token_cookie(secure=bool(self.request.is_secure)))
        self.token_exp = None


#: The sign-in rules of the standard container (``/core4/api/v1``).
RULES = [
    (r"/login", LoginHandler),
    (r"/logout", LogoutHandler),
]
