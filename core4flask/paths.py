"""Where a handler's project, templates and static files live.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path


@cache
def module_name(module: str) -> str:
    """A module's importable name; scripts run as ``__main__`` use their file stem."""
    if module != "__main__":
        return module
    main = sys.modules.get("__main__")
    filename = getattr(main, "__file__", None)
    return Path(filename).stem if filename else "__main__"


def qual_name_of(cls: type) -> str:
    """``module.ClassName`` of a handler or container class."""
    key = (cls, cls.__module__, cls.__qualname__)
    found = _QUAL_NAMES.get(key)
    if found is None:
        found = _QUAL_NAMES[key] = f"{module_name(cls.__module__)}.{cls.__qualname__}"
    return found


#: qual_names by (class, module, qualname): asked on every protected request
_QUAL_NAMES: dict[tuple[type, str, str], str] = {}


def project_of(cls: type) -> str:
    """The top-level package of a class's module (core4's project name)."""
    return module_name(cls.__module__).split(".", 1)[0]


@cache
def module_dir(module: str) -> Path:
    """The directory holding a module's source file."""
    mod = sys.modules.get(module)
    filename = getattr(mod, "__file__", None)
    return Path(filename).resolve().parent if filename else Path.cwd()


@cache
def project_root(module: str) -> Path:
    """The directory of the module's top-level package, or of the module itself."""
    top = module.split(".", 1)[0]
    mod = sys.modules.get(top) or sys.modules.get(module)
    filename = getattr(mod, "__file__", None)
    if not filename:
        # a namespace package has no __init__.py, only its folder
        locations = list(getattr(mod, "__path__", None) or ())
        return Path(locations[0]).resolve() if locations else Path.cwd()
    path = Path(filename).resolve()
    return path.parent


def resolve_folder(path: str | os.PathLike[str] | None, module: str, relative_to: Path | None = None) -> Path:
    """Resolve a template/static folder setting for a class in ``module``.

    ``None`` is the module's directory; ``/a/b`` is below the project root
    (or the absolute path when only that exists); ``a/b`` is below the
    module's directory (or ``relative_to``).
    """
    base = relative_to if relative_to is not None else module_dir(module)
    if path is None or str(path) == "":
        return base
    text = os.fspath(path)
    if text.startswith("/"):
        below = project_root(module) / text.lstrip("/")
        if below.is_dir() or not Path(text).is_dir():
            return below
        return Path(text)
    return base / text
