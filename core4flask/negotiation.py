"""Accept-header negotiation and the DataFrame renderers.

Negotiation follows core4 (and python-mimeparse): every media range of the
Accept header is weighed against each supported type by quality, then by
specificity, then by the supported type's position (later wins). A header
that cannot be parsed is no preference, which means JSON.

CSV answers are safe to open in a spreadsheet: a string cell (and a string
label) starting with ``=``, ``+``, ``-``, ``@``, tab, CR or NUL gets a
leading single quote (:func:`neutralise_formulas`, OWASP's advice against
CSV injection), unless the caller turns that off. Text answers carry
``charset=utf-8``.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .records import records_json

#: Types ``reply()`` can produce, in core4's order (order breaks ties).
SUPPORTED_TYPES = ("text/html", "text/plain", "text/csv", "application/json")

#: ``content_type`` argument values and the media type each selects.
SHORT_NAMES = {
    "json": "application/json",
    "html": "text/html",
    "text": "text/plain",
    "csv": "text/csv",
}
_SHORT_BY_TYPE = {v: k for k, v in SHORT_NAMES.items()}
#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


def parse_accept(header: str) -> list[tuple[str, str, float]] | None:
    """Parse an Accept header into ``(type, subtype, q)``; None if malformed."""
    ranges = []
    for item in header.split(","):
        item = item.strip()
        if not item:
            continue
        media, *params = item.split(";")
        media = media.strip().lower()
        if media == "*":
            media = "*/*"
        kind, sep, subtype = media.partition("/")
        if not sep or not kind or not subtype:
            return None
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    return None
                if not 0.0 <= quality <= 1.0:
                    return None
        ranges.append((kind, subtype, quality))
    return ranges


def _fitness(supported: str, kind: str, subtype: str) -> int:
    s_kind, s_subtype = supported.split("/", 1)
    if kind not in ("*", s_kind) or subtype not in ("*", s_subtype):
        return -1
    return (100 if kind == s_kind else 0) + (10 if subtype == s_subtype else 0)


@lru_cache(maxsize=512)
def best_match(header: str, supported: tuple[str, ...] = SUPPORTED_TYPES) -> str:
    """Return the supported type the header prefers most, or ``""``."""
    ranges = parse_accept(header or "")
    if not ranges:
        return ""
    best: tuple[float, int, int] = (0.0, -1, -1)
    choice = ""
    for position, candidate in enumerate(supported):
        fit, quality = -1, 0.0
        for kind, subtype, q in ranges:
            f = _fitness(candidate, kind, subtype)
            if f > fit:
                fit, quality = f, q
        score = (quality, fit, position)
        if fit >= 0 and quality > 0 and score > best:
            best, choice = score, candidate
    return choice


def wanted_type(accept: str, content_type_argument: str | None) -> str:
    """The short name (json/html/text/csv) a client wants; ``json`` by default.

    The ``content_type`` argument wins over the Accept header.
    """
    if content_type_argument is not None:
        short = content_type_argument.strip().lower()
        return short if short in SHORT_NAMES else "json"
    return _SHORT_BY_TYPE.get(best_match(accept), "json")


def wanted_error_type(accept: str, content_type_argument: str | None) -> str:
    """Like :func:`wanted_type`, for error pages (html, text or json)."""
    return wanted_type(accept, content_type_argument)


def is_dataframe(value: Any) -> bool:
    """True for a pandas DataFrame, without importing pandas eagerly."""
    return type(value).__name__ == "DataFrame" and hasattr(value, "to_csv")


def render_dataframe(frame: Any, kind: str, *, neutralise: bool = True) -> tuple[str, str]:
    """Render a DataFrame as ``(body, content type)`` for html, csv or text.

    ``neutralise`` (CSV only) quotes cells a spreadsheet would run as formulas.
    """
    if kind == "csv":
        return (neutralise_formulas(frame) if neutralise else frame).to_csv(), "text/csv; charset=utf-8"
    if kind == "html":
        return frame.to_html(), "text/html; charset=utf-8"
    if kind == "text":
        return frame.to_string(), "text/plain; charset=utf-8"
    raise ValueError(f"no DataFrame renderer for [{kind}]")


def neutralise_formulas(frame: Any) -> Any:
    """``frame`` with a ``'`` before every string cell that starts with a formula trigger.

    Only string (object or string dtype) columns, and string index values and
    column labels, are looked at, column by column with pandas' vectorised
    string methods; the frame is copied only when a cell changes.
    """
    import pandas as pd

    result = frame
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if not _holds_strings(column.dtype):
            continue
        hits = column.str.startswith(FORMULA_TRIGGERS, na=False).to_numpy(dtype=bool)
        if hits.any():
            if result is frame:
                result = frame.copy()
            result.iloc[hits, position] = "'" + column[hits].astype(str)
    index, columns = result.index, result.columns
    if not isinstance(index, pd.MultiIndex) and _holds_strings(index.dtype):
        hits = index.str.startswith(FORMULA_TRIGGERS, na=False)
        if hits.any():
            result = result.copy() if result is frame else result
            result.index = index.where(~hits, "'" + index.astype(str))
    if not isinstance(columns, pd.MultiIndex) and _holds_strings(columns.dtype):
        hits = columns.str.startswith(FORMULA_TRIGGERS, na=False)
        if hits.any():
            result = result.copy() if result is frame else result
            result.columns = columns.where(~hits, "'" + columns.astype(str))
    return result


def _holds_strings(dtype: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)


def dataframe_records_json(frame: Any) -> str:
    """The DataFrame as the JSON list of its records, as core4 sends them
    (see :mod:`core4flask.records`)."""
    return records_json(frame)
