"""``install(ext)``: plug users and roles into a ``Core4`` extension.

Called by ``Core4.init_app``. The built-in admin user and the default user
role are created once per process, when authentication gets ready and
before the first credentials are checked (``ext.on_auth_ready``, see
:class:`core4flask.app.Core4`); a generated admin password is printed once,
to stderr, never logged. The profile and roles endpoints come with the
standard container (:mod:`core4flask.server`).

Layer: the roles feature; it may use authentication, the request core and the
helpers, never the apps feature.
"""

from __future__ import annotations

import sys

from ..types import Extension
from .bootstrap import bootstrap

__all__ = ["bootstrap_admin", "install"]


def bootstrap_admin(ext: Extension) -> None:
    """``ext.on_auth_ready``: create the admin user and the default user role."""
    password = bootstrap(ext.store, ext.config)
    if password:
        print(f"admin password: {password}", file=sys.stderr, flush=True)


def install(ext: Extension) -> None:
    """Install users and roles on ``ext`` (idempotent)."""
    if bootstrap_admin not in ext.on_auth_ready:
        ext.on_auth_ready.append(bootstrap_admin)
