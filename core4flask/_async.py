"""Running ``async def`` handler methods from synchronous WSGI code.

A coroutine runs to completion with :func:`asyncio.run` in the calling thread;
under gevent that is the request's own greenlet. Its event loop waits for I/O
through gevent's monkey-patched selector, so while the coroutine awaits, the
greenlet yields to the others: any number of async requests overlap, and the
request body is read where the request lives.

asyncio keeps "the running loop" once per native thread, which every greenlet
of a gevent worker shares: a second greenlet starting its loop would find the
first one's and refuse (``asyncio.run() cannot be called from a running event
loop``), and a coroutine resumed after another greenlet's loop finished would
find none. A greenlet switch hook therefore gives each greenlet its own slot.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Callable
from typing import Any

#: Greenlet attribute that holds the greenlet's running loop while it is switched out.
_LOOP_ATTRIBUTE = "core4flask_running_loop"
#: Hub attribute set once the hub's thread keeps a running loop per greenlet.
_HOOKED_ATTRIBUTE = "core4flask_loop_per_greenlet"


def _gevent_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return bool(monkey.is_module_patched("socket"))


def run_async_method(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call an ``async def`` method in a fresh event loop and return its result.

    The loop runs in the calling thread (greenlet, under gevent). When that
    thread already runs a loop (sync code called from a coroutine), a helper
    thread runs it instead.
    """
    if _gevent_patched():
        keep_running_loop_per_greenlet()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(func(*args, **kwargs))
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(context.run, asyncio.run, func(*args, **kwargs)).result()


def keep_running_loop_per_greenlet() -> None:
    """Make asyncio's running loop a per-greenlet value in this gevent thread.

    On every switch the loop of the greenlet left is stored on it, and the one
    of the greenlet entered (or none) is restored. Installed once per hub,
    chaining any switch hook already present (gevent's monitor uses one).
    """
    import gevent
    import greenlet

    hub = gevent.get_hub()
    if getattr(hub, _HOOKED_ATTRIBUTE, False):
        return
    previous: Callable[[str, Any], None] | None = None
    running, make_running = asyncio._get_running_loop, asyncio._set_running_loop

    # it runs on every switch of the worker: a greenlet holds a loop only while
    # it is switched out with one running, so most switches touch nothing
    def switch_running_loop(event: str, args: Any) -> None:
        if event == "switch" or event == "throw":
            origin, target = args
            loop = running()
            if loop is not None:
                origin.__dict__[_LOOP_ATTRIBUTE] = loop
            resumed = target.__dict__.pop(_LOOP_ATTRIBUTE, None)
            if resumed is not loop:
                make_running(resumed)
        if previous is not None:
            previous(event, args)

    previous = greenlet.settrace(switch_running_loop)
    setattr(hub, _HOOKED_ATTRIBUTE, True)


class Done:
    """An already finished awaitable: ``await self.download(...)`` works,
    and so does calling it without ``await``."""

    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __await__(self):  # type: ignore[no-untyped-def]
        return self.value
        yield  # pragma: no cover - makes this a generator
