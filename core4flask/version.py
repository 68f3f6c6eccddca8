"""The version of core4flask, in one place.

``core4flask.__version__`` re-exports it; ``pyproject.toml`` reads it when
the package is built; the registry, ``_info?version`` and the OpenAPI
document report it. A pure helper: it imports nothing.
"""

from __future__ import annotations

__version__ = "0.1.0"
