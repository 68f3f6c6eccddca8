"""CorePager and PageResult, sync and with coroutine callbacks."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from core4flask import CoreApiContainer, CorePager, CoreRequestHandler, PageResult
from core4flask.errors import ArgumentParsingError
from tests.fixtures import make_client

ROWS = [{"idx": i} for i in range(60)]


def pager(rows=ROWS, **kwargs):
    calls = []

    def length(flt):
        calls.append(("length", flt))
        return len(rows)

    def query(skip, limit, flt, sort_by):
        calls.append(("query", skip, limit, flt, sort_by))
        return rows[skip : skip + limit]

    return CorePager(length, query, **kwargs), calls


def test_page_result_has_core4_fields():
    assert PageResult._fields == ("code", "message", "page_count", "total_count", "page", "body", "count", "per_page")


def test_first_page_is_page_zero():
    result = pager()[0].page()
    assert isinstance(result, PageResult)
    assert (result.code, result.message) == (200, "OK")
    assert result.page == 0
    assert result.page_count == 6
    assert result.total_count == 60
    assert isinstance(result.total_count, int)
    assert result.per_page == 10
    assert result.count == 10
    assert result.body == ROWS[:10]


def test_current_page_and_explicit_page():
    p, _ = pager(current_page=2)
    assert p.page().body == ROWS[20:30]
    assert p.page(5).body == ROWS[50:60]
    assert p.page(5).page == 5


@pytest.mark.parametrize(("page", "expected_page", "first"), [(-1, 5, 50), (-2, 4, 40), (-6, 0, 0)])
def test_negative_pages_count_from_the_end(page, expected_page, first):
    result = pager()[0].page(page)
    assert result.page == expected_page
    assert result.body[0] == {"idx": first}
    assert result.count == 10


@pytest.mark.parametrize("page", [6, 100, -7])
def test_pages_out_of_range_are_empty(page):
    result = pager()[0].page(page)
    assert result.body == []
    assert result.count == 0
    assert result.page_count == 6
    assert result.total_count == 60


def test_out_of_range_does_not_query():
    p, calls = pager()
    p.page(9)
    assert [c[0] for c in calls] == ["length"]


def test_uneven_last_page():
    result = pager(per_page=7)[0].page(-1)
    assert result.page_count == 9
    assert result.page == 8
    assert result.count == 4
    assert result.body == ROWS[56:]


def test_no_data():
    result = pager(rows=[])[0].page()
    assert (result.page_count, result.total_count, result.count, result.body) == (0, 0, 0, [])
    assert pager(rows=[])[0].page(-1).body == []


@pytest.mark.parametrize("per_page", [0, -1, "0"])
def test_per_page_must_be_positive(per_page):
    with pytest.raises(ArgumentParsingError) as info:
        pager(per_page=per_page)
    assert info.value.status_code == 400
    assert "per_page" in str(info.value)


def test_filter_and_sort_reach_the_callbacks():
    p, calls = pager(filter={"name": "x"}, sort_by=[("idx", -1)], per_page=5, current_page=1)
    p.page()
    assert calls == [("length", {"name": "x"}), ("query", 5, 5, {"name": "x"}, [("idx", -1)])]


def test_filter_defaults_to_an_empty_dict():
    p, calls = pager()
    p.page()
    assert calls[0] == ("length", {})


def test_dataframe_pages_stay_dataframes():
    frame = pd.DataFrame({"idx": range(25)})
    p = CorePager(lambda f: len(frame), lambda skip, limit, f, s: frame.iloc[skip : skip + limit], per_page=10)
    result = p.page(-1)
    assert isinstance(result.body, pd.DataFrame)
    assert result.count == 5
    assert result.body["idx"].tolist() == [20, 21, 22, 23, 24]


def test_query_results_may_be_any_iterable():
    p = CorePager(lambda f: 3, lambda skip, limit, f, s: (x for x in "abc"[skip : skip + limit]), per_page=2)
    assert p.page(1).body == ["c"]


def async_pager(rows=ROWS, sync_length=False, **kwargs):
    async def length(flt):
        await asyncio.sleep(0)
        return len(rows)

    async def query(skip, limit, flt, sort_by):
        await asyncio.sleep(0)
        return rows[skip : skip + limit]

    return CorePager((lambda f: len(rows)) if sync_length else length, query, **kwargs)


@pytest.mark.parametrize("sync_length", [False, True])
def test_coroutine_callbacks_are_awaited(sync_length):
    async def main():
        p = async_pager(sync_length=sync_length, per_page=25)
        first = await p.page()
        last = await p.page(-1)
        empty = await p.page(3)
        return first, last, empty

    first, last, empty = asyncio.run(main())
    assert (first.page, first.count, first.page_count, first.total_count) == (0, 25, 3, 60)
    assert (last.page, last.count, last.body[-1]) == (2, 10, {"idx": 59})
    assert (empty.count, empty.body) == (0, [])


class SyncPagingHandler(CoreRequestHandler):
    protected = False

    def get(self):
        p = CorePager(
            lambda flt: len(ROWS),
            lambda skip, limit, flt, sort: ROWS[skip : skip + limit],
            per_page=self.get_argument("per_page", int, default=10),
            current_page=self.get_argument("page", int, default=0),
        )
        return p.page()


class AsyncPagingHandler(CoreRequestHandler):
    protected = False

    async def get(self):
        p = async_pager(
            per_page=self.get_argument("per_page", int, default=10),
            current_page=self.get_argument("page", int, default=0),
        )
        self.flash_info("paged")
        self.reply(await p.page())


class RawPagingHandler(CoreRequestHandler):
    """core4's documented style: the raw arguments go straight into the pager."""

    protected = False

    def get(self):
        p = CorePager(
            lambda flt: len(ROWS),
            lambda skip, limit, flt, sort: ROWS[skip : skip + limit],
            per_page=self.get_argument("per_page", default=10),
            current_page=self.get_argument("page", default=0),
        )
        return p.page(self.get_argument("goto", default=None))


class PagingContainer(CoreApiContainer):
    root = "/paging"
    rules = [("/sync", SyncPagingHandler), ("/async", AsyncPagingHandler), ("/raw", RawPagingHandler)]


@pytest.fixture
def client(tmp_path):
    return make_client(tmp_path, PagingContainer)


@pytest.mark.parametrize("path", ["/paging/sync", "/paging/async"])
def test_page_result_envelope(client, path):
    body = client.get(path, query_string={"page": 2, "per_page": 7}).json
    assert body["code"] == 200
    assert body["data"] == ROWS[14:21]
    assert {k: body[k] for k in ("page", "page_count", "total_count", "per_page", "count")} == {
        "page": 2,
        "page_count": 9,
        "total_count": 60,
        "per_page": 7,
        "count": 7,
    }
    assert {"_id", "message", "timestamp"} <= set(body)


def test_async_handler_keeps_flash(client):
    body = client.get("/paging/async?page=-1").json
    assert body["page"] == 5
    assert body["flash"] == [{"level": "INFO", "message": "paged"}]


@pytest.mark.parametrize("path", ["/paging/sync", "/paging/async"])
def test_per_page_zero_is_a_400(client, path):
    response = client.get(path + "?per_page=0")
    assert response.status_code == 400
    assert "per_page" in response.json["error"]


def test_page_out_of_range_is_an_empty_page(client):
    body = client.get("/paging/sync?page=6").json
    assert body["data"] == []
    assert body["count"] == 0
    assert body["page_count"] == 6


def test_page_result_reply_directly(tmp_path):
    class Direct(CoreRequestHandler):
        protected = False

        def get(self):
            return PageResult(200, "OK", page_count=3, total_count=25, page=2, body=[1, 2], count=2, per_page=10)

    class Container(CoreApiContainer):
        root = "/direct"
        rules = [("/x", Direct)]

    body = make_client(tmp_path, Container).get("/direct/x").json
    assert list(body) == [
        "_id",
        "code",
        "message",
        "timestamp",
        "data",
        "page",
        "page_count",
        "total_count",
        "per_page",
        "count",
    ]
    assert (body["data"], body["page"], body["total_count"], body["count"]) == ([1, 2], 2, 25, 2)


@pytest.mark.parametrize("value", ["abc", "1e3", "2.5", "", 2.5, float("nan"), None, True, [10]])
def test_per_page_that_is_no_integer_is_a_400_naming_it(value):
    with pytest.raises(ArgumentParsingError, match=r"parameter \[per_page\] expected as_type \[int\]"):
        pager(per_page=value)


@pytest.mark.parametrize("value", ["abc", "1e3", "-2.5", 0.5])
def test_page_that_is_no_integer_is_a_400_naming_it(value):
    with pytest.raises(ArgumentParsingError, match=r"parameter \[page\] expected as_type \[int\]"):
        pager(current_page=value)
    with pytest.raises(ArgumentParsingError, match=r"parameter \[page\] expected as_type \[int\]"):
        pager()[0].page(value)


@pytest.mark.parametrize(("per_page", "page"), [("7", "2"), (7.0, 2.0), (b"7", b"2"), (" 7", "2 ")])
def test_integral_strings_and_floats_are_accepted(per_page, page):
    result = pager(per_page=per_page, current_page=page)[0].page()
    assert (result.per_page, result.page, result.body) == (7, 2, ROWS[14:21])


@pytest.mark.parametrize(
    ("query", "name"),
    [("per_page=abc", "per_page"), ("per_page=1e3", "per_page"), ("per_page=2.5", "per_page"), ("page=abc", "page")],
)
def test_raw_request_arguments_in_the_pager_are_a_400(client, query, name):
    response = client.get(f"/paging/raw?{query}")
    assert response.status_code == 400, response.json
    assert f"parameter [{name}] expected as_type [int]" in response.json["error"]
    assert client.get("/paging/raw?goto=x").status_code == 400


def test_raw_request_arguments_that_are_integers_page(client):
    body = client.get("/paging/raw?per_page=7&page=-1").json
    assert (body["page"], body["per_page"], body["count"]) == (8, 7, 4)
