"""``CoreRequestHandler``: the MethodView users subclass.

One instance serves one request. The dispatch flow mirrors core4's
``prepare``: a request ``_id``, CORS preflight, core4's pseudo-methods
(``XCARD``, ``XHELP``, ``XENTER`` serve the resource's pages), the ``?_help``
redirect, authentication and authorisation for protected handlers, the method itself
(sync or ``async def``), and the reply. Every exception on the way becomes a
response in :mod:`core4flask.errors`.

The handler is composed of mixins: arguments, response, templating and the
card/help/enter pages. It asks the extension's authenticator (``ext.auth``)
what a request's credentials prove and applies the answer itself
(:meth:`CoreRequestHandler.apply_authentication`); what it sets while it
serves lives in the request's state (``request.core4_state``).

Layer: the request core (below the container and static/tenant, above the
pages and the mixins); it knows nothing of authentication or the features.
"""

from __future__ import annotations

import datetime
import inspect
import os
import re
from typing import Any
from urllib.parse import quote

import flask
from flask.views import MethodView
from werkzeug.wrappers import Response as WerkzeugResponse

from ._async import Done, run_async_method
from .arguments import ArgumentsMixin
from .config import ConfigDict, class_section
from .errors import HTTPError, Redirect, error_response
from .identifiers import new_identifier as new_identifier
from .identifiers import utcnow as utcnow
from .negotiation import best_match
from .pages import PSEUDO_METHOD_PAGES, PagesMixin
from .paths import project_of, qual_name_of
from .resource import Resource
from .response import ResponseMixin
from .state import STATE_ATTRIBUTE, RequestState
from .templating import TemplateMixin
from .types import Authentication, Extension, User

#: HTTP methods a handler class may implement, in documentation order.
HTTP_METHODS = ("get", "post", "put", "delete", "patch", "options", "head")
#: The root of the standard API container.
STANDARD_ROOT = "/core4/api/v1"
#: Where browsers are sent to sign in (when the standard API is mounted).
LOGIN_URL = STANDARD_ROOT + "/login"
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class CoreRequestHandler(ArgumentsMixin, ResponseMixin, TemplateMixin, PagesMixin, MethodView):
    """Base class of core4flask request handlers.

    Subclasses implement ``get``/``post``/``put``/``delete``/``patch`` and answer
    with :meth:`reply`, :meth:`render`, :meth:`download`, :meth:`redirect` or by
    returning a value.
    """

    #: require an authenticated and authorised user
    protected: bool = True
    #: title of the handler (mini application)
    title: str | None = None
    #: subtitle; listings show the qual_name when empty
    subtitle: str | None = None
    #: author of the handler
    author: str | None = None
    #: tags; ``api`` hides the handler from the launcher
    tag: list[str] = ["api"]  # noqa: RUF012 - never mutated, copied per resource
    #: Material Design icon name
    icon: str = "mdi-circle-medium"
    #: landing page URL; the handler's GET when empty
    enter_url: str | None = None
    #: description overriding the class docstring
    doc: str | None = None
    #: single page application flag (metadata)
    spa: bool = False
    #: widget size (metadata)
    res: int = 11
    #: ``blank`` opens the mini application in a new window
    target: str | None = None
    #: template folder: relative to the module, ``/x`` from the project root
    template_path: str | None = None
    #: static folder: relative to the module, ``/x`` from the project root
    static_path: str | None = None
    #: logger level of the handler
    log_level: str | None = None
    #: which qual_name permissions are checked against: handler or container
    perm_base: str = "handler"
    #: attributes a rule's kwargs may override
    propagate: tuple[str, ...] = (
        "protected",
        "title",
        "subtitle",
        "author",
        "tag",
        "icon",
        "enter_url",
        "doc",
        "spa",
        "res",
        "target",
        "template_path",
        "static_path",
        "log_level",
    )

    def __init__(self, resource: Resource | None = None, request: flask.Request | None = None) -> None:
        if request is None:
            request = flask.request._get_current_object()  # type: ignore[attr-defined]
        self.request = request
        #: what error rendering and the access log read: ``_id``, flash, headers, arguments
        self.state = RequestState()
        setattr(request, STATE_ATTRIBUTE, self.state)
        #: the signed-in user (protected handlers; None before authentication)
        self.user: User | None = None
        #: how the request authenticated (see :meth:`apply_authentication`)
        self.auth_session: object | None = None
        #: when the client's token expires (None: no token)
        self.token_exp: datetime.datetime | None = None
        self.resource = resource
        self._ext: Extension | None
        if resource is not None:
            self.__dict__.update(resource.props)
            self.rsc_id: str | None = resource.rsc_id
            self.root: str = resource.root
            self._ext = resource.ext
        else:
            self.rsc_id = None
            self.root = ""
            self._ext = flask.current_app.extensions.get("core4flask")

    # -- identity ----------------------------------------------------------------
    @property
    def identifier(self) -> str:
        """The request ``_id`` (24 hex digits), the ``_id`` of every envelope."""
        return self.state.identifier

    @property
    def started_at(self) -> float:
        """When the request started, epoch seconds."""
        return self.state.started_at

    @property
    def started(self) -> datetime.datetime:
        """When the request started, as naive UTC."""
        return self.state.started

    @property
    def current_user(self) -> str | None:
        """The signed-in user's name (None before authentication)."""
        return self.state.current_user

    @current_user.setter
    def current_user(self, name: str | None) -> None:
        self.state.current_user = name

    @property
    def _flash(self) -> list[dict[str, Any]]:
        # core4 handlers (and their templates, as ``_flash``) read the messages here
        return self.state.flash

    @classmethod
    def qual_name(cls) -> str:
        """``module.ClassName``; permissions are matched against it."""
        return qual_name_of(cls)

    @property
    def project(self) -> str:
        """The top-level package of the handler's module."""
        return project_of(type(self))

    @property
    def ext(self) -> Extension:
        """The ``Core4`` extension serving this handler (its store, its hooks)."""
        if self._ext is None:
            raise RuntimeError("no Core4 extension serves this handler: add Core4(app) to the application")
        return self._ext

    @property
    def config(self) -> ConfigDict:
        """The core4flask configuration."""
        return self._ext.config if self._ext is not None else ConfigDict()

    @property
    def class_config(self) -> ConfigDict:
        """The configuration section at this handler's qual_name path."""
        if self.resource is not None:
            return self.resource.class_config
        return class_section(self.config, self.qual_name())

    @property
    def application(self) -> Any:
        """The resource: ``application.container`` is the container class."""
        return self.resource

    @property
    def _debug(self) -> bool:
        return bool(self.config.get_path("api.setting.debug", False))

    # -- dispatch ---------------------------------------------------------------------
    def dispatch_request(self, *args: Any, **kwargs: Any) -> WerkzeugResponse:
        """Flask's entry point (also used with ``as_view`` outside containers)."""
        return self.run(args, kwargs)

    def run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> WerkzeugResponse:
        """Serve the request with the given URL arguments."""
        request = self.request
        method = request.method
        try:
            if method == "OPTIONS":
                # a preflight needs no credentials; a handler's own options() still answers it
                own = callable(getattr(type(self), "options", None))
                return self.make_response(self.call_method(method, args, kwargs) if own else None)
            if self.resource is not None and method in PSEUDO_METHOD_PAGES:
                return self.run_page(PSEUDO_METHOD_PAGES[method])
            if self.resource is not None and request.query_string and "_help" in request.args:
                return flask.redirect(f"{self.root}/_info/help/{self.rsc_id}", 302)
            self.prepare_protection()
            result = self.prepare()
            if result is None and not self._answered():
                result = self.call_method(method, args, kwargs)
            return self.make_response(result)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error response
            return error_response(exc, self.state)

    def call_method(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call the handler method for an HTTP method (405 if undefined)."""
        func = getattr(self, method.lower(), None)
        if func is None and method == "HEAD":
            func = getattr(self, "get", None)
        if func is None or method.lower() not in HTTP_METHODS:
            raise HTTPError(405, headers={"Allow": ", ".join(self.allowed_methods())})
        if _is_async(type(self), func.__name__):
            return run_async_method(func, *args, **kwargs)
        return func(*args, **kwargs)

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The HTTP methods this class answers."""
        allowed = [m.upper() for m in HTTP_METHODS if callable(getattr(cls, m, None))]
        if "GET" in allowed and "HEAD" not in allowed:
            allowed.append("HEAD")
        if "OPTIONS" not in allowed:
            allowed.append("OPTIONS")
        return allowed

    def _answered(self) -> bool:
        return self._body is not None or self._response is not None

    def prepare(self) -> Any:
        """Hook run after authentication, before the method; return a value
        (or answer) to skip the method."""
        return None

    # -- authentication and authorisation ---------------------------------------------
    def prepare_protection(self) -> None:
        """Authenticate and authorise the request of a protected handler."""
        self.prepare_protection_for(self.request.method)

    def prepare_protection_for(self, pseudo_method: str) -> None:
        """Authenticate and authorise a request for a method or a page (``CARD``, ...)."""
        if not self.protected:
            return
        user = self.require_login()
        if not self.verify_access(pseudo_method):
            raise HTTPError(403, f"user [{user.name}] has no access to [{self.qual_name()}]")

    def require_login(self) -> User:
        """The request's user; 401 (browsers: the login page) without valid credentials."""
        auth = self._ext.auth if self._ext is not None else None
        found = auth.authenticate(self) if auth is not None else None
        if found is None:
            raise self.unauthorized()
        return self.apply_authentication(found)

    def apply_authentication(self, found: Authentication) -> User:
        """Take what authentication found: the user, the session, and a fresh
        token for the response (header ``token`` and the cookie)."""
        user = found.user
        self.user = user
        self.current_user = user.name
        self.auth_session = found.session
        self.token_exp = found.token_exp
        if found.new_token is not None:
            self.set_header("token", found.new_token)
            if found.token_cookie is not None:
                self.add_header("Set-Cookie", found.token_cookie)
        return user

    def verify_access(self, method: str | None = None) -> bool:
        """Whether the user may use this handler with this HTTP method."""
        user = self.user
        return user is not None and user.has_api_access(self.qual_name(), method or self.request.method)

    def unauthorized(self) -> Exception:
        """401 for API clients; browsers (a page, or a form they send) go to the login page.

        HEAD is always 401: no browser navigates with it, and the contract
        promises 401 for an unauthenticated HEAD.
        """
        request = self.request
        accept = request.environ.get("HTTP_ACCEPT", "")
        if request.method != "HEAD" and best_match(accept) == "text/html":
            target = quote(request.full_path if request.query_string else request.path, safe="/")
            return Redirect(f"{self.login_url()}?next={target}")
        return HTTPError(
            401,
            "login required: send a token or username and password",
            headers={"WWW-Authenticate": 'Bearer realm="core4flask"'},
        )

    def login_url(self) -> str:
        """Where browsers sign in: the standard API's login page, else this container's."""
        ext = self._ext
        if ext is not None and ext.container_of(STANDARD_ROOT) is not None:
            return LOGIN_URL
        return f"{self.root}/login"

    # -- files ------------------------------------------------------------------------
    def download(self, source: str | os.PathLike[str], filename: str | None = None, chunk_size: int = 1 << 20) -> Done:
        """Send a file as an attachment, streamed; ``await`` is optional."""
        path = os.path.abspath(os.fspath(source))
        if not os.path.isfile(path):
            raise HTTPError(404, f"file [{os.path.basename(path)}] not found")
        # a line break in a header would end it: no file name needs one
        name = _CONTROL_CHARACTERS.sub("_", os.path.basename(filename or path))
        self._response = flask.send_file(
            path,
            mimetype="application/octet-stream",
            as_attachment=True,
            download_name=name,
            conditional=True,
            max_age=0,
        )
        self._response.direct_passthrough = True
        return Done()


_ASYNC_METHODS: dict[tuple[type, str], bool] = {}


def _is_async(cls: type, name: str) -> bool:
    """Whether a handler method is ``async def`` (cached per class)."""
    key = (cls, name)
    found = _ASYNC_METHODS.get(key)
    if found is None:
        found = _ASYNC_METHODS[key] = inspect.iscoroutinefunction(getattr(cls, name, None))
    return found
