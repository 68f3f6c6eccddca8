"""Where an application keeps its data: the instance folder.

The embedded store (``core4flask.sqlite3``: users, roles, the generated
token secret) lives in the application's instance folder. The rule, in order:

1. ``create_app(instance_path=...)`` (``serve(..., instance_path=...)``);
2. the environment variable ``CORE4_INSTANCE_PATH``;
3. Flask's instance folder of the application's own module, the module of
   its first container that is not core4flask's: ``instance`` beside the
   top-level package (or single-file module) of a project that is not
   installed, e.g. ``/srv/myproject/instance`` for
   ``/srv/myproject/myproject/api.py``. A script run as ``python
   server.py`` and ``flask --app`` without containers count as the
   current working directory, as Flask counts them;
4. ``./instance`` of the current working directory when that module is
   installed (in site-packages, a virtual environment or the system
   prefix), where Flask would choose ``<prefix>/var/...``: a folder that
   is deleted with the environment.

So the store is never inside an installed package or a virtual
environment, and rebuilding the environment keeps every user. An application
that adds core4flask with ``Core4(app)`` keeps its own Flask instance folder,
unless that lies inside the Python environment (Flask's choice for an
installed application): then ``./instance`` is used as in 4.

Layer: pure helper; it imports nothing of core4flask.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import PurePath

from flask.sansio.scaffold import find_package

__all__ = ["application_module", "default_instance_path", "store_folder"]

#: the package whose own containers (the standard API) do not name the application
_OWN_PACKAGE = "core4flask"


def application_module(containers: Iterable[type]) -> str | None:
    """The module of the first container that is not core4flask's own."""
    for container in containers:
        module = getattr(container, "__module__", "") or ""
        if module != _OWN_PACKAGE and not module.startswith(_OWN_PACKAGE + "."):
            return module
    return None


def default_instance_path(module: str | None, cwd: str | None = None) -> str:
    """The instance folder of an application whose containers live in ``module``."""
    cwd = os.path.abspath(cwd or os.getcwd())
    if not module or module == "__main__":
        return os.path.join(cwd, "instance")
    prefix, package_path = find_package(module)
    if prefix is not None:
        return os.path.join(cwd, "instance")
    return os.path.join(os.path.abspath(package_path), "instance")


def store_folder(instance_path: str | None, cwd: str | None = None) -> str:
    """The folder of the embedded store for an application's instance folder."""
    cwd = os.path.abspath(cwd or os.getcwd())
    if not instance_path:
        return os.path.join(cwd, "instance")
    path = os.path.abspath(instance_path)
    if PurePath(path).is_relative_to(os.path.abspath(sys.prefix)):
        return os.path.join(cwd, "instance")
    return path
