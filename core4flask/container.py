"""Containers: a root URL plus Tornado-style rules, served as a Blueprint.

Rules are regular expressions matched against the whole path below the root,
in list order. Each (handler class, rule kwargs) pair is a *resource* with a
stable ``rsc_id``; the same resource may appear under several patterns and in
several containers.

Layer: the request core (its top: it routes to handlers); it knows nothing of
authentication or the features.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import flask
from flask import Blueprint
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response as WerkzeugResponse

from .config import class_section
from .errors import HTTPError, error_response
from .handler import CoreRequestHandler
from .pages import PSEUDO_METHOD_PAGES
from .paths import project_of, qual_name_of
from .resource import UPWIND as UPWIND
from .resource import Resource as Resource
from .resource import effective_props as effective_props
from .resource import resource_id as resource_id
from .static import CoreStaticFileHandler, serve_asset
from .types import Extension, Rule

#: URL methods every container route accepts; others get 405 from routing.
#: core4's pseudo-methods of the card, help and enter pages are let through.
ROUTE_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", *PSEUDO_METHOD_PAGES)
#: Mini application pages below ``<root>/_info``.
PAGE_PATTERN = re.compile(r"/_info/(card|help|enter)/([0-9a-f]{32})")
#: Static assets below ``<root>/_asset``.
ASSET_PATTERN = re.compile(r"/_asset/(default|project)/(.+?)/(.*)")
#: What the static file handler's pattern gets appended.
STATIC_SUFFIX = r"(?:/(.*))?$"
#: Characters that make a pattern more than one fixed path (regular expression or werkzeug rule syntax).
_NOT_FIXED = re.compile(r"[.^$*+?{}\[\]\\|()<>]")


class SetupError(Exception):
    """A container or rule cannot be served (duplicate pattern, bad handler)."""


class RestConverter(BaseConverter):
    """Matches the rest of a path, slashes and empty string included."""

    regex = ".*"
    part_isolating = False


class CoreApiContainer:
    """A bundle of handlers under one URL prefix (a Flask Blueprint)."""

    #: URL prefix; default ``/`` + project name
    root: str | None = None
    #: ``(pattern, handler[, kwargs[, name]])`` tuples, matched in order
    rules: Sequence[Any] = ()
    #: disabled containers are not served
    enabled: bool = True

    @classmethod
    def qual_name(cls) -> str:
        """``module.ClassName`` of the container."""
        return qual_name_of(cls)

    @classmethod
    def get_root(cls, path: str | None = None) -> str:
        """The normalised root, optionally joined with a path."""
        root = normalise_root(cls.root, project_of(cls))
        if not path:
            return root
        return root + (path if path.startswith("/") else "/" + path)


def normalise_root(root: str | None, project: str) -> str:
    """Leading slash added, one trailing slash removed, default ``/project``."""
    if root is None:
        root = "/" + project
    if root and not root.startswith("/"):
        root = "/" + root
    if root.endswith("/"):
        root = root[:-1]
    return root


@dataclass
class Route:
    """One compiled rule of a container."""

    regex: re.Pattern[str]
    source: str
    resource: Resource
    name: str | None

    def arguments(self, match: re.Match[str]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Positional or keyword URL arguments of a match (core4's rules)."""
        if self.regex.groupindex:
            return (), {k: v for k, v in match.groupdict().items()}
        return match.groups(), {}


def split_rule(rule: Any) -> tuple[str, type, dict[str, Any], str | None]:
    """Normalise ``(pattern, handler[, kwargs[, name]])``."""
    if not isinstance(rule, list | tuple) or not 2 <= len(rule) <= 4:
        raise SetupError(f"a rule is (pattern, handler[, kwargs[, name]]), not [{rule!r}]")
    pattern, handler = rule[0], rule[1]
    kwargs = dict(rule[2] or {}) if len(rule) > 2 else {}
    name = rule[3] if len(rule) > 3 else None
    if not (isinstance(handler, type) and issubclass(handler, CoreRequestHandler)):
        raise SetupError(f"expected subclass of CoreRequestHandler, not [{handler!r}]")
    if not isinstance(pattern, str):
        raise SetupError(f"rule pattern must be a string, not [{pattern!r}]")
    return pattern, handler, kwargs, name


def normalise_pattern(pattern: str, handler: type) -> str:
    """Leading slash added, one trailing slash removed, static suffix appended."""
    if not pattern.startswith("/"):
        pattern = "/" + pattern
    if pattern.endswith("/"):
        pattern = pattern[:-1]
    if getattr(handler, "is_static", False) and not pattern.endswith(STATIC_SUFFIX):
        pattern = pattern.rstrip("$") + STATIC_SUFFIX
    return pattern


def anchored(pattern: str) -> str:
    """A pattern as Tornado compares routes: with its end anchor."""
    return pattern if pattern.endswith("$") else pattern + "$"


class ContainerApp:
    """A container prepared for serving: its routes, resources and Blueprint."""

    def __init__(self, container: type[CoreApiContainer], ext: Extension, resources: dict[str, Resource]) -> None:
        self.container = container
        self.ext = ext
        self.qual_name = container.qual_name()
        section = class_section(ext.config, self.qual_name)
        self.root = normalise_root(section.get("root") or container.root, project_of(container))
        self.routes: list[Route] = []
        #: resources mounted in this container, by rsc_id
        self.resources: dict[str, Resource] = {}
        self._build(resources)

    def _build(self, shared: dict[str, Resource]) -> None:
        seen: set[str] = set()
        own = {anchored(normalise_pattern(split_rule(r)[0], split_rule(r)[1])) for r in self.container.rules}
        # automatic rules (login/logout on every root) yield to the container's own;
        # leading rules (``_info``) come first and may not be shadowed
        automatic = [r for r in self.ext.automatic_rules if anchored(normalise_pattern(r[0], r[1])) not in own]
        rules: Iterable[Rule] = [*self.ext.leading_rules, *self.container.rules, *automatic]
        for rule in rules:
            pattern, handler, kwargs, name = split_rule(rule)
            pattern = normalise_pattern(pattern, handler)
            if anchored(pattern) in seen:
                raise SetupError(f"route [{self.root}{pattern}] already exists in [{self.qual_name}]")
            seen.add(anchored(pattern))
            if issubclass(handler, CoreStaticFileHandler):
                kwargs.setdefault("enter", handler.enter_target(self.root, pattern, kwargs))
            rsc_id = resource_id(qual_name_of(handler), kwargs)
            resource = self.resources.get(rsc_id) or shared.get(rsc_id)
            if resource is None or resource.root != self.root:
                resource = resource_in(handler, kwargs, self, shared)
            resource.patterns.append((self.root + pattern, name))
            self.resources[rsc_id] = resource
            try:
                regex = re.compile(pattern)
            except re.error as exc:
                raise SetupError(f"rule pattern [{pattern}] of [{self.qual_name}] is invalid: {exc}") from None
            self.routes.append(Route(regex, pattern, resource, name))

    @property
    def blueprint_name(self) -> str:
        """The name of this container's Blueprint."""
        return self.qual_name.replace(".", "_") + (f"_{abs(hash(self.root))}" if self.root else "_root")

    def fixed_paths(self) -> list[str]:
        """Full paths of the rules that match one path only (no pattern syntax in them)."""
        return [self.root + r.source for r in self.routes if r.source and not _NOT_FIXED.search(r.source)]

    def covers(self, path: str) -> bool:
        """Whether ``path`` lies below this container's root (on a segment boundary)."""
        return not self.root or path == self.root or path.startswith(self.root + "/")

    def blueprint(self) -> Blueprint:
        """The Blueprint serving this container at its root."""
        blueprint = Blueprint(self.blueprint_name, self.container.__module__, url_prefix=self.root or None)
        options: dict[str, Any] = {"methods": ROUTE_METHODS, "provide_automatic_options": False, "merge_slashes": False}
        blueprint.add_url_rule("" if self.root else "/", "root", self.dispatch, defaults={"rest": ""}, **options)
        blueprint.add_url_rule("/<c4rest:rest>", "rest", self.dispatch, **options)
        return blueprint

    def dispatch(self, rest: str = "") -> WerkzeugResponse:
        """Route one request below the root to its handler."""
        started = time.perf_counter()
        request = flask.request._get_current_object()  # type: ignore[attr-defined]
        path = request.path[len(self.root) :]
        try:
            response = self._special(path) if path.startswith("/_") else None
            if response is None:
                found = self._route(request.environ, path)
                if found is None:
                    raise HTTPError(404, f"{request.method} {request.path} not found")
                route, args, kwargs = found
                response = route.resource.handler(route.resource, request).run(args, kwargs)
        except Exception as exc:  # noqa: BLE001 - errors outside handlers answer too
            response = error_response(exc)
        return self.ext.finish_response(request, response, started)

    def _route(self, environ: Mapping[str, Any], path: str) -> tuple[Route, tuple[Any, ...], dict[str, Any]] | None:
        """The rule for a request and its URL arguments.

        As in Tornado, rules see the path as it was sent (``%2F`` is not a
        separator) and the groups are unquoted afterwards. A path that only
        matches once decoded (a rule written with a space or an umlaut) is
        still served.
        """
        raw = raw_path(environ)
        if raw is not None and "%" in raw and raw.startswith(self.root):
            found = self._match(raw[len(self.root) :])
            if found is not None:
                route, match = found
                args, kwargs = route.arguments(match)
                return route, tuple(map(unquote_group, args)), {k: unquote_group(v) for k, v in kwargs.items()}
        found = self._match(path)
        if found is None:
            return None
        route, match = found
        args, kwargs = route.arguments(match)
        return route, args, kwargs

    def resource_at(self, path: str) -> Resource | None:
        """The resource a path below the root routes to; None for an unknown path."""
        page = self._page(path)
        if page is not None:
            return page[0]
        found = self._match(path)
        return found[0].resource if found is not None else None

    def _match(self, path: str) -> tuple[Route, re.Match[str]] | None:
        """The first rule matching ``path``, and its match."""
        for route in self.routes:
            match = route.regex.fullmatch(path)
            if match is not None:
                return route, match
        return None

    def _page(self, path: str) -> tuple[Resource, str] | None:
        """The resource and mode of a card/help/enter page of this container."""
        page = PAGE_PATTERN.fullmatch(path)
        if page is None or page.group(2) not in self.resources:
            return None
        return self.resources[page.group(2)], page.group(1)

    def _special(self, path: str) -> WerkzeugResponse | None:
        page = self._page(path)
        if page is not None:
            resource, mode = page
            handler: CoreRequestHandler = resource.handler(resource)
            return handler.run_page(mode)
        asset = ASSET_PATTERN.fullmatch(path)
        if asset is not None:
            return serve_asset(self, *asset.groups())
        return None


def raw_path(environ: Mapping[str, Any]) -> str | None:
    """The request path as the client sent it (still percent-encoded), if the server tells."""
    uri: str | None = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not uri or not uri.startswith("/"):
        return None
    return uri.partition("?")[0]


def unquote_group(value: str | None) -> str | None:
    """A URL group's value, percent-decoded as UTF-8 (400 when it is not UTF-8)."""
    if value is None or "%" not in value:
        return value
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise HTTPError(400, "the URL is not UTF-8") from None


def resource_in(handler: type, kwargs: dict[str, Any], app: ContainerApp, shared: dict[str, Resource]) -> Resource:
    """Create the resource of a rule mounted in ``app``."""
    resource = Resource(handler, kwargs, app.container, app.root, app.ext)
    shared.setdefault(resource.rsc_id, resource)
    return resource
