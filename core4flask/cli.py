"""``coco``: serve containers from the command line.

Layer: entry point; it may use every layer below (see the README's Layout).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Iterable, Sequence
from types import ModuleType

from .container import CoreApiContainer
from .serve import serve


def import_prefix(prefix: str) -> ModuleType | None:
    """Import the longest importable module prefix of a dotted qual_name prefix."""
    parts = prefix.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and not name.startswith(exc.name) and exc.name != name:
                raise
    return None


def import_below(module: ModuleType) -> None:
    """Import every submodule of a package (so its containers are defined)."""
    path = getattr(module, "__path__", None)
    if path is None:
        return
    for info in pkgutil.walk_packages(path, module.__name__ + "."):
        importlib.import_module(info.name)


def all_containers() -> Iterable[type[CoreApiContainer]]:
    """Every CoreApiContainer subclass defined so far."""
    pending = list(CoreApiContainer.__subclasses__())
    seen: set[type] = set()
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        pending.extend(cls.__subclasses__())
        yield cls


def find_containers(filters: Sequence[str]) -> list[type[CoreApiContainer]]:
    """Containers whose qual_name starts with one of ``filters``."""
    for prefix in filters:
        module = import_prefix(prefix)
        if module is None:
            raise SystemExit(f"coco: nothing importable in filter [{prefix}]")
        import_below(module)
    # the standard containers match too (``--filter core4flask.server``);
    # create_app() does not add them a second time
    found = [c for c in all_containers() if any(c.qual_name().startswith(p) for p in filters)]
    return sorted(found, key=lambda c: c.qual_name())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``coco`` console script."""
    parser = argparse.ArgumentParser(prog="coco", description="serve core4flask containers")
    parser.add_argument("--application", action="store_true", help="serve containers (required)")
    parser.add_argument("--filter", action="append", default=[], metavar="QUAL_NAME_PREFIX")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--address", default=None)
    parser.add_argument("--reuse-port", dest="reuse_port", action="store_true", default=True)
    parser.add_argument("--no-reuse-port", dest="reuse_port", action="store_false")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.application:
        parser.error("nothing to do: pass --application")
    if not args.filter:
        parser.error("pass at least one --filter QUAL_NAME_PREFIX")
    sys.path.insert(0, ".")
    containers = find_containers(args.filter)
    if not containers:
        print(f"coco: no container matches {args.filter}", file=sys.stderr)
        return 2
    serve(*containers, port=args.port, address=args.address, workers=args.workers, reuse_port=args.reuse_port)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
