"""Which regular expressions may backtrack exponentially, from their shape.

The one module that reads CPython's private regular-expression parser
(``re._parser`` and ``re._constants``): :func:`backtracking_risk` walks the
parse tree of a pattern and names the first shape that can take exponential
time, a backreference or a quantifier or alternation inside a repeated part
(``(a+)+``, ``(a|ab)*``). Those modules are not a public API: the tree's
shape is checked for the Python versions in :data:`KNOWN_PYTHON`, and the
test of this module fails on any other version until it is checked there.

Layer: the store, a helper below the request core; its bottom.
"""

from __future__ import annotations

import re._constants as _sre  # type: ignore[import-not-found]
import re._parser as _sre_parse  # type: ignore[import-not-found]
from collections.abc import Iterable
from typing import Any

__all__ = ["KNOWN_PYTHON", "backtracking_risk"]

#: (major, minor) versions whose parse trees this module was checked against.
KNOWN_PYTHON = ((3, 11), (3, 12), (3, 13))

_REPEATS = frozenset((_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT))


def backtracking_risk(pattern: str, flags: int = 0) -> str | None:
    """Why matching ``pattern`` may take exponential time, or None.

    Raises ``re.error`` for a pattern that does not parse.
    """
    return _risk(_sre_parse.parse(pattern, flags), repeated=False)


def _risk(parsed: Any, *, repeated: bool) -> str | None:
    """The risk of a parsed (sub)pattern; ``repeated`` tells whether it sits
    inside a repeated part."""
    for op, arg in parsed:
        if op in (_sre.GROUPREF, _sre.GROUPREF_EXISTS):
            return "backreferences are not supported"
        if op in _REPEATS:
            if repeated:
                return "it nests quantifiers, as in (a+)+, which can take exponential time"
            # an optional part (at most once) does not repeat what it holds
            problem = _risk(arg[2], repeated=arg[1] > 1)
        elif op == _sre.BRANCH:
            if repeated:
                return "it repeats an alternation, as in (a|ab)+, which can take exponential time"
            problem = _first_risk(arg[1], repeated=repeated)
        elif op == _sre.SUBPATTERN:
            problem = _risk(arg[3], repeated=repeated)
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            problem = _risk(arg[1], repeated=repeated)
        elif op == _sre.ATOMIC_GROUP:
            problem = _risk(arg, repeated=repeated)
        else:
            problem = None
        if problem:
            return problem
    return None


def _first_risk(branches: Iterable[Any], *, repeated: bool) -> str | None:
    return next((p for p in (_risk(b, repeated=repeated) for b in branches) if p), None)
