"""The JSON envelope and its encoder (pure functions, no Flask)."""

from __future__ import annotations

import datetime
import decimal
import json
import math
import random
import uuid

import numpy as np
import pandas as pd
import pytest
from bson import ObjectId

from core4flask.envelope import build_envelope, dumps, dumps_with_raw, reason, utc_datetime, utc_timestamp

MOMENT = datetime.datetime(2018, 11, 6, 6, 57, 26, 660093)
IDENTIFIER = "5be13b56de8b69468b7ff0b2"


def test_success_envelope_shape_and_order():
    envelope = build_envelope(IDENTIFIER, 200, MOMENT, data="hello world")
    assert list(envelope) == ["_id", "code", "message", "timestamp", "data"]
    assert envelope == {
        "_id": IDENTIFIER,
        "code": 200,
        "message": "OK",
        "timestamp": "2018-11-06T06:57:26.660093",
        "data": "hello world",
    }


def test_data_key_is_present_even_for_none():
    envelope = build_envelope(IDENTIFIER, 200, MOMENT)
    assert "data" in envelope
    assert envelope["data"] is None


def test_message_follows_the_status():
    assert build_envelope(IDENTIFIER, 201, MOMENT, data=1)["message"] == "Created"
    assert reason(409) == "Conflict"
    assert reason(404) == "Not Found"
    assert reason(599) == "Unknown"


def test_error_envelope_carries_error_not_data():
    envelope = build_envelope(IDENTIFIER, 409, MOMENT, data="ignored", error="HTTP 409: Conflict", is_error=True)
    assert "data" not in envelope
    assert envelope["error"] == "HTTP 409: Conflict"
    assert envelope["message"] == "Conflict"
    assert envelope["code"] == 409


def test_error_envelope_without_error_text_has_no_error_key():
    envelope = build_envelope(IDENTIFIER, 404, MOMENT, is_error=True)
    assert "error" not in envelope
    assert "data" not in envelope


def test_flash_only_when_something_was_flashed():
    assert "flash" not in build_envelope(IDENTIFIER, 200, MOMENT, data=1)
    flash = [{"level": "DEBUG", "message": "a"}, {"level": "INFO", "data": {"k": 1}}]
    envelope = build_envelope(IDENTIFIER, 200, MOMENT, data=1, flash=flash)
    assert envelope["flash"] == flash
    error = build_envelope(IDENTIFIER, 400, MOMENT, error="x", flash=flash, is_error=True)
    assert error["flash"] == flash


def test_extra_keys_are_appended():
    paging = {"page": 0, "page_count": 6, "total_count": 60, "per_page": 10, "count": 10}
    envelope = build_envelope(IDENTIFIER, 200, MOMENT, data=[], extra=paging)
    assert list(envelope)[-5:] == list(paging)
    assert envelope["total_count"] == 60


def test_timestamp_is_naive_iso_without_zone():
    assert utc_timestamp(MOMENT) == "2018-11-06T06:57:26.660093"
    assert utc_timestamp(datetime.datetime(2018, 1, 1)) == "2018-01-01T00:00:00"


def test_timestamp_of_epoch_seconds_is_that_of_the_datetime():
    rng = random.Random(4)
    moments = [0.0, 1541487446.660093, 1541487446.0, 1541487446.9999996, 1541487446.0000004]
    moments += [rng.uniform(0, 4e9) for _ in range(5000)]
    moments += [float(int(rng.uniform(0, 4e9))) + rng.randint(0, 999_999) / 1e6 for _ in range(5000)]
    for moment in moments:
        assert utc_timestamp(moment) == utc_datetime(moment).isoformat(), moment
    assert utc_timestamp(1541487446.660093) == "2018-11-06T06:57:26.660093"
    assert utc_timestamp(1541487446.9999996) == "2018-11-06T06:57:27"
    assert build_envelope(IDENTIFIER, 200, 1541487446.660093)["timestamp"] == "2018-11-06T06:57:26.660093"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -math.inf, np.float64("nan"), np.float32("inf")])
def test_nan_and_infinity_become_null(value):
    assert json.loads(dumps({"v": value, "nested": [value, {"x": value}]})) == {
        "v": None,
        "nested": [None, {"x": None}],
    }


def test_output_is_strict_json():
    body = dumps({"a": float("nan"), "b": [float("inf")]})
    assert b"NaN" not in body
    assert b"Infinity" not in body
    json.loads(body, parse_constant=lambda c: pytest.fail(f"non-standard constant {c}"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (MOMENT, "2018-11-06T06:57:26.660093"),
        (datetime.date(2018, 1, 2), "2018-01-02"),
        (datetime.time(1, 2, 3), "01:02:03"),
        (datetime.timedelta(minutes=1, seconds=30), 90.0),
        (ObjectId(IDENTIFIER), IDENTIFIER),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (decimal.Decimal("1.5"), 1.5),
        (decimal.Decimal("NaN"), None),
        ((1, 2), [1, 2]),
        (b"bytes", "bytes"),
    ],
)
def test_special_values(value, expected):
    assert json.loads(dumps({"v": value}))["v"] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.int64(5), 5),
        (np.int32(-3), -3),
        (np.float64(1.25), 1.25),
        (np.float32(1.5), 1.5),
        (np.bool_(True), True),
        (np.array([1.0, np.nan, 3.0]), [1.0, None, 3.0]),
        (np.array([[1, 2], [3, 4]]), [[1, 2], [3, 4]]),
        (np.datetime64("2018-01-01T12:00:00"), "2018-01-01T12:00:00"),
    ],
)
def test_numpy_values(value, expected):
    assert json.loads(dumps({"v": value}))["v"] == expected


def test_pandas_scalars():
    decoded = json.loads(dumps({"ts": pd.Timestamp("2018-01-01 12:00"), "nat": pd.NaT, "na": pd.NA}))
    assert decoded == {"ts": "2018-01-01T12:00:00", "nat": None, "na": None}


def test_sets_come_out_as_lists():
    assert sorted(json.loads(dumps({"v": {3, 1, 2}}))["v"]) == [1, 2, 3]


def test_non_string_keys_are_stringified():
    assert json.loads(dumps({1: "a", 2.5: "b"})) == {"1": "a", "2.5": "b"}


def test_huge_integers_fall_back_without_losing_other_rules():
    decoded = json.loads(dumps({"big": 2**70, "nan": float("nan"), "oid": ObjectId(IDENTIFIER), "when": MOMENT}))
    assert decoded == {"big": 2**70, "nan": None, "oid": IDENTIFIER, "when": "2018-11-06T06:57:26.660093"}


def test_unknown_objects_are_written_as_their_text():
    class Money:
        def __str__(self) -> str:
            return "3 EUR"

    assert json.loads(dumps({"v": Money(), "n": float("nan")})) == {"v": "3 EUR", "n": None}


def test_raw_json_is_spliced_in_place():
    envelope = build_envelope(IDENTIFIER, 200, MOMENT, flash=[{"level": "INFO", "message": "m"}])
    body = dumps_with_raw(envelope, "data", '[{"x": 1, "y": null}]')
    decoded = json.loads(body)
    assert decoded["data"] == [{"x": 1, "y": None}]
    assert decoded["flash"] == [{"level": "INFO", "message": "m"}]
    assert list(decoded) == ["_id", "code", "message", "timestamp", "data", "flash"]
    assert dumps_with_raw({"data": None}, "data", b"[]") == b'{"data":[]}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([10**30, np.array([np.nan])], [10**30, [None]]),
        ({"a": 10**30, "b": np.float32("nan")}, {"a": 10**30, "b": None}),
        (
            {"a": -(10**30), "b": np.array([[np.inf, 1.5]]), "c": np.float64("-inf")},
            {"a": -(10**30), "b": [[None, 1.5]], "c": None},
        ),
        ({"a": 2**64, "b": [np.int64(7), np.bool_(False), np.float32(0.5)]}, {"a": 2**64, "b": [7, False, 0.5]}),
        ({"a": 2**64, "b": {3, 4} - {3}, "c": decimal.Decimal("Infinity")}, {"a": 2**64, "b": [4], "c": None}),
    ],
)
def test_huge_integers_with_numpy_nan_keep_every_rule(value, expected):
    body = dumps(value)
    json.loads(body, parse_constant=lambda c: pytest.fail(f"non-standard constant {c}"))
    assert json.loads(body) == expected


@pytest.mark.parametrize("big", [False, True])
def test_arrays_orjson_does_not_take_natively(big):
    value = {"series": pd.Series([1.0, np.nan]), "objects": np.array([1, None, np.nan], dtype=object)}
    if big:
        value["big"] = 2**70
    decoded = json.loads(dumps(value))
    assert decoded["series"] == [1.0, None]
    assert decoded["objects"] == [1, None, None]


def test_keys_are_written_alike_with_and_without_huge_integers():
    keys = {True: 1, None: 2, 2.5: 3, datetime.date(2020, 1, 2): 4, uuid.UUID(int=1): 5}
    fast = json.loads(dumps(keys))
    slow = json.loads(dumps({**keys, "big": 2**70}))
    assert slow == {**fast, "big": 2**70}
