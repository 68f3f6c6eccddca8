"""Probes for load balancers and orchestrators: liveness and readiness.

``GET /core4/api/v1/health`` answers 200 while the process serves requests;
it needs no login and never touches the store, so a slow or failed database
does not make an orchestrator restart healthy workers (Kubernetes'
``livenessProbe``). ``GET /core4/api/v1/ready`` answers 200 when the store
answers a ping and a 503 envelope (with ``Retry-After``) when it does not, so
a load balancer stops sending traffic that would fail (``readinessProbe``).
``RULES`` mounts both in the standard container.

Layer: a feature (beside ``apps`` and ``roles``, independent of both); it
uses the request core only.
"""

from __future__ import annotations

from typing import Any

from .handler import CoreRequestHandler

__all__ = ["RULES", "HealthHandler", "ReadyHandler"]


class HealthHandler(CoreRequestHandler):
    """Liveness: the process answers requests.

    Methods:
        GET /health - 200 while this worker serves

    Returns:
        data (dict): ``status`` is ``alive``
    """

    protected = False
    title = "health"
    author = "core4flask"

    def get(self) -> dict[str, Any]:
        """Answer without looking at the store or the credentials."""
        return {"status": "alive"}


class ReadyHandler(CoreRequestHandler):
    """Readiness: the process and its store answer.

    Methods:
        GET /ready - 200 when the user and role store answers a ping

    Returns:
        data (dict): ``status`` is ``ready``

    Raises:
        503: the store is not reachable; see ``Retry-After``
    """

    protected = False
    title = "readiness"
    author = "core4flask"

    def get(self) -> dict[str, Any]:
        """Ping the store; StoreUnavailable becomes the 503 envelope."""
        self.ext.store.ping()
        return {"status": "ready"}


#: The probe rules of the standard container (``/core4/api/v1``).
RULES = [
    (r"/health", HealthHandler),
    (r"/ready", ReadyHandler),
]
