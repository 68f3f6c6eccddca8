"""``/core4/api/v1/profile``: the signed-in user's own record.

Every signed-in user may read it and change its realname, email and
password. A change goes through :meth:`~.model.RoleService.update_profile`,
so the profile keeps the rules of the roles API (a user keeps an email and a
password, names and emails are unique, every new password passes the
password policy, etags are compared). A change of the own password or email
needs the current password, as on the roles API
(:func:`~.validation.confirm_current_password`). Answers are core4's: the
user's detail record with ``token_expires``, or ``"no changes"``.

Browsers get core4's profile page instead (core4's App Manager opens it in a
same-origin frame): the record, the roles and permissions, and a plain HTML
form posted back to the same URL, which answers with a redirect to the page
(post/redirect/get) or the page with the problem named. It runs no script,
so it works under a policy that forbids inline scripts.

Layer: the roles feature; it may use authentication, the request core and the
helpers, never the apps feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from ..auth.authenticator import Authenticator, AuthSession
from ..auth.user import load_user
from ..errors import ArgumentParsingError, HTTPError
from ..handler import CoreRequestHandler
from ..store import normalize_id
from ..templating import package_environment
from ..types import User
from .model import RoleError, RoleService, profile_fields
from .validation import confirm_current_password

__all__ = ["NOTICES", "PERMISSION_GROUPS", "RULES", "ProfileHandler", "forced_theme", "permission_groups"]

#: ``(argument, field)`` of what a profile change may send
_ARGUMENTS = (("realname", "realname"), ("email", "email"), ("passwd", "password"))
#: ``(prefix, heading)`` of the permission groups the profile page shows, in order
PERMISSION_GROUPS = (
    ("api://", "HTTP API access"),
    ("app://", "Application specials"),
    ("job://", "Job access"),
    ("mongodb://", "Database access"),
)
#: What the page says after a change (the ``status`` argument of the redirect);
#: fixed texts, so no URL can make the page say something else
NOTICES = {
    "saved": "Your profile has been saved.",
    "unchanged": "Nothing changed.",
    "password": "Your password has been changed. Your other sessions are signed out.",
}
# the page runs no script and loads only its stylesheet; only its own origin
# may frame it (the App Manager does), which also guards the form from clickjacking
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
}


def permission_groups(perms: Iterable[str]) -> list[tuple[str, list[str]]]:
    """The profile page's permission groups: ``(heading, entries)``, the entries
    sorted and without their prefix; ``cop`` is left out (the page shows it as a
    role), anything of another kind goes under "Other permissions"."""
    grouped: dict[str, list[str]] = {heading: [] for _, heading in PERMISSION_GROUPS}
    other: list[str] = []
    for perm in perms:
        if perm == "cop":
            continue
        heading = next((h for prefix, h in PERMISSION_GROUPS if perm.startswith(prefix)), None)
        if heading is None:
            other.append(perm)
        else:
            grouped[heading].append(perm.split("://", 1)[1])
    groups = [(heading, sorted(grouped[heading])) for _, heading in PERMISSION_GROUPS]
    if other:
        groups.append(("Other permissions", sorted(other)))
    return groups


def forced_theme(dark: Any) -> str | None:
    """``dark`` or ``light`` when the ``dark`` argument (core4's App Manager
    passes its own mode) says so; None follows the browser's preference."""
    if not isinstance(dark, str):
        return None
    value = dark.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return "dark"
    if value in ("false", "0", "no", "off"):
        return "light"
    return None


class ProfileHandler(CoreRequestHandler):
    """The signed-in user's own record.

    Methods:
        GET /profile - the user with ``perm_total``, ``role_total`` and
            ``token_expires``; browsers get the profile page
        PUT /profile - change realname, email or password
        POST /profile - the profile page's form: the fields of PUT plus
            ``passwd_confirm``; browsers are sent back to the page, API
            clients get PUT's answer

    Parameters:
        etag (str): the record's current etag (PUT, required)
        realname (str): new real name (PUT)
        email (str): new email address (PUT)
        passwd (str): new password (PUT; needs ``current_passwd``)
        current_passwd (str): the current password (PUT with ``passwd`` or a
            new ``email``)
        passwd_confirm (str): the new password once more (POST, optional)
        dark (bool): the page's colour scheme (GET; default: the browser's)

    Returns:
        data (dict): the user record (never the password), or
            ``"no changes"``

    Raises:
        400: invalid field, weak password (names the rule), email taken or
            removed, missing or wrong ``current_passwd``, ``passwd_confirm``
            differing from ``passwd``
        401: not signed in
        409: stale ``etag``
    """

    title = "profile"
    author = "core4flask"

    def verify_access(self, method: str | None = None) -> bool:
        """Every signed-in user may see and change their own profile."""
        return True

    def get(self) -> Any:
        """The current user's detail record; browsers get the profile page."""
        record = self._record()
        if self.wants_html():
            notice = NOTICES.get(str(self.get_argument("status", default="")))
            return self.profile_page(record, notice=notice)
        return record

    def post(self) -> Any:
        """The profile page's form; API clients get what PUT answers."""
        confirmation = self.get_argument("passwd_confirm", default=None)
        if not self.wants_html():
            self._check_confirmation(confirmation)
            return self.put()
        password = self.get_argument("passwd", default=None)
        try:
            self._check_confirmation(confirmation)
            result = self.put()
        except HTTPError as exc:
            return self._refused(exc)
        if result == "no changes":
            status = "unchanged"
        else:
            status = "password" if isinstance(password, str) and password.strip() else "saved"
        self.redirect(self._page_url(status), status=303)
        return None

    def put(self) -> Any:
        """Change the own realname, email or password."""
        user = self._signed_in()
        etag = normalize_id(self.get_argument("etag"))
        if etag is None:
            raise ArgumentParsingError("parameter [etag] expected as_type [ObjectId]")
        wanted = {}
        for argument, field in _ARGUMENTS:
            value = self.get_argument(argument, default=None)
            if value is not None:
                wanted[field] = value
        auth, store = self._auth(), self.ext.store
        doc = store.role_get(user._id)
        if doc is None:
            raise HTTPError(404, f"user [{user.name}] not found")
        if doc.get("etag") != etag:
            raise HTTPError(409, f"update [{doc['_id']}] with etag [{etag}] failed")
        fields = profile_fields(wanted)
        confirm_current_password(self, doc["name"], doc.get("email"), fields)
        try:
            updated = RoleService(store).update_profile(doc, etag, fields)
        except RoleError as exc:
            # the profile's errors read as they always did: core4flask.errors.HTTPError
            raise HTTPError(exc.status_code, exc.message) from None
        if updated is None:
            return "no changes"
        return self._changed(auth, doc, password="password" in fields)

    def _changed(self, auth: Authenticator, doc: dict[str, Any], *, password: bool) -> dict[str, Any]:
        """Tell every worker; after a password change, end the older sessions
        and send the user a token of a new one."""
        if password:
            auth.revoke_user(doc["_id"])  # tells every worker, as changed() does
        else:
            auth.changed()
        user = auth.user(doc["_id"])
        if user is None:
            raise HTTPError(404, f"user [{doc['name']}] not found")
        if password:
            issued = auth.issue_token(user)
            if issued is not None:
                session = AuthSession("password", issued[1], issued[0])
                self.apply_authentication(auth.sending(user, session, secure=bool(self.request.is_secure)))
        record = user.detail()
        del record["perm_total"], record["role_total"]
        return record

    def profile_page(
        self,
        record: Mapping[str, Any],
        *,
        notice: str | None = None,
        error: str | None = None,
        entered: Mapping[str, Any] | None = None,
    ) -> None:
        """Render the profile page of ``record`` (the user's detail record)."""
        perm_total = list(record.get("perm_total") or [])
        theme = forced_theme(self.get_argument("dark", default=None))
        template = package_environment().get_template("core4/profile.html")
        body = template.render(
            user=record,
            entered=dict(entered or {}),
            is_cop="cop" in perm_total,
            groups=permission_groups(perm_total),
            notice=notice,
            error=error,
            form_url=self._page_url(None),
            theme=theme,
            static_url_for=lambda name: f"{self.root}/_asset/default/{self.rsc_id}/{name}",
        )
        for key, value in _PAGE_HEADERS.items():
            self.set_header(key, value)
        self.finish_body(body, "text/html; charset=UTF-8")

    def _record(self) -> dict[str, Any]:
        user = self._signed_in()
        store = self.ext.store
        doc = store.role_get(user._id)
        if doc is None:
            raise HTTPError(404, f"user [{user.name}] not found")
        record = load_user(store, doc).detail()
        record["token_expires"] = self.token_exp
        return record

    def _check_confirmation(self, confirmation: Any) -> None:
        if confirmation is None:
            return
        if confirmation != self.get_argument("passwd", default=None):
            raise HTTPError(400, "passwd_confirm differs from passwd: type the new password twice alike")

    def _refused(self, exc: HTTPError) -> None:
        """The page again, with the problem named and the status of ``exc``;
        what the user typed stays, except passwords and after a stale etag
        (then the page shows the record as it is now)."""
        entered = {}
        if exc.status_code != 409:
            entered = {name: self.get_argument(name, default=None) for name in ("realname", "email")}
        self.set_status(exc.status_code)
        for key, value in exc.headers.items():
            self.set_header(key, value)
        message = exc.message or str(exc)
        if exc.status_code == 409:
            message = "The profile was changed meanwhile. This is its current state: make your change again."
        self.profile_page(self._record(), error=message, entered=entered)

    def _page_url(self, status: str | None) -> str:
        """This page's URL, keeping the ``dark`` argument, with a notice's ``status``."""
        query = {}
        dark = self.get_argument("dark", default=None)
        if forced_theme(dark) is not None:
            query["dark"] = str(dark)
        if status is not None:
            query["status"] = status
        return self.request.path + (f"?{urlencode(query)}" if query else "")

    def _signed_in(self) -> User:
        if self.user is None:
            raise self.unauthorized()
        return self.user

    def _auth(self) -> Authenticator:
        auth = self.ext.auth
        if not isinstance(auth, Authenticator):
            raise HTTPError(503, "authentication is not installed")
        return auth


#: The profile rule of the standard container (``/core4/api/v1``).
RULES = [(r"/profile", ProfileHandler)]
