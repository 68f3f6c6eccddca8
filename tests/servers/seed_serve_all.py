"""Serve every seed example container with ``serve()``.

Run as a script, its folder is on ``sys.path``: ``seed_project`` is a
top-level package, as a user's project would be.
"""

from seed_project.handlers import (
    CoreApiServer,
    TenantServer,
    TestContainer,
    TestServer,
    UnnamedTenantServer,
)

from core4flask import serve

if __name__ == "__main__":
    serve(TestServer, TestContainer, CoreApiServer, TenantServer, UnnamedTenantServer)
