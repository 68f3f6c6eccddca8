"""Jinja2 rendering for handlers, and the URLs of their static files.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext

from .paths import project_root, resolve_folder

#: Templates shipped with the package (error, login, help, card, launcher).
PACKAGE_TEMPLATES = Path(__file__).with_name("templates")
#: The default static folder shipped with the package.
PACKAGE_STATIC = Path(__file__).with_name("static")

_environments: dict[tuple[str, bool], jinja2.Environment] = {}
_lock = threading.Lock()

#: A block tag ``{% name args %}`` (with Jinja's whitespace control marks).
_TAG = re.compile(r"\{%(?P<open>[-+]?)\s*(?P<name>\w+)(?P<args>.*?)(?P<close>[-+]?)%\}", re.DOTALL)
#: Jinja tags that open a block closed by ``end<name>`` (``set`` only without ``=``).
_BLOCK_TAGS = frozenset(("if", "for", "block", "macro", "call", "filter", "with", "set", "trans"))


def tornado_ends(source: str) -> str:
    """Template source with Tornado's ``{% end %}`` spelled as Jinja's ``{% endif %}``,
    ``{% endfor %}``, ``{% endblock %}``... for the block it closes.

    core4 templates use Tornado's syntax, whose blocks all close with
    ``{% end %}``; everything else they commonly use (``{{ expr }}``,
    ``{% if %}``/``{% elif %}``/``{% else %}``, ``{% for %}``, ``{% block %}``,
    ``{% extends %}``, ``{% include %}``, ``{% set x = ... %}``) reads the
    same in Jinja. A template that never says ``{% end %}`` is unchanged.
    """
    if "end" not in source:
        return source
    opened: list[str] = []
    parts: list[str] = []
    copied = 0
    tag = _TAG.search(source)
    while tag is not None:
        name, args, resume = tag["name"], tag["args"], tag.end()
        if name == "raw" and not args.strip():
            # Jinja's raw block: nothing in it is a tag
            closing = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}").search(source, resume)
            resume = closing.end() if closing else len(source)
        elif name in _BLOCK_TAGS and not (name == "set" and "=" in args):
            opened.append(name)
        elif name.startswith("end") and name != "end":
            if opened and opened[-1] == name[3:]:
                opened.pop()
        elif name == "end" and opened:
            parts.append(source[copied : tag.start()])
            parts.append(f"{{%{tag['open']} end{opened.pop()} {tag['close']}%}}")
            copied = resume
        tag = _TAG.search(source, resume)
    parts.append(source[copied:])
    return "".join(parts)


class TornadoEnds(jinja2.ext.Extension):
    """Reads Tornado's ``{% end %}`` in templates (see :func:`tornado_ends`)."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return tornado_ends(source)


def environment(folder: Path, *, auto_reload: bool = False) -> jinja2.Environment:
    """A cached Jinja2 environment loading from ``folder`` (then the package)."""
    key = (str(folder), auto_reload)
    env = _environments.get(key)
    if env is None:
        with _lock:
            env = _environments.get(key)
            if env is None:
                loader = jinja2.ChoiceLoader(
                    [jinja2.FileSystemLoader(str(folder)), jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES))]
                )
                env = jinja2.Environment(
                    loader=loader,
                    autoescape=jinja2.select_autoescape(default_for_string=True, default=True),
                    auto_reload=auto_reload,
                    undefined=jinja2.StrictUndefined,
                    extensions=[TornadoEnds],
                )
                _environments[key] = env
    return env


def package_environment() -> jinja2.Environment:
    """The environment of the package's own templates."""
    return environment(PACKAGE_TEMPLATES)


def split_template_name(name: str, folder: Path, module: str) -> tuple[Path, str]:
    """Find the folder and file name a ``render()`` argument addresses.

    ``file:///abs/dir/x.html`` is absolute, ``/sub/x.html`` is below the
    project root, anything else below the handler's template folder.
    """
    if name.startswith("file://"):
        path = Path(name[len("file://") :])
        return path.parent, path.name
    if name.startswith("/"):
        return project_root(module), name.lstrip("/")
    return folder, name


class TemplateMixin:
    """``render()``, ``render_string()``, ``static_url()`` and ``default_static()``."""

    template_path: str | None
    static_path: str | None
    rsc_id: str | None
    root: str

    def template_folder(self) -> Path:
        """The folder relative template names are looked up in."""
        return resolve_folder(self.template_path, type(self).__module__)

    def static_folder(self) -> Path:
        """The folder ``static_url()`` serves from."""
        return resolve_folder(self.static_path, type(self).__module__)

    def template_namespace(self) -> dict[str, Any]:
        """Names available in every template rendered by this handler."""
        return {
            "handler": self,
            "request": getattr(self, "request", None),
            "qual_name": self.qual_name(),  # type: ignore[attr-defined]
            "project": getattr(self, "project", None),
            "author": getattr(self, "author", None),
            "tag": getattr(self, "tag", None),
            "title": getattr(self, "title", None),
            "subtitle": getattr(self, "subtitle", None),
            "template_path": self.template_path,
            "static_path": self.static_path,
            "log_level": getattr(self, "log_level", None),
            "token_exp": getattr(self, "token_exp", None),
            "started": getattr(self, "started", None),
            "protected": getattr(self, "protected", None),
            "config": getattr(self, "config", None),
            "class_config": getattr(self, "class_config", None),
            "icon": getattr(self, "icon", None),
            "identifier": getattr(self, "identifier", None),
            "user": getattr(self, "user", None),
            "current_user": getattr(self, "current_user", None),
            "enter_url": getattr(self, "enter_url", None),
            "application": getattr(self, "application", None),
            "_flash": getattr(self, "_flash", None),
            "static_url": self.static_url,
            "default_static": self.default_static,
        }

    def render_string(self, template_name: str, **kwargs: Any) -> str:
        """Render a template to a string."""
        folder, name = split_template_name(template_name, self.template_folder(), type(self).__module__)
        reload = bool(getattr(self, "_debug", False)) or _flask_reloads_templates()
        template = environment(folder, auto_reload=reload).get_template(name)
        namespace = self.template_namespace()
        namespace.update(kwargs)
        return template.render(namespace)

    def render(self, template_name: str, **kwargs: Any) -> None:
        """Render a template as the (HTML) response."""
        body = self.render_string(template_name, **kwargs)
        self.finish_body(body, "text/html; charset=UTF-8")  # type: ignore[attr-defined]

    def static_url(self, path: str) -> str:
        """URL of a file in the handler's static folder (``/x`` = project root)."""
        return f"{self.root}/_asset/project/{self.rsc_id}/{path}"

    def default_static(self, path: str) -> str:
        """URL of a file in the default static folder."""
        return f"{self.root}/_asset/default/{self.rsc_id}/{path.lstrip('/')}"


def _flask_reloads_templates() -> bool:
    """Whether the Flask application reloads changed templates (``flask run
    --debug``, or ``TEMPLATES_AUTO_RELOAD``)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return False
    configured = current_app.config.get("TEMPLATES_AUTO_RELOAD")
    return bool(current_app.debug if configured is None else configured)
