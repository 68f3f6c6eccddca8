"""The registry of serving processes: which process serves which resource.

Every serving process publishes the resources of its containers to the
store when it starts (``ext.on_start``), beats its heart every
``api.heartbeat`` seconds and removes only its own entries when it stops
(``ext.on_stop``). ``<root>/_info`` and the launcher read the entries of
every live process sharing the store (heartbeat younger than
``api.alive_timeout``) and merge them by ``rsc_id``, so the mini applications
of other processes and hosts appear everywhere.

A process that was not started through ``serve()`` or gunicorn (Flask's
test client, ``flask run``, an application using ``Core4(app)``) publishes
lazily on its first ``_info`` or launcher request and refreshes its heartbeat
on later ones; its own resources are listed even when the store holds none
of them.

The address a process publishes (``routing``), which other servers'
launchers link to, is ``api.routing`` when configured, else the address of
the socket it serves on (``api.address`` and the bound port, or the WSGI
server's ``SERVER_NAME``/``SERVER_PORT`` for lazy publication); never the
``Host`` header of a request, which any client chooses.

Layer: the apps feature; it uses the request core and the helpers, never
authentication or roles.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..pages import enter_url_of, resource_meta
from ..resource import Resource
from ..store.base import FIRST_SEEN_NS
from ..types import Extension
from ..version import __version__

log = logging.getLogger("core4flask.registry")

#: Fields of a resource's meta data that a process publishes.
PUBLISHED_FIELDS = (
    "rsc_id",
    "qual_name",
    "project",
    "title",
    "subtitle",
    "author",
    "tag",
    "icon",
    "protected",
    "target",
    "spa",
    "res",
    "perm_base",
    "help_url",
    "card_url",
    "enter_url",
    "custom_card",
    "description",
)
#: A full publication every this many heartbeats (repairs purged entries).
REPUBLISH_EVERY = 12
#: Entries of processes silent this many alive timeouts are deleted.
PURGE_FACTOR = 10

_registries: weakref.WeakKeyDictionary[Any, Registry] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def registry_of(ext: Extension) -> Registry:
    """The registry state of one application (created on first use)."""
    with _registries_lock:
        registry = _registries.get(ext)
        if registry is None:
            registry = _registries[ext] = Registry(ext)
    return registry


def install(ext: Extension) -> Registry:
    """Publish on ``ext.on_start``, withdraw on ``ext.on_stop`` (idempotent)."""
    registry = registry_of(ext)
    with registry.lock:
        if not registry.installed:
            registry.installed = True
            ext.on_start.append(registry.on_start)
            ext.on_stop.append(registry.on_stop)
    return registry


def gevent_patched() -> bool:
    """Whether gevent has made the standard library cooperative."""
    if "gevent" not in sys.modules:
        return False
    from gevent import monkey

    return bool(monkey.is_module_patched("threading"))


class Registry:
    """What one process publishes about itself, and its heartbeat."""

    def __init__(self, ext: Extension) -> None:
        self.ext = ext
        #: True once the on_start/on_stop callbacks are attached
        self.installed = False
        #: True between on_start and on_stop (a heartbeat worker runs)
        self.serving = False
        #: the id under which this process publishes; None before publishing
        self.server_id: str | None = None
        #: the public base URL of this process (``http://host:port``)
        self.routing: str | None = None
        self.lock = threading.RLock()
        self._pid: int | None = None
        self._started_at: datetime.datetime | None = None
        self._docs: list[dict[str, Any]] | None = None
        self._published = False
        self._next_beat = 0.0
        self._stop = threading.Event()
        self._worker: Any = None

    # -- configuration -----------------------------------------------------------
    @property
    def heartbeat(self) -> float:
        """Seconds between heartbeats (config ``api.heartbeat``)."""
        return max(0.05, float(self.ext.config.get_path("api.heartbeat", 5) or 5))

    @property
    def alive_timeout(self) -> float:
        """Seconds after which a silent process counts as gone."""
        return max(self.heartbeat, float(self.ext.config.get_path("api.alive_timeout", 20) or 20))

    def docs(self) -> list[dict[str, Any]]:
        """The handler documents this process publishes (computed once)."""
        if self._docs is None:
            self._docs = handler_docs(self.ext.containers)
        return self._docs

    # -- lifecycle ----------------------------------------------------------------
    def on_start(self, ext: Extension, port: int | None) -> None:
        """``ext.on_start``: publish and start the heartbeat worker."""
        with self.lock:
            self._reset_after_fork()
            self.serving = True
            self.routing = configured_routing(ext.config) or default_routing(ext.config, port)
            self.server_id = new_server_id(port)
            self._started_at = _utcnow()
        self.publish()
        self._start_worker()

    def on_stop(self, ext: Extension) -> None:
        """``ext.on_stop``: stop beating and remove this process's entries."""
        self._stop.set()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.join(timeout=max(2.0, self.heartbeat * 2))
        with self.lock:
            self.serving = False
            server_id, self._published = self.server_id, False
        if server_id is not None and self._pid == os.getpid():
            try:
                ext.store.registry_remove(server_id)
            except Exception:  # noqa: BLE001 - stopping goes on without the store
                log.warning("could not remove registry entries of %s", server_id, exc_info=True)

    def touch(self, environ: Mapping[str, Any]) -> None:
        """Lazy publication for processes that were not started by a server.

        ``environ`` is a request's WSGI environment: only what the WSGI
        server says about its socket is read from it.
        """
        install(self.ext)
        with self.lock:
            self._reset_after_fork()
            if self.serving:
                return
            now = time.monotonic()
            if now < self._next_beat:
                return
            self._next_beat = now + self.heartbeat
            if self.server_id is None:
                self.routing = configured_routing(self.ext.config) or socket_routing(environ)
                self.server_id = new_server_id(None)
                self._started_at = _utcnow()
        if self._published:
            self.beat()
        else:
            self.publish()

    def _reset_after_fork(self) -> None:
        if self._pid is not None and self._pid != os.getpid():
            self.server_id, self._published, self.serving = None, False, False
            self._worker, self._stop = None, threading.Event()
        self._pid = os.getpid()

    # -- store operations -----------------------------------------------------------
    def server_info(self) -> dict[str, Any]:
        """The server document published next to the handlers."""
        return {
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "routing": self.routing,
            "started_at": self._started_at,
            "version": __version__,
        }

    def publish(self) -> bool:
        """Write this process's entry and handlers; False when the store failed."""
        if self.server_id is None:
            return False
        try:
            store = self.ext.store  # opening it may fail as well
            store.registry_publish(self.server_id, self.server_info(), self.docs())
            store.registry_purge(self.alive_timeout * PURGE_FACTOR)
        except Exception:  # noqa: BLE001 - the heartbeat retries; requests go on
            log.warning("registry publication of %s failed", self.server_id, exc_info=True)
            self._published = False
            return False
        self._published = True
        return True

    def beat(self) -> None:
        """Refresh the heartbeat (a full publication after a failure)."""
        if not self._published:
            self.publish()
            return
        try:
            self.ext.store.registry_heartbeat(self.server_id)
        except Exception:  # noqa: BLE001 - the next beat publishes again
            log.warning("registry heartbeat of %s failed", self.server_id, exc_info=True)
            self._published = False

    def _start_worker(self) -> None:
        self._stop = threading.Event()
        if gevent_patched():
            import gevent

            self._worker = gevent.spawn(self._run)
        else:
            thread = threading.Thread(target=self._run, name="core4flask-heartbeat", daemon=True)
            thread.start()
            self._worker = thread

    def _run(self) -> None:
        beats = 0
        while not self._stop.wait(self.heartbeat):
            beats += 1
            if beats % REPUBLISH_EVERY == 0:
                self.publish()
            else:
                self.beat()

    # -- reading --------------------------------------------------------------------
    def live_servers(self) -> list[dict[str, Any]]:
        """Live servers from the store, plus this process when it is missing there."""
        servers = list(self.ext.store.registry_live(self.alive_timeout))
        if not any(server["server_id"] == self.server_id for server in servers):
            own = {"routing": self.routing, "started_at": self._started_at}
            servers.append({"server_id": self.server_id or "", "server": own, "handlers": self.docs()})
        return servers


def configured_routing(config: Any) -> str | None:
    """``api.routing`` without a trailing slash, when set."""
    routing = config.get_path("api.routing", None)
    return str(routing).rstrip("/") if routing else None


def socket_routing(environ: Mapping[str, Any]) -> str:
    """``scheme://host[:port]`` of the socket a WSGI server serves a request on.

    WSGI servers listening on TCP (gunicorn, gevent, werkzeug) set
    ``SERVER_NAME`` and ``SERVER_PORT`` from the bound socket, not from the
    request's ``Host`` header.
    """
    scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
    host = str(environ.get("SERVER_NAME") or "") or socket.getfqdn()
    if host in ("0.0.0.0", "::"):
        host = socket.getfqdn()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = str(environ.get("SERVER_PORT") or "")
    default = "443" if scheme == "https" else "80"
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def default_routing(config: Any, port: int | None) -> str:
    """``http://<address>:<port>`` of a serving process."""
    address = str(config.get_path("api.address", "") or "")
    if address in ("", "0.0.0.0", "::", "[::]"):
        address = socket.getfqdn()
    if ":" in address and not address.startswith("["):
        address = f"[{address}]"
    port = port or config.get_path("api.port", 5001)
    return f"http://{address}:{port}"


def new_server_id(port: int | None) -> str:
    """A server id unique to this process start: ``host:port:pid:random``."""
    return f"{socket.gethostname()}:{port or '-'}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _utcnow() -> datetime.datetime:
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# -- documents ------------------------------------------------------------------------


def handler_docs(containers: Iterable[Any]) -> list[dict[str, Any]]:
    """One document per rsc_id with every container mount of this process."""
    docs: dict[str, dict[str, Any]] = {}
    for app in containers:
        for resource in app.resources.values():
            doc = docs.get(resource.rsc_id)
            if doc is None:
                doc = docs[resource.rsc_id] = published_doc(resource)
            doc["mounts"].append(
                {
                    "container": app.qual_name,
                    "root": app.root,
                    "pattern": [[regex, name] for regex, name in resource.patterns],
                }
            )
    return list(docs.values())


def published_doc(resource: Resource) -> dict[str, Any]:
    """The registry document of one resource (without its mounts)."""
    meta = resource_meta(resource)
    doc = {name: meta.get(name) for name in PUBLISHED_FIELDS}
    doc["version"] = project_version(meta.get("project"))
    doc["description_html"] = {"body": meta.get("description_html"), "error": meta.get("description_error")}
    doc["mounts"] = []
    return doc


def project_version(project: str | None) -> str | None:
    """``__version__`` of a project's top-level package, when it has one."""
    module = sys.modules.get(project or "")
    version = getattr(module, "__version__", None)
    return str(version) if version is not None else None


def merge_servers(servers: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge the handler documents of several servers by rsc_id (core4's shape).

    ``endpoint`` (routing + container root), ``container`` and ``pattern``
    (``[routing + regex, name]``) become sorted unique lists; ``started_at``
    is the earliest start. ``help_url``, ``card_url`` and ``enter_url`` become
    absolute URLs at the first endpoint (see :func:`served_links`). Other
    fields come from the first server listed.
    """
    entries: dict[str, dict[str, Any]] = {}
    mounts: dict[str, set[tuple[str, str]]] = {}
    explicit_enter: dict[str, str | None] = {}
    for server in servers:
        info = server.get("server") or {}
        routing = str(info.get("routing") or "")
        started = info.get("started_at")
        for doc in server.get("handlers") or []:
            entry = entries.get(doc["rsc_id"])
            if entry is None:
                entry = {key: value for key, value in doc.items() if key != "mounts"}
                entry.update(endpoint=set(), container=set(), pattern=set(), started_at=started)
                entries[doc["rsc_id"]] = entry
                explicit_enter[doc["rsc_id"]] = explicit_enter_url(doc)
                mounts[doc["rsc_id"]] = set()
            elif started is not None and (entry["started_at"] is None or started < entry["started_at"]):
                entry["started_at"] = started
            for mount in doc.get("mounts") or []:
                mounts[doc["rsc_id"]].add((routing, mount["root"]))
                entry["container"].add(mount["container"])
                entry["pattern"].update((routing + regex, name) for regex, name in mount["pattern"])
    for rsc_id, entry in entries.items():
        entry["endpoint"] = sorted({routing + root for routing, root in mounts[rsc_id]})
        entry["container"] = sorted(entry["container"])
        entry["pattern"] = [list(p) for p in sorted(entry["pattern"], key=lambda p: (p[0], p[1] or ""))]
        if mounts[rsc_id]:
            routing, root = min(mounts[rsc_id], key=lambda mount: (mount[0] + mount[1], mount))
            entry.update(served_links(rsc_id, explicit_enter[rsc_id], routing, root))
    return list(entries.values())


def explicit_enter_url(doc: dict[str, Any]) -> str | None:
    """A published ``enter_url`` set by the rule or class; None for the default enter page."""
    enter = doc.get("enter_url")
    defaults = {f"{mount['root']}/_info/enter/{doc['rsc_id']}" for mount in doc.get("mounts") or []}
    return None if not enter or enter in defaults else str(enter)


def served_links(rsc_id: str, enter_url: str | None, routing: str, root: str) -> dict[str, str]:
    """Help, card and enter URLs at the server ``routing`` that mounts the resource at ``root``.

    They are absolute, so a client of any server sharing the store reaches
    the one serving the resource. An ``enter_url`` path set by the rule or
    class belongs to that server as well; full URLs stay as they are.
    """
    base = routing + root
    if not enter_url:
        enter = f"{base}/_info/enter/{rsc_id}"
    elif urlsplit(enter_url).scheme or enter_url.startswith("//"):
        enter = enter_url
    else:
        enter = routing + (enter_url if enter_url.startswith("/") else "/" + enter_url)
    return {"help_url": f"{base}/_info/help/{rsc_id}", "card_url": f"{base}/_info/card/{rsc_id}", "enter_url": enter}


def prefer_local_links(entries: Iterable[dict[str, Any]], resources: Mapping[str, Resource]) -> None:
    """Give resources this process serves its own paths (relative to the server answering).

    A relative path keeps working behind a proxy or under another host name,
    where the published routing may not be what the client reaches.
    """
    for entry in entries:
        resource = resources.get(entry["rsc_id"])
        if resource is not None:
            entry.update(help_url=resource.help_url, card_url=resource.card_url, enter_url=enter_url_of(resource))


def mark_new(entries: list[dict[str, Any]], first_seen: dict[str, Any], now: datetime.datetime, days: float) -> None:
    """Set ``created_at`` and add (or drop) tag ``new`` by the first publication.

    Resources never published keep their declared tags.
    """
    window = datetime.timedelta(days=days)
    for entry in entries:
        created = first_seen.get(entry["rsc_id"])
        entry["created_at"] = created if isinstance(created, datetime.datetime) else None
        tags = list(entry.get("tag") or [])
        if entry["created_at"] is not None:
            tags = [tag for tag in tags if tag != "new"]
            if now - entry["created_at"] < window:
                tags.append("new")
        entry["tag"] = tags


def live_entries(ext: Extension, environ: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every resource of every live server sharing the store, merged by rsc_id.

    Links of resources this process serves are paths on it; the others are
    absolute URLs of a server that serves them. ``environ`` is the WSGI
    environment of the request asking (see :meth:`Registry.touch`).
    """
    registry = registry_of(ext)
    registry.touch(environ)
    entries = merge_servers(registry.live_servers())
    prefer_local_links(entries, ext.resources)
    store = ext.store
    first_seen = {key: value for key, value, _changed in store.kv_changed_since(FIRST_SEEN_NS, None)}
    days = float(ext.config.get_path("api.new_range", 180) or 0)
    mark_new(entries, first_seen, store.now(), days)
    return entries
