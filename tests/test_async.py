"""``async def`` handlers under a real server: gunicorn with two gevent workers.

Each coroutine runs in its request's own greenlet with its own event loop, so
it reads the request body there and many of them overlap.
"""

from __future__ import annotations

import concurrent.futures
import sys
import textwrap
import time

import pytest

from tests import live

pytestmark = pytest.mark.e2e  # every test here talks to a real server

APP = textwrap.dedent(
    '''
    import asyncio
    import os
    import time

    from core4flask import CoreApiContainer, CorePager, CoreRequestHandler, create_app


    class Body(CoreRequestHandler):
        protected = False

        async def post(self):
            await asyncio.sleep(0.01)
            return {"a": self.get_argument("a", default=None)}


    class RawBody(CoreRequestHandler):
        protected = False

        async def post(self):
            await asyncio.sleep(0)
            return {"size": len(self.request.get_data())}


    class Sleep(CoreRequestHandler):
        """Sleeps; tells how many sleeps its worker has held at once so far."""

        protected = False
        in_flight = 0
        peak = 0

        async def get(self):
            Sleep.in_flight += 1
            Sleep.peak = max(Sleep.peak, Sleep.in_flight)
            try:
                await asyncio.sleep(float(self.get_argument("s", default="0")))
            finally:
                Sleep.in_flight -= 1
            return {"pid": os.getpid(), "peak": Sleep.peak}


    class Mixed(CoreRequestHandler):
        """Awaits, blocks the greenlet (patched time.sleep), awaits again."""

        protected = False

        async def get(self):
            loop = asyncio.get_running_loop()
            await asyncio.sleep(0.2)
            time.sleep(0.2)
            await asyncio.gather(asyncio.sleep(0.1), asyncio.sleep(0.1))
            return {"same_loop": asyncio.get_running_loop() is loop}


    class SyncAsyncioRun(CoreRequestHandler):
        """A sync handler that runs its own event loop."""

        protected = False

        def get(self):
            async def work():
                await asyncio.sleep(0.2)
                return "ran"

            return asyncio.run(work())


    class Download(CoreRequestHandler):
        protected = False

        async def get(self):
            await self.download(__file__, "app.py")


    class Pages(CoreRequestHandler):
        protected = False

        async def get(self):
            async def length(flt):
                await asyncio.sleep(0.01)
                return 25

            async def query(skip, limit, flt, sort_by):
                await asyncio.sleep(0.01)
                return list(range(skip, min(skip + limit, 25)))

            pager = CorePager(length, query, per_page=10, current_page=self.get_argument("page", int, default=0))
            return await pager.page()


    class AsyncContainer(CoreApiContainer):
        root = "/async"
        rules = [
            ("/body", Body),
            ("/raw", RawBody),
            ("/sleep", Sleep),
            ("/mixed", Mixed),
            ("/syncrun", SyncAsyncioRun),
            ("/download", Download),
            ("/pages", Pages),
        ]


    app = create_app(AsyncContainer)
    '''
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("async")
    (tmp / "async_app.py").write_text(APP)
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-k", "gevent", "-w", "2", "async_app:app"]
    server = live.start(command, tmp, ready="/async/sleep", env={"PYTHONPATH": str(tmp)})
    yield server
    server.stop()


def slowly(*pieces: bytes, pause: float = 0.2):
    """A request body sent in chunks with pauses (chunked transfer encoding)."""
    for piece in pieces:
        time.sleep(pause)
        yield piece


def test_slow_chunked_json_body_reaches_the_coroutine(server):
    body = slowly(b'{"a": ', b'"slow"', b"}")
    response = server.post("/async/body?a=query", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"a": "slow"}


def test_form_and_multipart_bodies_reach_the_coroutine(server):
    assert server.post("/async/body?a=query", data={"a": "form"}).json()["data"] == {"a": "form"}
    response = server.post("/async/body", data={"a": "multi"}, files={"f": ("f.txt", b"x" * 10_000)})
    assert response.json()["data"] == {"a": "multi"}


def test_the_coroutine_reads_the_raw_body(server):
    body = slowly(b"x" * 100_000, b"y" * 100_000, pause=0.1)
    response = server.post("/async/raw", data=body, headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"size": 200_000}


def test_many_async_requests_overlap(server):
    # 80 requests sleeping 2 s each on 2 workers: a worker holds dozens of them
    # at once, not rounds of a thread pool's size
    with concurrent.futures.ThreadPoolExecutor(80) as pool:
        responses = list(pool.map(lambda _: server.get("/async/sleep?s=2", timeout=60), range(80)))
    assert [r.status_code for r in responses] == [200] * 80
    peaks = [r.json()["data"]["peak"] for r in responses]
    assert max(peaks) >= 20, peaks


def test_each_greenlet_keeps_its_own_event_loop(server):
    # coroutines that block their greenlet between awaits, next to sync
    # handlers that run their own loops, in the same workers at the same time
    paths = ["/async/mixed"] * 30 + ["/async/syncrun"] * 10
    with concurrent.futures.ThreadPoolExecutor(len(paths)) as pool:
        responses = list(pool.map(lambda path: server.get(path, timeout=30), paths))
    assert [r.status_code for r in responses] == [200] * len(paths), [r.text for r in responses if r.status_code != 200]
    assert [r.json()["data"] for r in responses] == [{"same_loop": True}] * 30 + ["ran"] * 10


def test_await_download(server):
    response = server.get("/async/download")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.content == (server.instance.parent / "async_app.py").read_bytes()


def test_await_pager_with_coroutine_callbacks(server):
    body = server.get("/async/pages?page=2").json()
    assert body["data"] == [20, 21, 22, 23, 24]
    assert (body["page"], body["page_count"], body["total_count"], body["count"]) == (2, 3, 25, 5)
