"""core4flask: core4's web-service API and mini applications on Flask.

The package face: it re-exports the public API and belongs to no layer (see
the README's Layout).

The names are loaded on first use (PEP 562). gunicorn imports
``core4flask.gunicorn_conf`` in its master process, before a gevent worker
monkey-patches the standard library: importing the whole package there
would load pymongo's and PyJWT's ``ssl`` references unpatched into every
worker. ``__init__.pyi`` gives type checkers the same names.
"""

from __future__ import annotations

import importlib
from typing import Any

from .version import __version__ as __version__

#: public name -> the module that defines it
_EXPORTS = {
    "Core4": "app",
    "create_app": "app",
    "CoreApiContainer": "container",
    "HTTPError": "errors",
    "CoreRequestHandler": "handler",
    "CorePager": "pagination",
    "PageResult": "pagination",
    "serve": "serve",
    "CoreStaticFileHandler": "static",
    "CoreTenantHandler": "tenant",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
