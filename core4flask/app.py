"""The Flask glue: the ``Core4`` extension and ``create_app``.

``Core4(app)`` (or ``Core4()`` and ``init_app(app)``, for any number of
applications) adds core4flask to any Flask application: ``register()``
mounts containers as Blueprints, with the first of them core4's standard API
at ``/core4/api/v1`` (login, profile, roles, settings, probes), plus the
``flask users``/``flask roles`` commands and, when asked, the launcher.
``create_app()`` builds a complete application with the standard container
(login, profile, roles, settings, ``_info``) and the launcher at ``/``.
``init_app`` installs authentication, the roles and the mini applications,
each by filling the extension's hooks (see :class:`Core4`).

Layer: the composition root, the one module that knows every part; below it
the standard containers, the features, authentication, the request core and
the helpers.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import flask
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response as WerkzeugResponse

from . import accesslog, cors
from . import store as stores
from ._malloc import return_large_blocks
from ._pid import current_pid
from .apps.routes import CoreAppManager
from .apps.setup import install as install_apps
from .auth.setup import install as install_auth
from .config import ConfigDict, load_config
from .container import ROUTE_METHODS, ContainerApp, CoreApiContainer, Resource, RestConverter, SetupError
from .errors import HTTPError, error_response
from .identifiers import new_identifier
from .instance import application_module, default_instance_path, store_folder
from .proxies import trust_proxies
from .response import Core4Response
from .roles.cli import register_cli
from .roles.setup import install as install_roles
from .server import CoreApiServer, standard_containers
from .state import STATE_ATTRIBUTE
from .static import guard_flask_static
from .store.base import SQLITE_FILENAME
from .types import Entries, Rule

log = logging.getLogger("core4flask")

EXTENSION = "core4flask"
CORS_HEADERS = "access-control-allow-origin,authorization,content-type"
CORS_METHODS = "GET, POST, PUT, DELETE, PATCH, OPTIONS"
#: seconds between attempts to open a store that could not be opened
STORE_RETRY = 1.0
#: the largest request body (and form part held in memory) ``create_app`` takes: core4's 100 MB
MAX_BODY_SIZE = 100 * 1024 * 1024
#: the most fields a form may have (core4 had no such limit; the body size bounds it)
MAX_FORM_PARTS = 100_000


class Core4:
    """The core4flask Flask extension.

    ``cli`` adds the ``users`` and ``roles`` command groups; ``launcher``
    mounts the launcher (True: at ``/``; a string: at that root);
    ``standard_api=False`` leaves ``/core4/api/v1`` out. The state of one
    application is ``app.extensions["core4flask"]``.

    The composition root: the one place that knows every part. The request
    core (:mod:`core4flask.container`, :mod:`core4flask.handler` and what
    they use) knows nothing of authentication or the features; they reach it
    by filling these hooks when ``init_app`` installs them:

    ``auth``
        The authenticator (:class:`core4flask.types.Authenticator`). Filled by
        :func:`core4flask.auth.setup.install`. A protected handler calls
        ``ext.auth.authenticate(handler)`` once per request and applies what
        it returns; None leaves every protected handler answering 401.
    ``leading_rules``
        Rules every container gets before its own, when it is registered; a
        container rule with the same pattern is a setup error. Filled by
        :func:`core4flask.apps.setup.install` with ``<root>/_info``.
    ``automatic_rules``
        Rules every container gets after its own, when it is registered; a
        container's own rule with the same pattern wins. Filled by
        :func:`core4flask.auth.setup.install` with ``<root>/login`` and
        ``<root>/logout``.
    ``registry_entries``
        ``registry_entries(ext, environ)`` returns the listing entries of
        every live server sharing the store, their addresses published as
        :mod:`core4flask.apps.registry` says (``api.routing``, else the
        server's own name and port in the WSGI ``environ``, never the Host
        header); a card or help page shows its resource's entry (core4's
        shape), or only its own meta data when the hook is None or fails.
        Filled by :func:`core4flask.apps.setup.install`.
    ``on_auth_ready``
        ``callback(ext)``, once per process when authentication gets ready
        (the store open, the secret resolved), before the first credentials
        are checked; a callback raising ``StoreUnavailable`` runs again with
        the next request. Filled by :func:`core4flask.roles.setup.install`
        (the admin user and the default user role).
    ``on_prepare``
        ``callback(ext)``, once before serving starts (``serve()``, gunicorn's
        master). Filled by :func:`core4flask.auth.setup.install`, which gets
        authentication ready there: a missing secret stops the start.
    ``on_start`` / ``on_stop``
        ``callback(ext, port)`` in every serving process once it listens, and
        ``callback(ext)`` when it stops (in reverse order). Filled by
        :func:`core4flask.apps.setup.install` (the registry's publication and
        heartbeat).
    """

    def __init__(
        self,
        app: flask.Flask | None = None,
        *containers: type[CoreApiContainer],
        config: Mapping[str, Any] | None = None,
        standard_api: bool = True,
        cli: bool = True,
        launcher: bool | str = False,
    ) -> None:
        self.app: flask.Flask | None = None
        #: containers registered on this extension: mounted into every
        #: application it is initialised with, before and after registration
        self.registered: list[type[CoreApiContainer]] = []
        #: the state of each further application (``init_app`` of a second app)
        self._other_apps: list[weakref.ref[Core4]] = []
        self._config_overrides = config
        self._standard_requested = standard_api
        #: add the ``users`` and ``roles`` commands to ``flask``
        self.cli = cli
        #: mount the launcher: at ``/`` when True, at the root a string names
        self.launcher = launcher
        #: mount the standard API container (``/core4/api/v1``) with the first
        #: registered container; ``create_app`` mounts the standard containers itself
        self.standard_api = standard_api
        self._standard_mounted: type[CoreApiContainer] | None = None
        self.config: ConfigDict = ConfigDict()
        #: every resource of every registered container, by rsc_id
        self.resources: dict[str, Resource] = {}
        #: the registered containers, in registration order
        self.containers: list[ContainerApp] = []
        #: static rules of fixed container paths: (path, endpoint, serving container)
        self._fixed_routes: list[tuple[str, str, ContainerApp]] = []
        # the hooks (see the class docstring)
        #: the authenticator; None until installed
        self.auth: Any = None
        #: rules every container gets before its own (``<root>/_info``)
        self.leading_rules: list[Rule] = []
        #: rules every container gets after its own (``<root>/login``, ``<root>/logout``)
        self.automatic_rules: list[Rule] = []
        #: ``registry_entries(ext, environ)``: listing entries of every live server
        self.registry_entries: Callable[[Any, Mapping[str, Any]], Entries] | None = None
        #: callbacks run once per serving process: ``on_start(ext, port)``
        self.on_start: list[Callable[[Any, int | None], None]] = []
        #: callbacks run when a serving process stops: ``on_stop(ext)``
        self.on_stop: list[Callable[[Any], None]] = []
        #: callbacks run once before serving starts (first start of an installation)
        self.on_prepare: list[Callable[[Any], None]] = []
        #: callbacks run once per process when authentication gets ready (admin bootstrap)
        self.on_auth_ready: list[Callable[[Any], None]] = []
        self._store: Any = None
        self._store_pid: int | None = None
        self._store_lock = threading.Lock()
        self._store_failed: tuple[int, float, str] | None = None
        if app is not None:
            self.init_app(app, config=config)
        if containers:
            self.register(*containers)

    def init_app(self, app: flask.Flask, config: Mapping[str, Any] | None = None) -> Core4:
        """Attach core4flask to ``app`` (configuration, converters, auth, CLI).

        Works for any number of applications (the app-factory pattern): the
        first one is served by this object, each further one by a new
        ``Core4`` with the same settings and registered containers. Either
        way the application's state is ``app.extensions["core4flask"]``,
        which this method also returns.
        """
        if self.app is not None and self.app is not app:
            state = Core4(config=self._config_overrides, standard_api=self._standard_requested)
            state.cli, state.launcher = self.cli, self.launcher
            state.init_app(app, config=config)
            if self.registered:
                state.register(*self.registered)
            self._other_apps.append(weakref.ref(state))
            return state
        self.app = app
        overrides = config if config is not None else app.config.get("CORE4", self._config_overrides)
        self.config = load_config(overrides)
        app.extensions[EXTENSION] = self
        app.url_map.converters["c4rest"] = RestConverter
        #: no CORS headers of core4's: ``api.allow_origin: ""`` or flask-cors (see core4flask.cors)
        self._cors_off: bool | None = None
        allow_origin = self.config.api.allow_origin
        self._cors_headers = (
            ("Access-Control-Allow-Origin", "*" if allow_origin is None else str(allow_origin)),
            ("Access-Control-Allow-Headers", CORS_HEADERS),
            ("Access-Control-Allow-Methods", CORS_METHODS),
        )
        # browsers may read the token header of a response that carries one
        self._cors_token_headers = (*self._cors_headers, ("Access-Control-Expose-Headers", "token"))
        #: access lines (and error records) as JSON objects: ``api.log_format: json``
        self.json_log = self.config.api.log_format == "json"
        accesslog.configure(bool(self.config.api.access_log), str(self.config.api.log_format))
        install_auth(self)
        install_roles(self)
        install_apps(self)
        if HTTPException not in app.error_handler_spec[None][None]:
            app.register_error_handler(HTTPException, _container_error)
        if self.cli:
            register_cli(app)
        if self.registered:
            self._mount(*self.registered)
        if self.launcher:
            self._mount_launcher()
        return self

    # -- containers ------------------------------------------------------------------
    def register(self, *containers: type[CoreApiContainer]) -> list[ContainerApp]:
        """Mount containers (classes) as Blueprints at their roots, in every
        application this extension serves (and will be initialised with)."""
        for container in containers:
            if not (isinstance(container, type) and issubclass(container, CoreApiContainer)):
                raise SetupError(f"expected a CoreApiContainer subclass, not [{container!r}]")
        self.registered.extend(c for c in containers if c not in self.registered)
        if self.app is None:
            return []  # mounted by init_app()
        mounted = self._mount(*containers)
        for other in self._other_apps:
            state = other()
            if state is not None:
                state.register(*containers)
        return mounted

    def _mount(self, *containers: type[CoreApiContainer]) -> list[ContainerApp]:
        """Mount containers in this extension's application."""
        assert self.app is not None
        mounted = []
        for container in containers:
            if not container.enabled or container is self._standard_mounted:
                continue  # the standard API came with the first container
            prepared = ContainerApp(container, self, self.resources)
            for other in self.containers:
                if other.root == prepared.root:
                    raise SetupError(
                        f"routing root [{prepared.root or '/'}] already exists [{other.qual_name}, "
                        f"{prepared.qual_name}]"
                    )
            self.app.register_blueprint(prepared.blueprint())
            self.containers.append(prepared)
            mounted.append(prepared)
            self._route_fixed_paths(prepared)
        if self.standard_api and mounted:
            self._register_standard_api()
        return mounted

    def _route_fixed_paths(self, prepared: ContainerApp) -> None:
        """Static werkzeug rules for the container's fixed paths (``/test``, ``/login``).

        werkzeug matches a container's catch-all rule (a converter spanning
        segments) with a regular expression, and under gunicorn that was the
        largest part of what core4flask's routing costs over a plain Flask
        route; a static rule is found at the price of a plain route. It only
        saves werkzeug's search: the dispatcher still picks the handler by the
        container's rules, in order. So a static rule is added only where
        werkzeug hands the path to this container anyway, and a container
        mounted later with a deeper root takes over the fixed paths below it
        (as its catch-all would have). A Flask route added later for the very
        same path comes second to the container's.
        """
        assert self.app is not None
        adapter = self.app.url_map.bind("localhost")
        catch_all = f"{prepared.blueprint_name}.rest"
        for index, path in enumerate(prepared.fixed_paths()):
            try:
                endpoint = adapter.match(path, "GET")[0]
            except HTTPException:  # not found, redirect: werkzeug would not route it here
                continue
            if endpoint != catch_all:
                continue
            fixed = f"{prepared.blueprint_name}.fixed{index}"
            options: dict[str, Any] = {
                "methods": ROUTE_METHODS,
                "provide_automatic_options": False,
                "merge_slashes": False,
            }
            self.app.add_url_rule(path, fixed, prepared.dispatch, **options)
            self._fixed_routes.append((path, fixed, prepared))
        for number, (path, endpoint, owner) in enumerate(self._fixed_routes):
            if owner is not prepared and prepared.covers(path) and len(prepared.root) > len(owner.root):
                self.app.view_functions[endpoint] = prepared.dispatch
                self._fixed_routes[number] = (path, endpoint, prepared)

    def _register_standard_api(self) -> None:
        self.standard_api = False
        if not any(c.root == CoreApiServer.root for c in self.containers):
            self._mount(CoreApiServer)
            self._standard_mounted = CoreApiServer

    def _mount_launcher(self) -> None:
        manager: type[CoreApiContainer] = CoreAppManager
        if isinstance(self.launcher, str):
            attributes = {"root": self.launcher, "__module__": manager.__module__}
            manager = type("CoreAppManager", (CoreAppManager,), attributes)
        if not any(c.root == manager.get_root() for c in self.containers):
            self._mount(manager)

    def finish_response(self, request: flask.Request, response: WerkzeugResponse, started: float) -> WerkzeugResponse:
        """CORS headers and the access-log line of a finished request."""
        headers = response.headers
        if getattr(response, "entity_headers_only", False):
            has_origin = has_token = False  # nothing but what Core4Response.finished set
        else:
            has_origin, has_token = _cors_relevant(headers)
        if self._cors_off is None:  # the first request: the application is set up by now
            self._cors_off = not self._cors_headers[0][1] or cors.host_has_policy(self.app)
        if not has_origin and not self._cors_off:
            defaults = self._cors_token_headers if has_token else self._cors_headers
            # Flask keeps a Core4Response only while it is an app.response_class
            # (test fixtures may swap that class after start)
            app = self.app
            if type(response) is Core4Response and app is not None and issubclass(Core4Response, app.response_class):
                response.extra_headers = defaults
            else:
                # after every after_request hook, where none set an origin
                cors.send_unless_set(response, defaults)
        # the request's state leaves it with the access line: nothing of a finished
        # request waits for the cycle collector (whose passes over every request's
        # garbage cost more than the request itself)
        state = request.__dict__.pop(STATE_ATTRIBUTE, None)
        identifier = getattr(state, "identifier", None) or new_identifier()
        # every answer names its _id, so a client can quote it to operators
        headers.add("X-Request-ID", identifier)
        accesslog.log_request(request, state, response.status_code, started, json_lines=self.json_log)
        return response

    # -- the store --------------------------------------------------------------------
    @property
    def store(self) -> Any:
        """The user/role store of this process (opened lazily, reopened after fork).

        While the store cannot be opened, it is tried at most once every
        ``STORE_RETRY`` seconds; meanwhile StoreUnavailable (503) comes at once.
        """
        pid = current_pid()
        if self._store is None or self._store_pid != pid:
            with self._store_lock:
                if self._store is None or self._store_pid != pid:
                    failed = self._store_failed
                    if failed is not None and failed[0] == pid and time.monotonic() < failed[1] + STORE_RETRY:
                        raise stores.StoreUnavailable(failed[2])

                    instance = store_folder(self.app.instance_path if self.app is not None else None)
                    store = stores.open_store(
                        self.config.get("mongo_url"),
                        instance,
                        mongo_database=self.config.get("mongo_database"),
                    )
                    try:
                        store.setup()
                    except stores.StoreUnavailable as exc:
                        store.close()
                        self._store_failed = (pid, time.monotonic(), str(exc))
                        raise
                    except BaseException:
                        store.close()
                        raise
                    self._store, self._store_pid = store, pid
        return self._store

    def use_store(self, store: Any) -> None:
        """Serve this process from ``store`` (set up by the caller) instead of
        the configured one; the testing plugin's throw-away stores use it."""
        with self._store_lock:
            self._store, self._store_pid, self._store_failed = store, current_pid(), None

    def store_location(self) -> str:
        """Where the store is: the SQLite file, or the MongoDB server and database."""
        mongo_url = self.config.get("mongo_url")
        if mongo_url:
            host = urlsplit(mongo_url).hostname or "?"  # never the credentials
            return f"MongoDB at {host}, database {self.config.get('mongo_database')}"
        folder = store_folder(self.app.instance_path if self.app is not None else None)
        return f"SQLite at {os.path.join(folder, SQLITE_FILENAME)}"

    # -- serving lifecycle ------------------------------------------------------------
    def prepare_serving(self) -> None:
        """Run once before the first worker starts (bootstrap, checks)."""
        # where the users live, so that an operator finds (and backs up) them
        print(f"core4flask store: {self.store_location()}", file=sys.stderr, flush=True)
        for callback in self.on_prepare:
            callback(self)

    def start_serving(self, port: int | None = None) -> None:
        """Run in every serving process once it listens."""
        return_large_blocks()
        for callback in self.on_start:
            callback(self, port)

    def stop_serving(self) -> None:
        """Run in every serving process when it stops."""
        accesslog.flush()
        for callback in reversed(self.on_stop):
            try:
                callback(self)
            except Exception:  # noqa: BLE001 - stopping goes on
                log.exception("stop callback failed")

    # -- introspection -------------------------------------------------------------------
    def container_of(self, root: str) -> ContainerApp | None:
        """The registered container at ``root``."""
        for container in self.containers:
            if container.root == root:
                return container
        return None


def _cors_relevant(headers: Any) -> tuple[bool, bool]:
    """Whether a handler set ``Access-Control-Allow-Origin`` itself, and whether
    the response carries a ``token`` header.

    (werkzeug's ``in`` builds an exception for every header that is absent.)
    """
    has_origin = has_token = False
    for name, _ in headers:
        size = len(name)
        if size == 27 and name.lower() == "access-control-allow-origin":
            has_origin = True
        elif size == 5 and name.lower() == "token":
            has_token = True
    return has_origin, has_token


def create_app(
    *containers: type[CoreApiContainer],
    config: Mapping[str, Any] | None = None,
    instance_path: str | None = None,
    standard: bool = True,
    import_name: str = "core4flask",
) -> flask.Flask:
    """A Flask application serving ``containers`` plus the standard container."""
    # see core4flask.instance: the application's own folder, never the environment's
    instance_path = instance_path or os.environ.get("CORE4_INSTANCE_PATH")
    if not instance_path:
        instance_path = default_instance_path(application_module(containers))
    app = flask.Flask(import_name, instance_path=os.path.abspath(instance_path))
    # werkzeug would keep form fields to 500 kB and forms to 1,000 fields; the
    # body limit alone bounds them now, and larger bodies answer 413
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_FORM_MEMORY_SIZE"] = MAX_BODY_SIZE
    app.config["MAX_FORM_PARTS"] = MAX_FORM_PARTS
    ext = Core4(app, config=config, standard_api=False)
    guard_flask_static(app)
    trust_proxies(app, ext.config)
    if standard:
        given = {c.qual_name() for c in containers}
        extra = [c for c in standard_containers() if c.qual_name() not in given]
    else:
        extra = []
    ext.register(*containers, *extra)
    app.register_error_handler(HTTPException, _app_error)
    return app


def _app_error(exc: HTTPException) -> WerkzeugResponse:
    """Errors of requests no container routed (unknown paths, unusual methods)."""
    started = time.perf_counter()
    ext = flask.current_app.extensions[EXTENSION]
    request = flask.request._get_current_object()  # type: ignore[attr-defined]
    if isinstance(exc, MethodNotAllowed):
        response = error_response(_unusual_method(ext, request))
    else:
        response = error_response(exc)
    return ext.finish_response(request, response, started)


def _container_error(exc: HTTPException) -> Any:
    """Routing errors in an application core4flask was added to: below a
    container's root they answer as the container would (an envelope, 405
    naming the handler's methods); the application's own paths keep Flask's
    answer."""
    ext = flask.current_app.extensions[EXTENSION]
    path = flask.request.path
    if any(container.root and container.covers(path) for container in ext.containers):
        return _app_error(exc)
    return exc


def _unusual_method(ext: Core4, request: flask.Request) -> HTTPError:
    """Routing accepts the usual methods only; for any other (PROPFIND, TRACE)
    an unknown path is 404 and a known one 405 naming its handler's methods."""
    path = request.path
    for container in sorted(ext.containers, key=lambda c: len(c.root), reverse=True):
        root = container.root
        if root and path != root and not path.startswith(root + "/"):
            continue
        resource = container.resource_at(path[len(root) :])
        if resource is None:
            break
        return HTTPError(405, headers={"Allow": ", ".join(resource.handler.allowed_methods())})
    return HTTPError(404, f"{request.method} {path} not found")
