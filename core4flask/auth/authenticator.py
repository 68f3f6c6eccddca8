"""The Authenticator: who is calling, checked cheaply on every request.

``ext.auth.authenticate(handler)`` reads the request's credentials (see
:mod:`.credentials`) and returns what they prove as an immutable
:class:`Authentication` (the :class:`~.user.AuthUser`, the session, a fresh
token to send), or None; the handler applies it to itself and its response.
The authenticator never writes into a handler. Each worker
process keeps two small caches so that a request with a known token needs no
store read:

* user snapshots (document + cascaded permissions) by id, for
  ``api.token.cache_ttl`` seconds (at most one second);
* a :class:`RevocationView` of logged-out sessions and per-user token epochs,
  refreshed from the store's key-value change feed at most once per TTL.

So a logout, password change, deactivation, deletion or permission change
made by any worker takes effect everywhere within two seconds, and at once
in every worker of the same host (see :mod:`.changes`). A store that
cannot be reached raises :class:`~core4flask.store.StoreUnavailable` (503).

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""

from __future__ import annotations

import datetime
import hmac
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Request

from .._pid import current_pid
from ..instance import store_folder
from ..types import CredentialSource, Extension
from .changes import ChangeSignal
from .credentials import find_credentials
from .passwords import hash_password, needs_rehash, random_password, verify_password
from .secret import check_algorithm, resolve_secret, signing_key
from .throttle import LoginThrottle
from .tokens import TokenService, expires_at, token_cookie
from .user import AuthUser, load_user

__all__ = [
    "EPOCH_NAMESPACE",
    "REVOKED_NAMESPACE",
    "AuthSession",
    "Authentication",
    "Authenticator",
    "RevocationView",
]

#: key-value namespace of revoked sessions: ``sid`` → end of validity (epoch s)
REVOKED_NAMESPACE = "auth.revoked"
#: key-value namespace of token epochs: user ``_id`` → tokens issued before are void
EPOCH_NAMESPACE = "auth.epoch"
#: upper bound of ``api.token.cache_ttl``
MAX_CACHE_TTL = 1.0
# change times come from the writers' clocks: re-read this much of the past
_POLL_OVERLAP = datetime.timedelta(seconds=30)
_USER_CACHE_LIMIT = 10000


@dataclass(frozen=True, slots=True)
class AuthSession:
    """How the current request authenticated (``handler.auth_session``)."""

    #: ``token`` or ``password``
    method: str
    #: the claims of the token the client holds after this response
    claims: Mapping[str, Any] | None = None
    #: that token (the presented one, or the one issued by this response)
    token: str | None = None
    #: whether this response already sends ``token`` (header and cookie)
    sent: bool = False


@dataclass(frozen=True, slots=True)
class Authentication:
    """What a request's credentials prove; the handler applies it.

    It sets ``handler.user``, ``current_user``, ``auth_session`` and
    ``token_exp``, and when :attr:`new_token` is set, the ``token`` header
    and the cookie :attr:`token_cookie` (see
    :meth:`core4flask.handler.CoreRequestHandler.apply_authentication`).
    """

    #: the user
    user: AuthUser
    #: how the request authenticated
    session: AuthSession
    #: when the token the client holds after this response expires (None: no token)
    token_exp: datetime.datetime | None = None
    #: a token the response carries (a refresh, or a login's), else None
    new_token: str | None = None
    #: the ``Set-Cookie`` value carrying :attr:`new_token`
    token_cookie: str | None = None


class RevocationView:
    """One worker's copy of the revoked sessions and the users' token epochs."""

    def __init__(self, ttl: float, lifetime: float) -> None:
        #: seconds between polls of the store
        self.ttl = ttl
        #: longest token lifetime: older entries cannot matter any more
        self.lifetime = lifetime
        #: revoked session id → epoch seconds after which the entry may go
        self.sessions: dict[str, float] = {}
        #: user id → epoch seconds; tokens issued earlier are void
        self.epochs: dict[str, float] = {}
        self._since: dict[str, datetime.datetime | None] = {REVOKED_NAMESPACE: None, EPOCH_NAMESPACE: None}
        self._next_poll = 0.0
        self._lock = threading.Lock()

    def revoked(self, claims: Mapping[str, Any]) -> bool:
        """Whether the token with ``claims`` was revoked."""
        sessions = self.sessions
        if claims["sid"] in sessions or claims["jti"] in sessions:
            return True
        return claims["timestamp"] < self.epochs.get(claims["sub"], 0.0)

    def expire(self) -> None:
        """Read the store again at the next :meth:`poll`."""
        self._next_poll = 0.0

    def poll(self, store: Callable[[], Any]) -> None:
        """Read what changed in the store, unless polled less than ``ttl`` ago."""
        if time.monotonic() < self._next_poll:
            return
        with self._lock:
            if time.monotonic() < self._next_poll:
                return
            opened = store()
            for namespace, apply in ((REVOKED_NAMESPACE, self._apply_session), (EPOCH_NAMESPACE, self._apply_epoch)):
                newest = None
                for key, value, changed in opened.kv_changed_since(namespace, self._since[namespace]):
                    apply(key, value)
                    newest = changed if newest is None or changed > newest else newest
                if newest is not None:
                    since = self._since[namespace]
                    self._since[namespace] = max(since, newest - _POLL_OVERLAP) if since else newest - _POLL_OVERLAP
            self._prune(time.time())
            self._next_poll = time.monotonic() + self.ttl

    def add_session(self, sid: str, until: float) -> None:
        """Record a revoked session locally (the store has it already)."""
        self.sessions[sid] = until

    def add_epoch(self, user_id: str, epoch: float) -> None:
        """Record a token epoch locally (the store has it already)."""
        self.epochs[user_id] = max(epoch, self.epochs.get(user_id, 0.0))

    def _apply_session(self, key: str, value: Any) -> None:
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        self.add_session(key, float(number) if number is not None else time.time() + self.lifetime)

    def _apply_epoch(self, key: str, value: Any) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.add_epoch(key, float(value))

    def _prune(self, now: float) -> None:
        for sid in [sid for sid, until in self.sessions.items() if until < now]:
            self.sessions.pop(sid, None)
        horizon = now - self.lifetime - 60
        for user_id in [u for u, epoch in self.epochs.items() if epoch < horizon]:
            self.epochs.pop(user_id, None)


class Authenticator:
    """Authenticates requests and issues, refreshes and revokes tokens."""

    def __init__(self, ext: Extension) -> None:
        self._ext = ext
        config = ext.config
        token = config.get_path("api.token", {}) or {}
        #: the configured token algorithm (HMAC only)
        self.algorithm = check_algorithm(token.get("algorithm", "HS512"))
        #: token lifetime in seconds
        self.expiration = float(token.get("expiration") or 28800)
        #: age in seconds after which a token is replaced by a fresh one
        self.refresh = float(token.get("refresh") or 3600)
        #: seconds after the password login that no token outlives (0: no limit)
        self.session_limit = float(token.get("session_limit") or 0)
        #: seconds a worker serves from its caches
        self.cache_ttl = min(max(float(token.get("cache_ttl") or 0), 0.0), MAX_CACHE_TTL)
        login = config.get_path("api.login", {}) or {}
        #: the failed-login throttle
        self.throttle = LoginThrottle(
            self._store,
            max_failures=int(login.get("max_failures") or 0),
            window=float(login.get("window") or 900),
            backoff=float(login.get("backoff") or 300),
            first_delay=float(login.get("delay") or 1),
        )
        self._tokens: TokenService | None = None
        self._users: dict[str, tuple[float, AuthUser | None]] = {}
        self._revocations = RevocationView(self.cache_ttl, self.expiration)
        self._ready_pid: int | None = None
        self._lock = threading.Lock()
        self._dummy_hash: str | None = None
        self._changes: ChangeSignal | None = None
        #: False where the host application configured flask-jwt-extended itself
        self.tokens_through_extension = True

    def _store(self) -> Any:
        return self._ext.store

    # -- lifecycle ---------------------------------------------------------------
    def ensure_ready(self) -> None:
        """Resolve the secret and bootstrap the admin, once per process.

        Raises :class:`~.secret.SecretError` when no secret may be used and
        ``StoreUnavailable`` when the store is down (then it is tried again).
        """
        if self._ready_pid == current_pid():
            return
        with self._lock:
            pid = current_pid()
            if self._ready_pid == pid:
                return
            secret = resolve_secret(self._ext.config, self._store)
            self._tokens = TokenService(
                signing_key(secret, self.algorithm), self.algorithm, through_extension=self.tokens_through_extension
            )
            self._users.clear()
            self._revocations = RevocationView(self.cache_ttl, self.expiration)
            self._changes = ChangeSignal(self._instance_path())
            for callback in self._ext.on_auth_ready:
                callback(self._ext)
            self._ready_pid = pid

    def _instance_path(self) -> str:
        # beside the embedded store (see core4flask.instance)
        app = getattr(self._ext, "app", None)
        return store_folder(app.instance_path if app is not None else None)

    def _check_changes(self) -> None:
        """Drop the caches when some process of this host changed users or sessions."""
        changes = self._changes
        if changes is not None and changes.changed():
            self._drop_caches()

    def _drop_caches(self) -> None:
        self._users.clear()
        self._revocations.expire()

    def changed(self) -> None:
        """Users, roles or sessions changed in the store: no worker may trust
        its caches any longer (call it after the store write)."""
        self._drop_caches()
        if self._changes is not None:
            self._changes.notify()

    @property
    def tokens(self) -> TokenService:
        """The token service of this process."""
        self.ensure_ready()
        assert self._tokens is not None
        return self._tokens

    def signing_key(self) -> bytes:
        """The key tokens are signed with (for flask-jwt-extended's loaders)."""
        return self.tokens.key

    # -- requests ----------------------------------------------------------------
    def authenticate(self, source: CredentialSource) -> Authentication | None:
        """What the credentials of ``source``'s request prove, or None.

        The credential arguments are taken out of ``source.arguments``. A
        token due for refresh comes back with a fresh one to send. Raises 429
        while a password login is throttled.
        """
        if self._ready_pid != current_pid():
            self.ensure_ready()
        changes = self._changes
        if changes is not None and changes.changed():
            self._drop_caches()
        credentials = find_credentials(source)
        if credentials is None:
            return None
        if credentials.token is None:
            return self._password_login(source.request, credentials.username or "", credentials.password or "")
        return self._token_login(source.request, credentials.token)

    def login(self, source: CredentialSource) -> Authentication | None:
        """Authenticate and hand out a token (a new session for a password).

        The token is the result's ``session.token``; the result sends it.
        """
        found = self.authenticate(source)
        if found is None:
            return None
        session = found.session
        if session.method == "password":
            issued = self.issue_token(found.user)
            if issued is None:
                return None
            session = AuthSession("password", issued[1], issued[0])
        if session.sent or session.token is None or session.claims is None:
            return found
        return self.sending(found.user, session, secure=bool(source.request.is_secure))

    def logout(self, session: object | None) -> None:
        """Revoke the session of a token login (on every worker); nothing for a password."""
        if isinstance(session, AuthSession) and session.claims is not None:
            self.revoke_session(session.claims)

    def check_password(self, address: str | None, name: str, password: Any) -> bool:
        """Whether ``password`` is the password of user ``name``, throttled like a
        login from ``address``."""
        return self._verified(address, name, password) is not None

    def _verified(self, address: str | None, name: str, password: Any) -> dict[str, Any] | None:
        """The document of user ``name`` if ``password`` is right (throttled).

        The attempt is counted before the slow verification: concurrent
        guesses cannot all pass a check that only sees finished failures.
        """
        attempt = self.throttle.reserve(name, address)
        doc = self._store().role_by_name(name)
        if not self._password_matches(doc, password):
            attempt.failed()
            return None
        attempt.succeeded()
        return dict(doc or {})

    def _password_login(self, request: Request, username: str, password: str) -> Authentication | None:
        doc = self._verified(request.remote_addr, username, password)
        if doc is None:
            return None
        store = self._store()
        stamp: dict[str, Any] = {"last_login": store.now()}
        if needs_rehash(doc["password"]):
            stamp["password"] = hash_password(password)
        store.role_touch(doc["_id"], stamp)
        doc.update(stamp)
        user = self._build_user(doc)
        self._cache_user(doc["_id"], user)
        return Authentication(user, AuthSession("password"))

    def _password_matches(self, doc: Mapping[str, Any] | None, password: Any) -> bool:
        stored = doc.get("password") if doc is not None else None
        if doc is None or not doc.get("is_active", True) or not isinstance(stored, str):
            # spend the same time as a real check: no user enumeration by timing
            verify_password(str(password or "-"), self._dummy())
            return False
        return verify_password(password, stored)

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(random_password())
        return self._dummy_hash

    def _token_login(self, request: Request, token: str) -> Authentication | None:
        tokens = self._tokens  # authenticate() made it; the property would check again
        claims = tokens.decode(token) if tokens is not None else None
        if claims is None:
            return None
        self._revocations.poll(self._store)
        if self._revocations.revoked(claims):
            return None
        user = self.user(claims["sub"])
        if user is None or claims["pwv"] != user.password_tag:
            return None
        now = time.time()
        if now - claims["timestamp"] > self.refresh and self._session_open(claims["auth_time"], now):
            issued = self.issue_token(user, auth_time=claims["auth_time"], sid=claims["sid"])
            if issued is not None:
                return self.sending(user, AuthSession("token", issued[1], issued[0]), secure=bool(request.is_secure))
        return Authentication(user, AuthSession("token", claims, token), token_exp=expires_at(claims))

    def _session_open(self, auth_time: float, now: float) -> bool:
        return not self.session_limit or now < auth_time + self.session_limit

    # -- tokens --------------------------------------------------------------------
    def issue_token(
        self, user: AuthUser, *, auth_time: float | None = None, sid: str | None = None
    ) -> tuple[str, Mapping[str, Any]] | None:
        """A new token for ``user`` and its claims; None past the session limit.

        Without ``auth_time`` and ``sid`` the token starts a new session.
        Needs an application context.
        """
        now = time.time()
        auth_time = now if auth_time is None else auth_time
        lifetime = self.expiration
        if self.session_limit:
            lifetime = min(lifetime, auth_time + self.session_limit - now)
        if lifetime < 1:
            return None
        jti = uuid.uuid4().hex
        claims = {
            "jti": jti,
            "name": user.name,
            "timestamp": now,
            "auth_time": auth_time,
            "sid": sid or jti,
            "pwv": user.password_tag,
        }
        token = self.tokens.issue(user._id, claims, lifetime)
        decoded = self.tokens.decode(token)
        return None if decoded is None else (token, decoded)

    def sending(self, user: AuthUser, session: AuthSession, *, secure: bool) -> Authentication:
        """The authentication of ``user`` that sends the token of ``session``
        (header ``token`` and the cookie, ``Secure`` over HTTPS)."""
        token, claims = session.token, session.claims
        if token is None or claims is None:
            raise ValueError("a session without a token has nothing to send")
        cookie = token_cookie(token, math.ceil(claims["exp"] - time.time()), secure=secure)
        sent = AuthSession(session.method, claims, token, sent=True)
        return Authentication(user, sent, token_exp=expires_at(claims), new_token=token, token_cookie=cookie)

    def revoke_session(self, claims: Mapping[str, Any]) -> None:
        """Void every token of the session ``claims`` belongs to, on every worker."""
        store = self._store()
        until = time.time() + self.expiration
        expires = store.now() + datetime.timedelta(seconds=self.expiration + 60)
        store.kv_set(REVOKED_NAMESPACE, claims["sid"], until, expires=expires)
        self._revocations.add_session(claims["sid"], until)
        self.changed()

    def revoke_user(self, user_id: str) -> None:
        """Void every token of a user issued until now (e.g. after a password change)."""
        store = self._store()
        epoch = time.time()
        expires = store.now() + datetime.timedelta(seconds=self.expiration + 60)
        store.kv_set(EPOCH_NAMESPACE, user_id, epoch, expires=expires)
        self._revocations.add_epoch(user_id, epoch)
        self.changed()

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        """Whether a decoded session token was revoked (for flask-jwt-extended)."""
        self.ensure_ready()
        if not all(isinstance(claims.get(k), str) for k in ("sid", "jti", "sub")):
            return False
        if not isinstance(claims.get("timestamp"), int | float):
            return False
        self._check_changes()
        self._revocations.poll(self._store)
        return self._revocations.revoked(claims)

    # -- users ---------------------------------------------------------------------
    def user(self, user_id: str) -> AuthUser | None:
        """The active user with this id (cached for ``cache_ttl``), or None."""
        entry = self._users.get(user_id)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        doc = self._store().role_get(user_id)
        user = self._build_user(doc) if doc is not None and doc.get("is_active", True) else None
        self._cache_user(user_id, user)
        return user

    def forget(self, user_id: str) -> None:
        """Drop a user from this worker's cache (after changing it)."""
        self._users.pop(user_id, None)

    def _build_user(self, doc: Mapping[str, Any]) -> AuthUser:
        return load_user(self._store(), doc, self._password_tag(doc.get("password")))

    def _password_tag(self, stored: Any) -> str:
        if not isinstance(stored, str) or not stored:
            return ""
        return hmac.new(self.tokens.key, stored.encode("utf-8"), "sha256").hexdigest()[:32]

    def _cache_user(self, user_id: str, user: AuthUser | None) -> None:
        if self.cache_ttl <= 0:
            return
        now = time.monotonic()
        if len(self._users) >= _USER_CACHE_LIMIT:
            for stale in [k for k, (deadline, _) in self._users.items() if deadline <= now]:
                self._users.pop(stale, None)
            if len(self._users) >= _USER_CACHE_LIMIT:
                self._users.clear()
        self._users[user_id] = (now + self.cache_ttl, user)
