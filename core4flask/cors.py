"""core4's CORS headers as a default that an application's own policy overrides.

core4 answers every request with ``Access-Control-Allow-Origin:
<api.allow_origin>`` (``*`` by default) and the matching allow lists. In an
application that has a CORS policy of its own, those headers must not
override or double it:

* a response that carries ``Access-Control-Allow-Origin`` when it is sent
  (set by a view, an ``after_request`` hook, an error handler) goes out with
  exactly that: core4's headers are added at the last moment, only where
  nothing set one;
* an application with flask-cors has a policy for every path, also the ones
  it answers without CORS headers (an origin it refuses): core4 adds none;
* ``api.allow_origin: ""`` turns core4's CORS headers off.

Layer: pure helper; it imports nothing of core4flask.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ORIGIN", "host_has_policy", "send_unless_set"]

#: the header whose presence means "this response has a CORS answer"
ORIGIN = "Access-Control-Allow-Origin"


def host_has_policy(app: Any) -> bool:
    """Whether ``app`` runs flask-cors (whose ``after_request`` hook decides CORS)."""
    for hooks in getattr(app, "after_request_funcs", {}).values():
        for hook in hooks:
            if getattr(hook, "__module__", "").startswith("flask_cors"):
                return True
    return False


def send_unless_set(response: Any, headers: tuple[tuple[str, str], ...]) -> None:
    """Add ``headers`` when ``response`` is sent, unless it carries an origin header by then."""
    own = response.get_wsgi_headers

    def get_wsgi_headers(environ: Any) -> Any:
        sent = own(environ)
        if ORIGIN not in sent:
            sent.extend(headers)
        return sent

    response.get_wsgi_headers = get_wsgi_headers
