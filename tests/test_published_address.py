"""The address a server publishes to other servers' launchers never comes
from a request's ``Host`` header (a client would choose where everyone's
launcher links lead): it is ``api.routing``, else the bound socket."""

from __future__ import annotations

import sys

import pytest

from core4flask.apps.registry import socket_routing
from tests import live

EVIL = "evil.example:666"


def gunicorn_without_core4_hooks(tmp, **options):
    """The demo app under gunicorn's own defaults (no ``gunicorn.conf.py``): like
    a host application using ``Core4(app)``, it publishes on its first listing."""
    plain = tmp / "plain.conf.py"  # else gunicorn reads ./gunicorn.conf.py
    plain.write_text("", encoding="utf-8")
    command = [sys.executable, "-m", "gunicorn", "-c", str(plain), "-k", "gevent", "-w", "1", "-b", "127.0.0.1:{port}"]
    return live.start([*command, "wsgi:app"], tmp, ready="/test-server/public", **options)


def endpoints(server, headers):
    listing = server.get("/core4/api/v1/_info", params={"api": "true", "per_page": 1000}, headers=headers)
    assert listing.status_code == 200, listing.text
    return [url for entry in listing.json()["data"] for url in entry["endpoint"]]


@pytest.mark.e2e
def test_a_forged_host_header_is_not_published(tmp_path):
    server = gunicorn_without_core4_hooks(tmp_path)
    try:
        token = {"Authorization": f"Bearer {live.login(server)}"}
        first = endpoints(server, {**token, "Host": EVIL})
        later = endpoints(server, token)
        assert first and later
        base = f"http://127.0.0.1:{server.port}"
        for url in first + later:
            assert EVIL not in url and (url == base or url.startswith(base + "/")), url
    finally:
        server.stop()


@pytest.mark.e2e
def test_the_configured_routing_wins(tmp_path):
    server = gunicorn_without_core4_hooks(tmp_path, api__routing="https://apps.example.org/")
    try:
        token = {"Authorization": f"Bearer {live.login(server)}"}
        urls = endpoints(server, {**token, "Host": EVIL})
        assert urls and all(url.split("/")[2] == "apps.example.org" for url in urls), urls
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("environ", "routing"),
    [
        ({"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "5001", "HTTP_HOST": EVIL}, "http://127.0.0.1:5001"),
        ({"SERVER_NAME": "localhost", "SERVER_PORT": "80", "wsgi.url_scheme": "http"}, "http://localhost"),
        ({"SERVER_NAME": "apps.local", "SERVER_PORT": "443", "wsgi.url_scheme": "https"}, "https://apps.local"),
        ({"SERVER_NAME": "::1", "SERVER_PORT": "8080"}, "http://[::1]:8080"),
    ],
)
def test_socket_routing_reads_the_server_fields_only(environ, routing):
    assert socket_routing(environ) == routing
