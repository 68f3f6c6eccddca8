"""Running ``async def`` handler methods from synchronous WSGI code."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Callable
from typing import Any


def _gevent_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("socket")


def run_async_method(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call an ``async def`` method in a fresh event loop and return its result.

    Under gevent all greenlets share one native thread, and with it asyncio's
    "running loop" slot, so the loop runs in a native thread of gevent's pool
    while the calling greenlet waits cooperatively. Elsewhere (``flask run``,
    the test client) the loop runs in the calling thread when that thread
    has none running.
    """
    context = contextvars.copy_context()
    if _gevent_patched():
        import gevent

        pool = gevent.get_hub().threadpool
        return pool.apply(context.run, (asyncio.run, func(*args, **kwargs)))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(func(*args, **kwargs))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(context.run, asyncio.run, func(*args, **kwargs)).result()


class Done:
    """An already finished awaitable: ``await self.download(...)`` works,
    and so does calling it without ``await``."""

    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __await__(self):  # type: ignore[no-untyped-def]
        return self.value
        yield  # pragma: no cover - makes this a generator
