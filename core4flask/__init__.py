"""core4flask: core4's web-service API and mini applications on Flask.

The package face: it re-exports the public API and belongs to no layer (see
the README's Layout).
"""

from __future__ import annotations

from .app import Core4 as Core4
from .app import create_app as create_app
from .container import CoreApiContainer as CoreApiContainer
from .errors import HTTPError as HTTPError
from .handler import CoreRequestHandler as CoreRequestHandler
from .pagination import CorePager as CorePager
from .pagination import PageResult as PageResult
from .serve import serve as serve
from .static import CoreStaticFileHandler as CoreStaticFileHandler
from .tenant import CoreTenantHandler as CoreTenantHandler
from .version import __version__ as __version__

__all__ = [
    "Core4",
    "CoreApiContainer",
    "CorePager",
    "CoreRequestHandler",
    "CoreStaticFileHandler",
    "CoreTenantHandler",
    "HTTPError",
    "PageResult",
    "create_app",
    "serve",
]
