"""Accept-header negotiation and the DataFrame renderers.

Negotiation follows core4 (and python-mimeparse): every media range of the
Accept header is weighed against each supported type by quality, then by
specificity, then by the supported type's position (later wins). A header
that cannot be parsed is no preference, which means JSON.

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


def render_dataframe(frame: Any, kind: str) -> tuple[str, str]:
    """Render a DataFrame as ``(body, content type)`` for html, csv or text."""
    if kind == "csv":
        return frame.to_csv(), "text/csv"
    if kind == "html":
        return frame.to_html(), "text/html"
    if kind == "text":
        return frame.to_string(), "text/plain"
    raise ValueError(f"no DataFrame renderer for [{kind}]")


def dataframe_records_json(frame: Any) -> str:
    """The DataFrame as the JSON list of its records, as core4 sends them
    (see :mod:`core4flask.records`)."""
    return records_json(frame)
