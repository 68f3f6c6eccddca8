"""Resources: a handler class with one set of rule kwargs, as a container mounts it.

Each (handler class, rule kwargs) pair has a stable ``rsc_id`` (core4's: md5
of the qual_name and the pretty-printed kwargs); the same resource may
appear under several patterns and in several containers. Part of the
request core: handlers, their pages and static files read their resource;
containers (:mod:`core4flask.container`) make them.
"""

from __future__ import annotations

import hashlib
import pprint
from dataclasses import dataclass, field
from typing import Any

from .config import ConfigDict, class_section
from .paths import qual_name_of
from .types import Extension

__all__ = ["UPWIND", "Resource", "effective_props", "resource_id"]

#: Config keys of a class section that win over rule kwargs and class attributes.
UPWIND = ("log_level", "template_path", "static_path")


def resource_id(qual_name: str, kwargs: dict[str, Any]) -> str:
    """core4's ``rsc_id``: md5 of the qual_name and the pretty-printed kwargs."""
    text = qual_name + " " + pprint.pformat(kwargs)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass
class Resource:
    """One handler class with one set of rule kwargs, as mounted in a container."""

    #: the handler class (a :class:`~core4flask.handler.CoreRequestHandler`)
    handler: type[Any]
    #: the rule kwargs
    kwargs: dict[str, Any]
    #: the container class (a :class:`~core4flask.container.CoreApiContainer`)
    container: type[Any]
    #: the root of the container that mounts it
    root: str
    #: the extension serving it
    ext: Extension
    #: ``(full pattern, rule name)`` of every rule that routes here
    patterns: list[tuple[str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.qual_name = qual_name_of(self.handler)
        self.rsc_id = resource_id(self.qual_name, self.kwargs)
        self.class_config: ConfigDict = class_section(self.ext.config, self.qual_name)
        self.props = effective_props(self.handler, self.kwargs, self.class_config)

    @property
    def help_url(self) -> str:
        """``<root>/_info/help/<rsc_id>``."""
        return f"{self.root}/_info/help/{self.rsc_id}"

    @property
    def card_url(self) -> str:
        """``<root>/_info/card/<rsc_id>``."""
        return f"{self.root}/_info/card/{self.rsc_id}"

    @property
    def enter_url(self) -> str:
        """The landing page: ``enter_url`` when set, else the enter page."""
        return self.attribute("enter_url") or f"{self.root}/_info/enter/{self.rsc_id}"

    def attribute(self, name: str) -> Any:
        """A handler attribute with rule kwargs and config applied."""
        if name in self.props:
            return self.props[name]
        return getattr(self.handler, name, None)


def effective_props(handler: type[Any], kwargs: dict[str, Any], class_config: dict[str, Any]) -> dict[str, Any]:
    """Instance attributes of a resource: config > rule kwargs > class attribute."""
    props: dict[str, Any] = {}
    for name in getattr(handler, "propagate", ()):
        value = kwargs.get(name)
        if value is not None:
            props[name] = list(value.split()) if name == "tag" and isinstance(value, str) else value
    for name in UPWIND:
        value = class_config.get(name)
        if value is not None:
            props[name] = value
    if "tag" not in props:
        props["tag"] = list(getattr(handler, "tag", None) or [])
    return props
