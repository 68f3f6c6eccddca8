"""DataFrames as JSON records: exactly core4's ``to_dict("records")`` through the encoder."""

from __future__ import annotations

import datetime
import decimal
import json
import math

import numpy as np
import pandas as pd
import pytest

from core4flask import CoreApiContainer, CorePager, CoreRequestHandler, PageResult
from core4flask.envelope import dumps
from core4flask.records import records_json
from tests.fixtures import make_client


def core4_records(frame: pd.DataFrame) -> list[dict]:
    """What core4 sends: the records as Python objects, through the envelope's encoder."""
    return json.loads(dumps(frame.to_dict("records")))


FRAMES = {
    "numbers": pd.DataFrame(
        {
            "i": np.array([1, -2, 2**62], dtype=np.int64),
            "u": np.array([1, 2, 2**64 - 1], dtype=np.uint64),
            "f": [0.1 + 0.2, 1 / 3, 1.5e-12],
            "f32": np.array([1.5, np.nan, 0.1], dtype=np.float32),
            "b": [True, False, True],
        }
    ),
    "special floats": pd.DataFrame({"x": [np.nan, np.inf, -np.inf, 1e20, 2.5e-300, 12345678901234567.0]}),
    "strings": pd.DataFrame({"s": ['say "hi"', "back\\slash", "line\nbreak", "tab\tstop", "ü€😀", "plain"]}),
    "strings with gaps": pd.DataFrame({"s": ["a", None, "b"], "n": [1, 2, 3]}),
    "mixed objects": pd.DataFrame({"o": [1, "x", 2.5, None, {"k": [1, 2]}]}),
    "whole seconds": pd.DataFrame({"t": pd.to_datetime(["2020-01-01", "2021-02-03 04:05:06"], format="mixed")}),
    "fractions and NaT": pd.DataFrame(
        {"t": pd.to_datetime(["2020-01-01 00:00:00.5", "2020-01-01 00:00:00.123456789", None], format="mixed")}
    ),
    "time zones": pd.DataFrame({"t": pd.to_datetime(["2020-01-01 10:00"]).tz_localize("Europe/Berlin")}),
    "timedeltas": pd.DataFrame({"d": pd.to_timedelta([90, 1.5], unit="s")}),
    "dates and decimals": pd.DataFrame(
        {"d": [datetime.date(2020, 1, 2), datetime.date(2021, 3, 4)], "x": [decimal.Decimal("1.5"), decimal.Decimal(2)]}
    ),
    "extension types": pd.DataFrame(
        {
            "c": pd.Categorical(["a", "b", "a"]),
            "i": pd.array([1, None, 3], dtype="Int64"),
            "b": pd.array([True, None, False], dtype="boolean"),
        }
    ),
    "other keys": pd.DataFrame({1: [1, 2], 2.5: ["a", "b"], "p%s": [3, 4], 'q"k': [5, 6]}),
    "strings around quoted and unquoted": pd.DataFrame(
        {"s": ["x", "y"], "n": [1, 2], "t": pd.to_datetime(["2020-01-01", "2020-01-02"]), "z": ["p", "q"]}
    ),
    "one row": pd.DataFrame({"a": ["only"]}),
    "with an index": pd.DataFrame({"a": [1, 2]}, index=["r1", "r2"]),
}


@pytest.mark.parametrize("name", list(FRAMES))
def test_records_are_core4s(name):
    frame = FRAMES[name]
    assert json.loads(records_json(frame)) == core4_records(frame)


def test_numbers_are_exact():
    """pandas' to_json rounds to ten decimals (1.5e-12 would be 0.0)."""
    records = json.loads(records_json(FRAMES["numbers"]))
    assert [r["f"] for r in records] == [0.1 + 0.2, 1 / 3, 1.5e-12]
    assert records[2]["u"] == 2**64 - 1
    assert records[1]["f32"] is None


def test_special_floats_are_null_or_exact():
    values = [r["x"] for r in json.loads(records_json(FRAMES["special floats"]))]
    assert values[:3] == [None, None, None]
    assert values[3:] == [1e20, 2.5e-300, 12345678901234567.0]
    assert not any(isinstance(v, float) and math.isnan(v) for v in values)


def test_datetimes_as_isoformat():
    whole = json.loads(records_json(FRAMES["whole seconds"]))
    assert [r["t"] for r in whole] == ["2020-01-01T00:00:00", "2021-02-03T04:05:06"]
    fractions = json.loads(records_json(FRAMES["fractions and NaT"]))
    assert [r["t"] for r in fractions] == ["2020-01-01T00:00:00.500000", "2020-01-01T00:00:00.123456789", None]
    zoned = json.loads(records_json(FRAMES["time zones"]))
    assert zoned == [{"t": "2020-01-01T10:00:00+01:00"}]


def test_timedeltas_as_seconds():
    assert json.loads(records_json(FRAMES["timedeltas"])) == [{"d": 90.0}, {"d": 1.5}]


def test_empty_frames():
    assert records_json(pd.DataFrame({"a": [1]}).iloc[0:0]) == "[]"
    assert records_json(pd.DataFrame(index=[0, 1])) == "[{},{}]"


def test_duplicate_columns_keep_the_last_value_as_a_json_reader_sees_it():
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    assert json.loads(records_json(frame)) == [{"a": 2}]


def test_years_beyond_isoformat_still_answer():
    frame = pd.DataFrame({"t": np.array(["2262-01-01T00:00:00", "0001-01-01T00:00:00"], dtype="datetime64[s]")})
    assert json.loads(records_json(frame)) == core4_records(frame)


# -- through a handler ------------------------------------------------------------------------------------------

PRECISE = pd.DataFrame({"x": [1.5e-12, 1 / 3], "t": pd.to_datetime(["2020-01-01 08:00", "2020-01-02 09:30"])})


class PreciseHandler(CoreRequestHandler):
    protected = False

    def get(self):
        self.reply(PRECISE)


class PagedPreciseHandler(CoreRequestHandler):
    protected = False

    def get(self):
        pager = CorePager(
            length=lambda _filter: len(PRECISE),
            query=lambda skip, limit, _filter, _sort: PRECISE.iloc[skip : skip + limit],
            per_page=1,
        )
        result = pager.page(0)
        assert isinstance(result, PageResult)
        self.reply(result)


class RecordsContainer(CoreApiContainer):
    root = "/records"
    rules = [(r"/frame", PreciseHandler), (r"/paged", PagedPreciseHandler)]


def test_reply_and_page_results_send_the_same_exact_records(tmp_path):
    client = make_client(tmp_path, RecordsContainer)
    whole = client.get("/records/frame").json
    assert whole["data"] == [{"x": 1.5e-12, "t": "2020-01-01T08:00:00"}, {"x": 1 / 3, "t": "2020-01-02T09:30:00"}]
    paged = client.get("/records/paged").json
    assert paged["data"] == whole["data"][:1]
    assert (paged["page"], paged["page_count"], paged["total_count"], paged["count"]) == (0, 2, 2, 1)
