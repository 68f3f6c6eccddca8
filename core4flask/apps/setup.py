"""``install(ext)``: plug the mini applications into a ``Core4`` extension.

Called by ``Core4.init_app``. It fills three hooks of the extension (see
:class:`core4flask.app.Core4`): every container gets ``<root>/_info`` first
(``ext.leading_rules``); card and help pages show the listing entry of every
live server (``ext.registry_entries``); and each serving process publishes
its resources to the registry and withdraws them when it stops
(``ext.on_start``, ``ext.on_stop``).

Layer: the apps feature; it uses the request core and the helpers, never
authentication or roles.
"""

from __future__ import annotations

from ..types import Extension
from .info import InfoHandler
from .registry import install as install_registry
from .registry import live_entries

__all__ = ["INFO_RULE", "install"]

#: The listing every container serves at ``<root>/_info``.
INFO_RULE = (r"/_info", InfoHandler)


def install(ext: Extension) -> None:
    """Install the mini applications on ``ext`` (before containers are registered)."""
    if INFO_RULE not in ext.leading_rules:
        ext.leading_rules.append(INFO_RULE)
    ext.registry_entries = live_entries
    install_registry(ext)
