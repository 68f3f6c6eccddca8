"""Meta data of a resource and its card, help and enter pages."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import flask
from jinja2.sandbox import SandboxedEnvironment

from ..errors import HTTPError
from ..templating import package_environment

if TYPE_CHECKING:
    from ..container import Resource
    from ..handler import CoreRequestHandler

_SANDBOX = SandboxedEnvironment(autoescape=False)


def has_custom_card(handler_cls: type) -> bool:
    """Whether a handler class overrides ``card()``."""
    from ..handler import CoreRequestHandler

    return getattr(handler_cls, "card", None) is not CoreRequestHandler.card


def description_of(resource: Resource) -> str:
    """``doc`` (rule kwarg or class) or the class docstring."""
    doc = resource.attribute("doc") or resource.handler.__doc__ or ""
    return inspect.cleandoc(doc) if doc else ""


def enter_url_of(resource: Resource) -> str:
    """The landing page: ``enter_url`` (rule kwarg or class attribute) or the enter page."""
    return resource.attribute("enter_url") or resource.enter_url


def resource_meta(resource: Resource) -> dict[str, Any]:
    """The meta data of a resource as core4's card/help/_info return it."""
    from .docstrings import method_docs, parse_docstring, render_docstring_html

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


def serve_page(handler: CoreRequestHandler, mode: str) -> Any:
    """The answer of ``<root>/_info/<mode>/<rsc_id>``."""
    resource = handler.resource
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
            return flask.Response(_json(meta), 200, content_type="application/json; charset=UTF-8")
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


def with_registry_entry(handler: CoreRequestHandler, meta: dict[str, Any]) -> dict[str, Any]:
    """core4's card and help meta: the resource's ``_info`` entry (every server's
    ``endpoint`` URLs, ``version``, ``created_at``, ``started_at``, the ``new``
    tag), updated with the page's own fields. Without the store, the resource's
    own meta alone."""
    from .registry import live_entries

    try:
        entries = live_entries(handler._ext, handler.request.environ)
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


def call_card(handler: CoreRequestHandler, meta: dict[str, Any]) -> Any:
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
        from .._async import run_async_method

        async def _await() -> Any:
            return await result

        result = run_async_method(_await)
    if isinstance(result, str):
        handler.finish_body(result, "text/html; charset=UTF-8")
        return None
    return result


def _json(value: Any) -> bytes:
    from ..envelope import dumps

    return dumps(value)


def render_help(handler: CoreRequestHandler, meta: dict[str, Any]) -> None:
    """The HTML help page of a resource."""
    template = package_environment().get_template("core4/help.html")
    body = template.render(meta=meta, static_url_for=_package_static(handler))
    handler.finish_body(body, "text/html; charset=UTF-8")


def default_card(handler: CoreRequestHandler, meta: dict[str, Any]) -> None:
    """The default card page of a resource."""
    if not meta:
        meta = resource_meta(handler.resource)
    template = package_environment().get_template("core4/card.html")
    body = template.render(meta=meta, static_url_for=_package_static(handler))
    handler.finish_body(body, "text/html; charset=UTF-8")


def default_enter(handler: CoreRequestHandler) -> Any:
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


def _package_static(handler: CoreRequestHandler) -> Any:
    root = handler.root

    def static_url_for(filename: str) -> str:
        return f"{root}/_asset/default/{handler.rsc_id}/{filename}"

    return static_url_for
