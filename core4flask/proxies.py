"""Trusting reverse proxies: the client's address and scheme behind them.

Behind a reverse proxy every request comes from the proxy's address, which
would make the login throttle count every client as one. With
``api.proxy_hops`` set to the number of proxies in front of the server,
:func:`trust_proxies` applies werkzeug's ``ProxyFix`` so that
``request.remote_addr`` and the scheme are taken from that many entries of
``X-Forwarded-For`` and ``X-Forwarded-Proto``. The default, 0, trusts no
such header: a client could forge it. ``X-Forwarded-Host`` and
``X-Forwarded-Port`` are never trusted (the published address comes from
``api.routing``).

Layer: pure helper; it imports nothing of core4flask.
"""

from __future__ import annotations

from typing import Any

import flask
from werkzeug.middleware.proxy_fix import ProxyFix

__all__ = ["trust_proxies"]


def trust_proxies(app: flask.Flask, config: Any) -> None:
    """Wrap ``app.wsgi_app`` in ``ProxyFix`` for ``api.proxy_hops`` proxies (none: unchanged)."""
    hops = int(config.get_path("api.proxy_hops", 0) or 0)
    if hops < 0:
        raise ValueError(f"api.proxy_hops must be 0 or more, not {hops}")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
