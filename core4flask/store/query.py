"""The safe subset of MongoDB queries accepted for role lists.

:func:`validate_query` checks a client-supplied query and returns a
normalized copy; :func:`match` and :func:`sort_docs` evaluate it in Python
with MongoDB's semantics (the SQLite store uses them, and MongoDB runs the
same normalized query itself). The subset never touches ``password``, so a
client cannot probe password hashes through a filter.

Supported: implicit equality (against a list field it means "contains"),
``$eq $ne $in $nin $gt $gte $lt $lte $exists $regex`` (with ``$options`` made
of ``i``, ``m``, ``s``) and ``$and $or $nor``. Compiled ``re`` patterns are
accepted where MongoDB accepts regular expressions (as a value and inside
``$in``/``$nin``).

Regular expressions come from clients, so they are bounded: at most
:data:`MAX_REGEX_LENGTH` characters, no backreferences, and no quantifier or
alternation inside a repeated part (``(a+)+``, ``(a|ab)*``), the shapes that
backtrack exponentially (:mod:`.regex_shape` tells them). Both backends
refuse the same patterns. What is left
(say ``.*.*.*x``, polynomial) is cut off by time: :func:`match` evaluates
with the ``regex`` package under a deadline (:data:`REGEX_TIME_LIMIT` for one
query) and MongoDB gets ``maxTimeMS``; running over is a :class:`QueryError`.

Layer: the store, a helper below the request core; below base.py, above the
document helpers and the regex shape check.
"""

from __future__ import annotations

import functools
import operator
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import regex
from bson import ObjectId
from bson.regex import Regex

from ._documents import ROLE_FIELDS, normalize_id, to_naive_utc
from .regex_shape import backtracking_risk

#: fields a query or a sort may name (never ``password``)
ALLOWED_FIELDS = ROLE_FIELDS - {"password"}

#: fields holding ids (ObjectIds in MongoDB, 24-hex strings in the API)
ID_FIELDS = frozenset(("_id", "role", "etag"))

_LOGICAL = frozenset(("$and", "$or", "$nor"))
_COMPARE = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
_COMPARISONS = frozenset(_COMPARE)
_FIELD_OPERATORS = frozenset(("$eq", "$ne", "$in", "$nin", "$exists", "$regex", "$options")) | _COMPARISONS
_OPTION_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
_SCALARS = (str, int, float, bool, datetime)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: longest regular expression a query may carry
MAX_REGEX_LENGTH = 512
#: how deep ``$and``/``$or``/``$nor`` may nest by default
MAX_QUERY_DEPTH = 16
#: seconds the regular expressions of one query may take together
REGEX_TIME_LIMIT = 0.5


class QueryError(ValueError):
    """The query is malformed or leaves the safe subset."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: stands for a field that a document does not have
MISSING: Any = _Missing()


# -- validation ---------------------------------------------------------------


@dataclass(frozen=True)
class QueryRules:
    """What a query may name and use; :data:`ROLE_QUERIES` for role lists.

    One validator serves every query a client sends: the roles API's
    ``filter`` and ``_info``'s ``filter`` differ only in these rules.
    """

    #: the fields a query may name; None: any plain name (letters, digits, ``_``)
    fields: frozenset[str] | None = None
    #: fields that exist but can never be queried (named in the refusal)
    hidden: frozenset[str] = frozenset()
    #: fields holding ids: values are normalized, regular expressions refused
    id_fields: frozenset[str] = frozenset()
    #: fields holding datetimes: string values go through :attr:`parse_date`
    date_fields: frozenset[str] = frozenset()
    #: turns a string of a date field into a datetime (raises on bad input)
    parse_date: Callable[[str], datetime] | None = None
    #: whether ``$regex`` (and compiled patterns) may be used
    regex: bool = True
    #: what the refusal of a regular expression suggests instead
    regex_hint: str = ""
    #: how deep ``$and``/``$or``/``$nor`` may nest (deeper would exhaust the stack)
    max_depth: int = MAX_QUERY_DEPTH


#: The rules of role queries (the roles API and the stores).
ROLE_QUERIES = QueryRules(fields=ALLOWED_FIELDS, hidden=frozenset(("password",)), id_fields=ID_FIELDS)


def validate_query(query: Any, rules: QueryRules = ROLE_QUERIES) -> dict[str, Any]:
    """Check ``query`` and return its normalized form.

    Every field condition becomes an operator dict (``{"name": "x"}`` turns
    into ``{"name": {"$eq": "x"}}``), ids are lower-cased and datetimes made
    naive UTC. Raises :class:`QueryError` for anything outside the subset or
    the ``rules``.
    """
    if query is None:
        return {}
    return _validate_document(query, rules, 0)


def validate_sort(field: str, order: int) -> tuple[str, int]:
    """Check a sort field of a role list and its direction (1 or -1)."""
    _check_field(field, ROLE_QUERIES)
    if isinstance(order, bool) or order not in (1, -1):
        raise QueryError(f"sort order must be 1 or -1, got {order!r}")
    return field, order


def validate_page(skip: int, limit: int | None) -> tuple[int, int | None]:
    """Check ``skip`` and ``limit``; a limit of 0 means none, as in MongoDB."""
    if not isinstance(skip, int) or skip < 0:
        raise QueryError(f"skip must be a non-negative integer, got {skip!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise QueryError(f"limit must be a non-negative integer, got {limit!r}")
    return skip, limit or None


def _validate_document(query: Any, rules: QueryRules, depth: int) -> dict[str, Any]:
    if not isinstance(query, Mapping):
        raise QueryError("a query must be a JSON object")
    if depth > rules.max_depth:
        raise QueryError(f"a query nests deeper than {rules.max_depth} levels")
    normalized: dict[str, Any] = {}
    for key, value in query.items():
        if not isinstance(key, str):
            raise QueryError(f"invalid key {key!r}")
        if key in _LOGICAL:
            if not isinstance(value, list | tuple) or not value:
                raise QueryError(f"[{key}] needs a non-empty list of queries")
            normalized[key] = [_validate_document(part, rules, depth + 1) for part in value]
        elif key.startswith("$"):
            raise QueryError(f"unknown operator [{key}]")
        else:
            _check_field(key, rules)
            normalized[key] = _validate_condition(key, value, rules)
    return normalized


def _check_field(field: Any, rules: QueryRules) -> None:
    if not isinstance(field, str):
        raise QueryError(f"invalid field {field!r}")
    if field.split(".")[0] in rules.hidden:
        raise QueryError(f"field [{field.split('.')[0]}] cannot be queried")
    known = _PLAIN_NAME.fullmatch(field) is not None if rules.fields is None else field in rules.fields
    if not known:
        raise QueryError(f"unknown field [{field}]")


def _validate_condition(field: str, condition: Any, rules: QueryRules) -> dict[str, Any]:
    if isinstance(condition, re.Pattern):
        return _validate_regex(field, condition, None, rules)
    if not isinstance(condition, Mapping):
        return {"$eq": _validate_value(field, condition, rules, allow_list=True)}
    if not condition:
        raise QueryError(f"empty condition for field [{field}]")
    operators = [key for key in condition if isinstance(key, str) and key[:1] == "$"]
    if len(operators) != len(condition):
        raise QueryError(f"sub-document conditions are not supported [{field}]")
    normalized: dict[str, Any] = {}
    for op, arg in condition.items():
        if op not in _FIELD_OPERATORS:
            raise QueryError(f"unknown operator [{op}]")
        if op in ("$eq", "$ne"):
            normalized[op] = _validate_value(field, arg, rules, allow_list=True)
        elif op in ("$in", "$nin"):
            normalized[op] = _validate_members(field, op, arg, rules)
        elif op in _COMPARISONS:
            normalized[op] = _validate_bound(field, op, arg, rules)
        elif op == "$exists":
            if not isinstance(arg, bool | int):
                raise QueryError("[$exists] needs true or false")
            normalized[op] = bool(arg)
        elif op == "$regex":
            normalized.update(_validate_regex(field, arg, condition.get("$options"), rules))
        elif "$regex" not in condition:
            raise QueryError("[$options] needs [$regex]")
    return normalized


def _validate_value(field: str, value: Any, rules: QueryRules, *, allow_list: bool = False) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_naive_utc(value)
    if isinstance(value, str):
        if field in rules.id_fields:
            return normalize_id(value) or value
        if field in rules.date_fields and rules.parse_date is not None:
            return to_naive_utc(rules.parse_date(value))
        return value
    if isinstance(value, _SCALARS):
        return value
    if allow_list and isinstance(value, list | tuple):
        return [_validate_value(field, item, rules) for item in value]
    raise QueryError(f"unsupported value for field [{field}]: {value!r}")


def _validate_members(field: str, op: str, values: Any, rules: QueryRules) -> list[Any]:
    if not isinstance(values, list | tuple):
        raise QueryError(f"[{op}] needs a list")
    members = []
    for value in values:
        if isinstance(value, re.Pattern):
            _allow_regex(field, rules)
            members.append(_compile(value.pattern, _pattern_flags(value.flags)))
        else:
            members.append(_validate_value(field, value, rules, allow_list=True))
    return members


def _validate_bound(field: str, op: str, value: Any, rules: QueryRules) -> Any:
    if field in rules.id_fields and value is not None and normalize_id(value) is None:
        raise QueryError(f"[{op}] on [{field}] needs a 24-hex id")
    return _validate_value(field, value, rules)


def _allow_regex(field: str, rules: QueryRules) -> None:
    if not rules.regex or field in rules.id_fields:
        hint = f"; {rules.regex_hint}" if rules.regex_hint else ""
        raise QueryError(f"regular expressions are not supported on [{field}]{hint}")


def _validate_regex(field: str, pattern: Any, options: Any, rules: QueryRules) -> dict[str, Any]:
    _allow_regex(field, rules)
    flags = 0
    if isinstance(pattern, re.Pattern):
        flags = _pattern_flags(pattern.flags)
        pattern = pattern.pattern
    if not isinstance(pattern, str):
        raise QueryError("[$regex] needs a string")
    if options is not None:
        if not isinstance(options, str) or set(options) - set(_OPTION_FLAGS):
            raise QueryError("[$options] may combine i, m and s only")
        for letter in options:
            flags |= _OPTION_FLAGS[letter]
    _compile(pattern, flags)
    return {"$regex": pattern, "$options": regex_options(flags)}


def regex_options(flags: int) -> str:
    """The MongoDB ``$options`` letters for the ``re`` flags of the subset."""
    return "".join(letter for letter, flag in _OPTION_FLAGS.items() if flags & flag)


_ALLOWED_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL


def _pattern_flags(flags: int) -> int:
    if flags & ~(_ALLOWED_FLAGS | re.UNICODE):
        raise QueryError("regular expressions may use the flags i, m and s only")
    return flags & _ALLOWED_FLAGS


@functools.lru_cache(maxsize=256)
def _compile(pattern: str, flags: int) -> re.Pattern[str]:
    if len(pattern) > MAX_REGEX_LENGTH:
        raise QueryError(f"regular expression longer than {MAX_REGEX_LENGTH} characters")
    try:
        compiled = re.compile(pattern, flags)
        problem = backtracking_risk(pattern, flags)
        _bounded(pattern, flags)
    except (re.error, regex.error) as exc:
        raise QueryError(f"invalid regular expression {pattern!r}: {exc}") from None
    if problem:
        raise QueryError(f"regular expression {pattern!r} refused: {problem}")
    return compiled


@functools.lru_cache(maxsize=256)
def _bounded(pattern: str, flags: int) -> regex.Pattern:
    """The pattern for evaluation: the ``regex`` package can stop a match after a timeout."""
    return regex.compile(pattern, flags)


def uses_regex(query: dict[str, Any]) -> bool:
    """Whether a validated query contains a regular expression."""
    for key, value in query.items():
        if key in _LOGICAL:
            if any(uses_regex(part) for part in value):
                return True
        elif "$regex" in value or any(
            isinstance(item, re.Pattern) for op in ("$in", "$nin") for item in value.get(op, ())
        ):
            return True
    return False


def regex_deadline() -> float:
    """The :func:`time.monotonic` time by which a query's regular expressions must be done."""
    return time.monotonic() + REGEX_TIME_LIMIT


def to_mongo_query(query: dict[str, Any]) -> dict[str, Any]:
    """Prepare a validated query for MongoDB: ObjectIds for ids, BSON regexes."""
    converted: dict[str, Any] = {}
    for key, value in query.items():
        if key in _LOGICAL:
            converted[key] = [to_mongo_query(part) for part in value]
        else:
            converted[key] = {op: _to_mongo_argument(key, arg) for op, arg in value.items()}
    return converted


def _to_mongo_argument(field: str, value: Any) -> Any:
    if isinstance(value, list):
        return [_to_mongo_argument(field, item) for item in value]
    if isinstance(value, re.Pattern):
        return Regex(value.pattern, regex_options(value.flags))
    if field in ID_FIELDS and isinstance(value, str) and normalize_id(value):
        return ObjectId(value)
    return value


# -- evaluation ---------------------------------------------------------------


def _bracket(value: Any) -> int:
    """MongoDB's type order; values compare only within one bracket."""
    if value is None or value is MISSING:
        return 1
    if isinstance(value, bool):
        return 8
    if isinstance(value, int | float):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, Mapping):
        return 4
    if isinstance(value, list | tuple):
        return 5
    if isinstance(value, datetime):
        return 9
    return 10


def _equal(left: Any, right: Any) -> bool:
    if _bracket(left) != _bracket(right):
        return False
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(map(_equal, left, right))
    return bool(left == right)


def _candidates(value: Any) -> Iterable[Any]:
    if value is MISSING:
        return ()
    return value if isinstance(value, list) else (value,)


def _op_eq(value: Any, arg: Any) -> bool:
    if arg is None and (value is None or value is MISSING):
        return True
    if value is MISSING:
        return False
    if isinstance(value, list):
        return _equal(value, arg) or any(_equal(item, arg) for item in value)
    return _equal(value, arg)


def _op_in(value: Any, args: list[Any], deadline: float) -> bool:
    for arg in args:
        if isinstance(arg, re.Pattern):
            if _regex_matches(value, arg.pattern, arg.flags & _ALLOWED_FLAGS, deadline):
                return True
        elif _op_eq(value, arg):
            return True
    return False


def _op_compare(value: Any, op: str, arg: Any) -> bool:
    if arg is None:
        return op in ("$gte", "$lte") and _op_eq(value, None)
    bracket = _bracket(arg)
    compare = _COMPARE[op]
    return any(_bracket(item) == bracket and compare(item, arg) for item in _candidates(value))


def _regex_matches(value: Any, pattern: str, flags: int, deadline: float) -> bool:
    compiled = _bounded(pattern, flags)
    for item in _candidates(value):
        if not isinstance(item, str):
            continue
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            if compiled.search(item, timeout=remaining) is not None:
                return True
        except TimeoutError:
            raise QueryError(
                f"regular expression {pattern!r} took too long (over {REGEX_TIME_LIMIT} s for the query)"
            ) from None
    return False


def _condition_matches(value: Any, condition: dict[str, Any], deadline: float) -> bool:
    for op, arg in condition.items():
        if op == "$eq":
            ok = _op_eq(value, arg)
        elif op == "$ne":
            ok = not _op_eq(value, arg)
        elif op == "$in":
            ok = _op_in(value, arg, deadline)
        elif op == "$nin":
            ok = not _op_in(value, arg, deadline)
        elif op in _COMPARISONS:
            ok = _op_compare(value, op, arg)
        elif op == "$exists":
            ok = (value is not MISSING) is arg
        elif op == "$regex":
            flags = 0
            for letter in condition.get("$options", ""):
                flags |= _OPTION_FLAGS[letter]
            ok = _regex_matches(value, arg, flags, deadline)
        else:  # $options, read together with $regex
            ok = True
        if not ok:
            return False
    return True


def match(doc: Mapping[str, Any], query: dict[str, Any], deadline: float | None = None) -> bool:
    """Return whether ``doc`` satisfies a query returned by :func:`validate_query`.

    Regular expressions must be done by ``deadline`` (:func:`time.monotonic`
    time; default: :data:`REGEX_TIME_LIMIT` from now), else :class:`QueryError`.
    Pass one :func:`regex_deadline` for all documents of a query.
    """
    if deadline is None:
        deadline = regex_deadline()
    for key, value in query.items():
        if key == "$and":
            ok = all(match(doc, part, deadline) for part in value)
        elif key == "$or":
            ok = any(match(doc, part, deadline) for part in value)
        elif key == "$nor":
            ok = not any(match(doc, part, deadline) for part in value)
        else:
            ok = _condition_matches(doc.get(key, MISSING), value, deadline)
        if not ok:
            return False
    return True


# -- sorting ------------------------------------------------------------------


def _scalar_key(value: Any) -> tuple[Any, ...]:
    bracket = _bracket(value)
    if bracket == 1:
        return (1, 0)
    if bracket == 4:
        return (4, tuple((k, _scalar_key(v)) for k, v in value.items()))
    if bracket == 5:
        return (5, tuple(_scalar_key(v) for v in value))
    if bracket == 10:
        return (10, repr(value))
    return (bracket, value)


def sort_key(value: Any, descending: bool = False) -> tuple[Any, ...]:
    """Return MongoDB's sort key for a field value.

    Missing and null sort first (an empty array even before them); an array
    sorts by its smallest element ascending and by its largest descending.
    """
    if isinstance(value, list):
        if not value:
            return (0, 0)
        keys = [_scalar_key(item) for item in value]
        return max(keys) if descending else min(keys)
    return _scalar_key(value)


def sort_docs(docs: Iterable[dict[str, Any]], field: str, order: int) -> list[dict[str, Any]]:
    """Sort documents by ``field`` (``order`` 1 or -1), ties by ``_id`` ascending."""
    ordered = sorted(docs, key=lambda doc: _scalar_key(doc.get("_id")))
    if field == "_id" and order == 1:
        return ordered
    descending = order < 0
    ordered.sort(
        key=lambda doc: sort_key(doc.get(field, MISSING), descending),
        reverse=descending,
    )
    return ordered
