# The names core4flask/__init__.py loads on first use, for type checkers.
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
