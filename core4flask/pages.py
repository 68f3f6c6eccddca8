"""Card, help and enter pages: every handler is a mini application.

Part of the request core, as core4 served these pages from its handler:
:class:`PagesMixin` gives :class:`~core4flask.handler.CoreRequestHandler`
``run_page()`` (what a container calls for ``<root>/_info/card|help|enter/<rsc_id>``),
and ``card()`` and ``enter()``, which handlers override. The functions here
build a resource's meta data (:func:`resource_meta`, also what the registry
publishes) and render the pages.

core4's pseudo-methods ask for the same pages (:data:`PSEUDO_METHOD_PAGES`):
``XCARD``, ``XHELP`` and ``XENTER`` on a page URL or on a handler's own URL.

Card and help pages show the resource's listing entry when the extension's
``registry_entries`` hook is filled (the ``apps`` feature fills it with the
registry of every live server); without it, the resource's own meta.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol

import flask
from jinja2.sandbox import SandboxedEnvironment
from werkzeug.wrappers import Response as WerkzeugResponse

from ._async import run_async_method
from .docstrings import method_docs, parse_docstring, render_docstring_html
from .envelope import dumps
from .errors import error_response
from .exceptions import HTTPError
from .resource import Resource
from .state import RequestState
from .templating import package_environment
from .types import Extension

__all__ = [
    "PAGE_OWN_FIELDS",
    "PSEUDO_METHOD_PAGES",
    "PageHandler",
    "PagesMixin",
    "call_card",
    "default_card",
    "default_enter",
    "description_of",
    "enter_url_of",
    "has_custom_card",
    "render_help",
    "resource_meta",
    "safe_meta",
    "serve_page",
    "with_registry_entry",
]

_SANDBOX = SandboxedEnvironment(autoescape=False)

#: core4's pseudo-methods and the page each asks for, on a page URL or a
#: handler's own URL (core4's test suite sends them; browsers never do)
PSEUDO_METHOD_PAGES = {"XCARD": "card", "XHELP": "help", "XENTER": "enter"}


class PageHandler(Protocol):
    """What the pages need of a handler (a :class:`~core4flask.handler.CoreRequestHandler`)."""

    @property
    def resource(self) -> Resource | None: ...
    @property
    def request(self) -> flask.Request: ...
    @property
    def state(self) -> RequestState: ...
    @property
    def root(self) -> str: ...
    @property
    def rsc_id(self) -> str | None: ...
    @property
    def _ext(self) -> Extension | None: ...

    def wanted_type(self) -> str: ...
    def reply(self, chunk: Any) -> None: ...
    def finish_body(self, body: Any, content_type: str) -> None: ...
    def make_response(self, result: Any = None) -> WerkzeugResponse: ...
    def prepare_protection_for(self, pseudo_method: str) -> None: ...
    def call_method(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any: ...
    def card(self, **meta: Any) -> Any: ...
    def enter(self) -> Any: ...


def has_custom_card(handler_cls: type) -> bool:
    """Whether a handler class overrides ``card()``."""
    return getattr(handler_cls, "card", None) is not PagesMixin.card


def description_of(resource: Resource) -> str:
    """``doc`` (rule kwarg or class) or the class docstring."""
    doc = resource.attribute("doc") or resource.handler.__doc__ or ""
    return inspect.cleandoc(doc) if doc else ""


def enter_url_of(resource: Resource) -> str:
    """The landing page: ``enter_url`` (rule kwarg or class attribute) or the enter page."""
    return resource.attribute("enter_url") or resource.enter_url


def resource_meta(resource: Resource) -> dict[str, Any]:
    """The meta data of a resource as core4's card/help/_info return it."""
    meta: dict[str, Any] = {
        "rsc_id": resource.rsc_id,
        "qual_name": resource.qual_name,
        "project": resource.handler.__module__.split(".", 1)[0],
        "title": resource.attribute("title"),
        "subtitle": resource.attribute("subtitle") or resource.qual_name,
        "author": resource.attribute("author"),
        "tag": list(resource.attribute("tag") or []),
        "icon": resource.attribute("icon"),
        "protected": bool(resource.attribute("protected")),
        "target": resource.attribute("target"),
        "spa": bool(resource.attribute("spa")),
        "res": resource.attribute("res"),
        "perm_base": getattr(resource.handler, "perm_base", "handler"),
        "help_url": resource.help_url,
        "card_url": resource.card_url,
        "enter_url": enter_url_of(resource),
        "container": resource.container.qual_name(),
        "endpoint": resource.root,
        "pattern": [{"regex": regex, "name": name} for regex, name in resource.patterns],
        "args": {k: v for k, v in resource.kwargs.items() if _plain(v)},
        "custom_card": has_custom_card(resource.handler),
    }
    description = description_of(resource)
    try:
        description = _SANDBOX.from_string(description).render(**meta)
    except Exception:  # noqa: BLE001 - a description that is no valid template stays as written
        pass
    parsed = parse_docstring(description)
    meta["description"] = description
    meta["description_html"] = render_docstring_html(parsed)
    meta["description_error"] = parsed["errors"]
    meta["method"] = [{k: v for k, v in m.items() if k != "parsed"} for m in method_docs(resource.handler)]
    return meta


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | list | dict | type(None))


def serve_page(handler: PageHandler, mode: str) -> Any:
    """The answer of ``<root>/_info/<mode>/<rsc_id>``."""
    resource = _resource_of(handler)
    if mode == "enter":
        explicit = resource.attribute("enter_url")
        if getattr(resource.handler, "is_static", False):
            return flask.redirect(resource.kwargs.get("enter") or explicit or "/", 302)
        if explicit:
            return flask.redirect(explicit, 302)
        return handler.enter()
    meta = with_registry_entry(handler, safe_meta(resource))
    wants_json = handler.wanted_type() == "json"
    if mode == "card":
        if wants_json:
            return flask.Response(dumps(meta), 200, content_type="application/json; charset=UTF-8")
        return call_card(handler, meta)
    if wants_json:
        handler.reply(meta)
        return None
    return render_help(handler, meta)


#: What a card or help page takes from the resource itself rather than from its
#: registry entry (core4: the entry, updated with these).
PAGE_OWN_FIELDS = (
    "args",
    "description",
    "description_html",
    "description_error",
    "icon",
    "pattern",
    "container",
    "card_url",
    "enter_url",
    "help_url",
    "method",
)


def with_registry_entry(handler: PageHandler, meta: dict[str, Any]) -> dict[str, Any]:
    """core4's card and help meta: the resource's ``_info`` entry (every server's
    ``endpoint`` URLs, ``version``, ``created_at``, ``started_at``, the ``new``
    tag), updated with the page's own fields. Without the extension's
    ``registry_entries`` hook, or without the store, the resource's own meta
    alone."""
    ext = handler._ext
    entries_of = getattr(ext, "registry_entries", None)
    if entries_of is None:
        return meta
    try:
        entries = entries_of(ext, handler.request.environ)
    except Exception:  # noqa: BLE001 - a page without the registry still shows its resource
        return meta
    entry = next((e for e in entries if e.get("rsc_id") == meta.get("rsc_id")), None)
    if entry is None:
        return meta
    merged = {**meta, **entry}
    merged.update({name: meta[name] for name in PAGE_OWN_FIELDS if name in meta})
    return merged


def safe_meta(resource: Resource) -> dict[str, Any]:
    """:func:`resource_meta`, or a minimal meta naming the problem (never a 500)."""
    try:
        return resource_meta(resource)
    except Exception as exc:  # noqa: BLE001 - a help page shows what went wrong instead
        return {
            "rsc_id": resource.rsc_id,
            "qual_name": resource.qual_name,
            "title": resource.attribute("title"),
            "subtitle": resource.qual_name,
            "tag": [],
            "protected": bool(resource.attribute("protected")),
            "help_url": resource.help_url,
            "card_url": resource.card_url,
            "enter_url": enter_url_of(resource),
            "description": "",
            "description_html": "",
            "description_error": [f"the description could not be read: {exc}"],
            "method": [],
            "custom_card": has_custom_card(resource.handler),
        }


def call_card(handler: PageHandler, meta: dict[str, Any]) -> Any:
    """Call ``card()``, ``card(**meta)`` or a card naming some meta fields.

    A returned string is the HTML page.
    """
    card = handler.card
    parameters = inspect.signature(card).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        result = card(**meta)
    else:
        named = (p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        result = card(**{name: meta[name] for name in named if name in meta})
    if inspect.isawaitable(result):

        async def _await() -> Any:
            return await result

        result = run_async_method(_await)
    if isinstance(result, str):
        handler.finish_body(result, "text/html; charset=UTF-8")
        return None
    return result


def render_help(handler: PageHandler, meta: dict[str, Any]) -> None:
    """The HTML help page of a resource."""
    template = package_environment().get_template("core4/help.html")
    body = template.render(meta=meta, static_url_for=_package_static(handler))
    handler.finish_body(body, "text/html; charset=UTF-8")


def default_card(handler: PageHandler, meta: dict[str, Any]) -> None:
    """The default card page of a resource."""
    if not meta:
        meta = resource_meta(_resource_of(handler))
    template = package_environment().get_template("core4/card.html")
    body = template.render(meta=meta, static_url_for=_package_static(handler))
    handler.finish_body(body, "text/html; charset=UTF-8")


def default_enter(handler: PageHandler) -> Any:
    """Call the handler's GET without URL arguments (400 when it needs some)."""
    get = getattr(handler, "get", None)
    if get is None:
        raise HTTPError(400, "this resource has no GET landing page")
    required = [
        p
        for p in inspect.signature(get).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if required:
        names = ", ".join(p.name for p in required)
        raise HTTPError(400, f"this resource needs URL arguments ({names}); open it through one of its URLs")
    return handler.call_method("GET", (), {})


def _resource_of(handler: PageHandler) -> Resource:
    """The resource whose page is asked for (a handler used as a plain view has none)."""
    if handler.resource is None:
        raise HTTPError(404, "this handler is not mounted in a container: it has no pages")
    return handler.resource


def _package_static(handler: PageHandler) -> Any:
    root = handler.root

    def static_url_for(filename: str) -> str:
        return f"{root}/_asset/default/{handler.rsc_id}/{filename}"

    return static_url_for


class PagesMixin:
    """The card, help and enter pages of a handler's resource (core4's XCARD,
    XHELP and XENTER)."""

    def run_page(self: PageHandler, mode: str) -> WerkzeugResponse:
        """Serve the card, help or enter page of this handler's resource."""
        try:
            if self.request.method == "OPTIONS":
                return self.make_response(None)
            self.prepare_protection_for(mode.upper())
            return self.make_response(serve_page(self, mode))
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error response
            return error_response(exc, self.state)

    def card(self: PageHandler, **meta: Any) -> Any:
        """The card page; override to render your own (``card()`` or ``card(**meta)``)."""
        return default_card(self, meta)

    def enter(self: PageHandler) -> Any:
        """The landing page: the handler's GET without URL arguments."""
        return default_enter(self)
