"""Pagination: :class:`PageResult` and :class:`CorePager`.

Pages are 0-based; a negative page counts from the end (``-1`` is the last
page); a page past the end is an empty page, not an error. The callbacks may
be plain functions or coroutine functions (core4 style), in which case
``pager.page()`` returns an awaitable.

Layer: the request core (below the response); it knows nothing of
authentication or the features.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, NamedTuple

from .exceptions import ArgumentParsingError
from .negotiation import is_dataframe


def page_number(value: Any, name: str) -> int:
    """``per_page`` or ``page`` as an int.

    core4 code passes raw request arguments (``self.get_argument("per_page",
    default=10)``), so ``"abc"``, ``"2.5"`` or ``"1e3"`` is the client's error:
    a 400 naming the parameter, as ``get_argument(..., as_type=int)`` gives.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str | bytes):
        try:
            return int(value)
        except ValueError:
            pass
    raise ArgumentParsingError(f"parameter [{name}] expected as_type [int]")


class PageResult(NamedTuple):
    """One page of a listing, as core4 returns it."""

    code: int
    message: str
    page_count: int
    total_count: int
    page: int
    body: list[Any]
    # core4's field; it hides tuple.count, which nobody calls on a page
    count: int  # type: ignore[assignment]
    per_page: int

    def paging(self) -> dict[str, int]:
        """The keys a PageResult adds to the envelope."""
        return {
            "page": self.page,
            "page_count": self.page_count,
            "total_count": self.total_count,
            "per_page": self.per_page,
            "count": self.count,
        }


class CorePager:
    """Pages through a listing given a ``length`` and a ``query`` callback.

    ``length(filter)`` returns the number of matching records and
    ``query(skip, limit, filter, sort_by)`` one slice of them.
    """

    def __init__(
        self,
        length: Callable[..., Any],
        query: Callable[..., Any],
        per_page: int = 10,
        current_page: int = 0,
        filter: Any = None,  # noqa: A002 - core4's argument name
        sort_by: Any = None,
    ) -> None:
        per_page = page_number(per_page, "per_page")
        if per_page < 1:
            raise ArgumentParsingError(f"parameter [per_page] must be a positive integer, not [{per_page}]")
        self.length = length
        self.query = query
        self.per_page = per_page
        self.current_page = page_number(current_page or 0, "page")
        self.filter = {} if filter is None else filter
        self.sort_by = sort_by

    def page(self, page: int | None = None) -> Any:
        """Return the :class:`PageResult` of ``page`` (default: current page).

        With coroutine callbacks the result is an awaitable.
        """
        if page is not None:
            self.current_page = page_number(page, "page")
        total = self.length(self.filter)
        if inspect.isawaitable(total):
            return self._page_async(total)
        plan = self._plan(total)
        if plan is None:
            # with a coroutine query every page is awaited, an empty one too
            if inspect.iscoroutinefunction(self.query):
                return self._finish_async(total, [])
            return self._result(total, [])
        body = self.query(plan[0], plan[1], self.filter, self.sort_by)
        if inspect.isawaitable(body):
            return self._finish_async(total, body)
        return self._result(total, body)

    async def _page_async(self, total_awaitable: Any) -> PageResult:
        total = await total_awaitable
        plan = self._plan(total)
        if plan is None:
            return self._result(total, [])
        body = self.query(plan[0], plan[1], self.filter, self.sort_by)
        if inspect.isawaitable(body):
            body = await body
        return self._result(total, body)

    async def _finish_async(self, total: int, body: Any) -> PageResult:
        return self._result(total, await body if inspect.isawaitable(body) else body)

    def page_count(self, total: int) -> int:
        """The number of pages ``total`` records fill."""
        return math.ceil(int(total) / self.per_page)

    def _plan(self, total: int) -> tuple[int, int] | None:
        count = self.page_count(total)
        if self.current_page < 0:
            self.current_page = count + self.current_page
        if count == 0 or not 0 <= self.current_page < count:
            return None
        return self.current_page * self.per_page, self.per_page

    def _result(self, total: int, body: Any) -> PageResult:
        if not is_dataframe(body):  # a DataFrame page stays one (reply() renders it)
            body = list(body)
        return PageResult(
            code=200,
            message="OK",
            page_count=self.page_count(total),
            total_count=int(total),
            page=self.current_page,
            body=body,
            count=len(body),
            per_page=self.per_page,
        )
