"""Accept negotiation and DataFrame renderers: pure functions, then ``reply()`` of DataFrames."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core4flask import CoreApiContainer, CorePager, CoreRequestHandler
from core4flask.negotiation import (
    SUPPORTED_TYPES,
    best_match,
    dataframe_records_json,
    is_dataframe,
    neutralise_formulas,
    parse_accept,
    render_dataframe,
    wanted_error_type,
    wanted_type,
)
from tests.fixtures import make_client

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
AXIOS = "application/json, text/plain, */*"


def test_supported_types_keep_core4_order():
    assert SUPPORTED_TYPES == ("text/html", "text/plain", "text/csv", "application/json")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        # the measured table of core4-requests §3.1
        ("", ""),
        ("*/*", "application/json"),
        (BROWSER, "text/html"),
        (AXIOS, "application/json"),
        ("text/*", "text/csv"),
        ("text/html;q=0.5, application/json", "application/json"),
        ("application/xml", ""),
        ("image/png", ""),
        # and a few more
        ("text/plain", "text/plain"),
        ("text/csv", "text/csv"),
        ("application/json", "application/json"),
        ("TEXT/HTML", "text/html"),
        ("text/plain; charset=utf-8", "text/plain"),
        ("*", "application/json"),
        ("application/*", "application/json"),
        ("text/html;q=0", ""),
        ("text/html;q=0.2, text/plain;q=0.9", "text/plain"),
        ("*/*;q=0.1, text/plain;q=0.05", "application/json"),
        ("text/*;q=0.5, text/html", "text/html"),
    ],
)
def test_best_match_table(accept, expected):
    assert best_match(accept) == expected


@pytest.mark.parametrize("accept", ["garbage", "text", "/json", "text/", "text/html;q=abc", "text/html;q=2"])
def test_malformed_accept_is_no_preference(accept):
    assert parse_accept(accept) is None
    assert best_match(accept) == ""
    assert wanted_type(accept, None) == "json"
    assert wanted_error_type(accept, None) == "json"


def test_parse_accept_reads_quality():
    assert parse_accept("text/html;q=0.5, */*") == [("text", "html", 0.5), ("*", "*", 1.0)]
    assert parse_accept(" , ") == []


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("", "json"), ("*/*", "json"), (BROWSER, "html"), (AXIOS, "json"), ("text/plain", "text"), ("text/csv", "csv")],
)
def test_wanted_type_from_accept(accept, expected):
    assert wanted_type(accept, None) == expected


@pytest.mark.parametrize(
    ("argument", "expected"), [("json", "json"), ("html", "html"), ("text", "text"), ("csv", "csv"), (" CSV ", "csv")]
)
def test_content_type_argument_wins_over_accept(argument, expected):
    assert wanted_type(BROWSER, argument) == expected
    assert wanted_type("text/csv", argument) == expected


def test_unknown_content_type_argument_means_json():
    assert wanted_type(BROWSER, "xml") == "json"


@pytest.fixture
def frame():
    return pd.DataFrame({"a": [1, 2], "b": ["x", None]})


def test_is_dataframe(frame):
    assert is_dataframe(frame)
    assert not is_dataframe(pd.Series([1, 2]))
    assert not is_dataframe({"a": [1]})
    assert not is_dataframe(None)


def test_csv_rendering(frame):
    body, content_type = render_dataframe(frame, "csv")
    assert content_type == "text/csv; charset=utf-8"
    assert body == ",a,b\n0,1,x\n1,2,\n"


def test_html_rendering(frame):
    body, content_type = render_dataframe(frame, "html")
    assert content_type == "text/html; charset=utf-8"
    assert body.startswith('<table border="1" class="dataframe">')
    assert "<th>a</th>" in body
    assert "<td>x</td>" in body


def test_text_rendering(frame):
    body, content_type = render_dataframe(frame, "text")
    assert content_type == "text/plain; charset=utf-8"
    assert body == frame.to_string()
    assert body.splitlines()[0].split() == ["a", "b"]


def test_formula_cells_are_neutralised_in_string_columns_only():
    frame = pd.DataFrame(
        {
            "text": ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tx", "\ry", "\0z", "plain", None, 3],
            "number": [-1.5, 2, -3, 4, 5, 6, 7, 8, 9, 10],
            "string": pd.array(["=1", "a", None, "-b", "c", "d", "e", "f", "g", "h"], dtype="string"),
        },
        index=["=idx", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
    )
    frame.columns = ["=text", "number", "string"]
    original = frame.copy()
    result = neutralise_formulas(frame)
    assert list(result.iloc[:, 0]) == [
        "'=HYPERLINK(1)",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "'\ry",
        "'\0z",
        "plain",
        None,
        3,
    ]
    assert list(result["number"]) == [-1.5, 2, -3, 4, 5, 6, 7, 8, 9, 10]
    assert result["string"].tolist()[:4] == ["'=1", "a", pd.NA, "'-b"]
    assert list(result.index[:2]) == ["'=idx", "b"] and list(result.columns) == ["'=text", "number", "string"]
    pd.testing.assert_frame_equal(frame, original)  # the handler's frame is not changed


def test_frames_without_formula_cells_are_not_copied():
    frame = pd.DataFrame({"a": ["x", "y"], "n": [-1, -2]})
    assert neutralise_formulas(frame) is frame
    numbers = pd.DataFrame({"n": [-1.0, 2.0]})
    assert neutralise_formulas(numbers) is numbers


def test_csv_rendering_may_leave_formulas_alone():
    frame = pd.DataFrame({"a": ["=1+1"]})
    assert render_dataframe(frame, "csv")[0] == ",a\n0,'=1+1\n"
    assert render_dataframe(frame, "csv", neutralise=False)[0] == ",a\n0,=1+1\n"


def test_json_is_not_a_raw_rendering(frame):
    with pytest.raises(ValueError, match="json"):
        render_dataframe(frame, "json")


def test_records_json_drops_index_and_nulls_nan():
    frame = pd.DataFrame(
        {"a": [1.0, float("nan")], "s": ["x", None], "t": pd.to_datetime(["2018-01-01", "2018-06-01"])},
        index=["r1", "r2"],
    )
    records = json.loads(dataframe_records_json(frame))
    assert [set(r) for r in records] == [{"a", "s", "t"}] * 2
    assert records[1]["a"] is None
    assert records[1]["s"] is None
    assert records[0]["t"].startswith("2018-01-01T00:00:00")
    assert records[1]["t"].startswith("2018-06-01T00:00:00")


# -- reply() of DataFrames through a handler ------------------------------------------------------

FRAME = pd.DataFrame({"city": ["Munich", "Hamburg"], "visits": [120.0, float("nan")]})


class FrameHandler(CoreRequestHandler):
    protected = False

    def get(self):
        self.flash_info("not in raw outputs")
        self.reply(FRAME)

    def post(self):
        pager = CorePager(lambda f: 2, lambda skip, limit, f, s: FRAME.iloc[skip : skip + limit], per_page=1)
        self.reply(pager.page(self.get_argument("page", int, default=0)))


class TextHandler(CoreRequestHandler):
    protected = False

    def get(self):
        return "hello world"


class FrameContainer(CoreApiContainer):
    root = "/frames"
    rules = [("/frame", FrameHandler), ("/text", TextHandler)]


@pytest.fixture
def frame_client(tmp_path):
    return make_client(tmp_path, FrameContainer)


def test_dataframe_as_json_records(frame_client):
    body = frame_client.get("/frames/frame").json
    assert body["data"] == [{"city": "Munich", "visits": 120.0}, {"city": "Hamburg", "visits": None}]
    assert body["flash"] == [{"level": "INFO", "message": "not in raw outputs"}]


@pytest.mark.parametrize(
    ("accept", "argument", "mimetype"),
    [
        (BROWSER, None, "text/html"),
        ("text/csv", None, "text/csv"),
        ("text/plain", None, "text/plain"),
        ("text/*", None, "text/csv"),
        ("application/json", "html", "text/html"),
        (BROWSER, "csv", "text/csv"),
        ("text/csv", "text", "text/plain"),
        ("text/csv", "json", "application/json"),
        ("garbage", None, "application/json"),
    ],
)
def test_dataframe_negotiation(frame_client, accept, argument, mimetype):
    query = {"content_type": argument} if argument else {}
    response = frame_client.get("/frames/frame", headers={"Accept": accept}, query_string=query)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    text = response.get_data(as_text=True)
    if mimetype == "text/html":
        assert text == FRAME.to_html()
    elif mimetype == "text/csv":
        assert text == FRAME.to_csv()
    elif mimetype == "text/plain":
        assert text == FRAME.to_string()
    else:
        assert response.json["data"][0] == {"city": "Munich", "visits": 120.0}
    if mimetype != "application/json":
        assert "not in raw outputs" not in text


def test_content_type_argument_in_json_body(frame_client):
    response = frame_client.get("/frames/frame", json={"content_type": "csv"})
    assert response.mimetype == "text/csv"


def test_non_dataframes_are_always_json(frame_client):
    for accept in (BROWSER, "text/csv", "text/plain"):
        response = frame_client.get("/frames/text", headers={"Accept": accept})
        assert response.mimetype == "application/json"


def test_page_result_of_a_dataframe(frame_client):
    body = frame_client.post("/frames/frame?page=1").json
    assert body["data"] == [{"city": "Hamburg", "visits": None}]
    assert {k: body[k] for k in ("page", "page_count", "total_count", "per_page", "count")} == {
        "page": 1,
        "page_count": 2,
        "total_count": 2,
        "per_page": 1,
        "count": 1,
    }
