"""``/core4/api/v1/profile``: the signed-in user's own record.

Every signed-in user may read it and change its realname, email and
password. A change goes through :meth:`~.model.RoleService.update_profile`,
so the profile keeps the rules of the roles API (a user keeps an email and a
password, names and emails are unique, every new password passes the
password policy, etags are compared). A change of the own password or email
needs the current password, as on the roles API
(:func:`~.validation.confirm_current_password`). Answers are core4's: the
user's detail record with ``token_expires``, or ``"no changes"``.

Layer: the roles feature; it may use authentication, the request core and the
helpers, never the apps feature.
"""

from __future__ import annotations

from typing import Any

from ..auth.authenticator import Authenticator, AuthSession
from ..auth.user import load_user
from ..errors import ArgumentParsingError, HTTPError
from ..handler import CoreRequestHandler
from ..store import normalize_id
from ..types import User
from .model import RoleError, RoleService, profile_fields
from .validation import confirm_current_password

__all__ = ["RULES", "ProfileHandler"]

#: ``(argument, field)`` of what a profile change may send
_ARGUMENTS = (("realname", "realname"), ("email", "email"), ("passwd", "password"))


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
        400: invalid field, weak password (names the rule), email taken or
            removed, missing or wrong ``current_passwd``
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
        user = self._signed_in()
        store = self.ext.store
        doc = store.role_get(user._id)
        if doc is None:
            raise HTTPError(404, f"user [{user.name}] not found")
        record = load_user(store, doc).detail()
        record["token_expires"] = self.token_exp
        return record

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
