"""A DataFrame as the JSON list of its records, exactly as core4 sends it.

core4 replies ``df.to_dict("records")`` through its JSON encoder: numbers
as they are, datetimes as ``isoformat()``, timedeltas as seconds. pandas'
own ``to_json`` is not that: it rounds floats to ten decimal places
(``1.5e-12`` becomes ``0.0``, ``1/3`` loses six digits) and writes every
datetime with microseconds. Building Python records first is exact but
slow, so this module writes the records column by column:

* every column becomes a list of JSON texts, one per row: numbers and
  booleans in one orjson call over the numpy array (shortest round-trip
  form; NaN and infinities become ``null``), plain strings as they are (the
  quotes come with the separators), whole-second datetimes by numpy, and
  anything else value by value through the envelope's encoder;
* the columns are then interleaved with the keys into one string.

For a 10,000 x 5 frame of numbers, strings and datetimes that takes about
half of what ``to_json`` takes.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from .envelope import dumps

__all__ = ["records_json"]

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
#: the datetimes ``isoformat()`` can write (those of Python's datetime)
_FIRST_SECOND = "0001-01-01T00:00:00"
_LAST_SECOND = "9999-12-31T23:59:59"
#: characters a JSON string cannot hold as they are
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def records_json(frame: Any) -> str:
    """``frame.to_dict("records")`` as JSON text (NaN and NaT as null)."""
    rows = len(frame)
    if rows == 0:
        return "[]"
    columns = [_column(series) for _, series in frame.items()]
    if not columns:
        return "[" + ",".join(["{}"] * rows) + "]"
    keys = [_key(name) for name in frame.columns]
    # quoted columns get their quotes from the separators around them
    opening = ['"' if quoted else "" for _, quoted in columns]
    closing = [opening[-1], *opening[:-1]]  # what ends the value before each separator
    width = len(columns)
    parts: list[str] = [""] * (2 * width * rows)
    for index, (texts, _) in enumerate(columns):
        between = "},{" if index == 0 else ","
        parts[2 * index :: 2 * width] = [f"{closing[index]}{between}{keys[index]}:{opening[index]}"] * rows
        parts[2 * index + 1 :: 2 * width] = texts
    parts[0] = f"[{{{keys[0]}:{opening[0]}"
    return "".join(parts) + opening[-1] + "}]"


def _key(name: Any) -> str:
    """A column name as a JSON object key (as ``json.dumps`` writes keys)."""
    if isinstance(name, str):
        return orjson.dumps(name).decode()
    try:
        return orjson.dumps({name: 0}, option=orjson.OPT_NON_STR_KEYS)[1:-3].decode()
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(str(name)).decode()


def _column(series: Any) -> tuple[list[str], bool]:
    """The JSON texts of a column's values, and whether they still need quotes."""
    values = series.to_numpy()
    kind = values.dtype.kind
    if kind in "iufb":
        import numpy as np

        if kind == "f" and values.dtype.itemsize < 8:
            values = values.astype("float64")  # what to_dict hands out: Python floats
        encoded = orjson.dumps(np.ascontiguousarray(values), option=_NUMPY).decode()
        return encoded[1:-1].split(","), False
    if kind == "M":
        texts = _whole_seconds(values)
        if texts is not None:
            return texts, True
    elif kind == "O":
        texts = _plain_strings(values)
        if texts is not None:
            return texts, True
    return [dumps(value).decode() for value in series.astype(object).tolist()], False


def _whole_seconds(values: Any) -> list[str] | None:
    """``isoformat()`` of naive datetimes without fractions; None otherwise."""
    import numpy as np

    seconds = values.astype("datetime64[s]")
    # NaT compares unequal to itself, so a column with NaT goes value by value
    if not (seconds == values).all():
        return None
    if seconds.min() < np.datetime64(_FIRST_SECOND) or seconds.max() > np.datetime64(_LAST_SECOND):
        return None  # beyond what Python's datetime (and so isoformat) knows
    texts: list[str] = np.datetime_as_string(seconds, unit="s").tolist()
    return texts


def _plain_strings(values: Any) -> list[str] | None:
    """The strings themselves when every value is one that needs no escape."""
    from pandas.api.types import infer_dtype

    if infer_dtype(values, skipna=False) != "string":
        return None
    texts: list[str] = values.tolist()
    if _NEEDS_ESCAPE.search("".join(texts)):
        return None
    return texts
