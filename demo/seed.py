"""The examples of the core4 "web service API and mini applications" document.

Only the import lines differ from the original examples.
"""

import datetime
import os

import pandas as pd

from core4flask import (
    CoreApiContainer,
    CorePager,
    CoreRequestHandler,
    CoreStaticFileHandler,
    CoreTenantHandler,
    HTTPError,
)


class TestHandler(CoreRequestHandler):
    """The first example: a GET that answers ``hello world``."""

    author = "mra"
    title = "test handler"

    def get(self):
        self.reply("hello world")


class PublicHandler(CoreRequestHandler):
    """A public request handler (``protected = False``)."""

    protected = False
    title = "public hello"
    author = "mra"

    def get(self):
        return "hello world"


class ErrorTestHandler(CoreRequestHandler):
    """Raises a 409 to show the error envelope."""

    title = "error example"
    author = "mra"

    def get(self):
        raise HTTPError(409, "this is the ErrorTestHandler")


class FlashHandler(CoreRequestHandler):
    """Message flashing."""

    title = "flash example"
    author = "mra"

    def get(self):
        self.flash_debug("first flash message")
        self.flash_debug("another flash message")
        self.reply("OK")


class ArgTestHandler(CoreRequestHandler):
    """Date/time argument parsing from the query string and the JSON body.

    Methods:
        GET /args/test - parse ``dt`` from the query string
        POST /args/test - parse ``dt`` from the JSON body

    Parameters:
        dt (datetime): a date, optionally with time and zone

    Returns:
        data (str): the parsed value and its distance to now

    Raises:
        400: dt is no date/time

    Examples:
        >>> get("http://localhost:5001/args/test?dt=2018-11-07", cookies=signin.cookies)
    """

    title = "argument parsing"
    author = "mra"

    def get(self):
        dt = self.get_argument("dt", as_type=datetime.datetime, default=None)
        if dt:
            delta = (datetime.datetime.utcnow() - dt).total_seconds()
        else:
            delta = 0
        self.reply("got: %s (%dsec. to now)" % (dt, delta))

    def post(self):
        self.get()


class TemplateHandler(CoreRequestHandler):
    """Renders a template and links a static file (``static_url``)."""

    title = "template example"
    author = "mra"
    tag = ["app", "new"]
    template_path = "/api/template"
    static_path = "/api/template"

    def get(self):
        self.render("template.html")  # located in <project>/api/template


class DataFrameHandler(CoreRequestHandler):
    """A pandas DataFrame as JSON, HTML table, CSV or text table (Accept header
    or ``content_type`` argument)."""

    title = "data frame example"
    author = "mra"
    tag = ["data"]

    def get(self):
        frame = pd.DataFrame(
            {
                "city": ["Munich", "Hamburg", "Berlin"],
                "visits": [120, 80, None],
                "since": pd.to_datetime(["2018-01-01", "2018-06-01", "2019-01-01"]),
            }
        )
        self.reply(frame)


class PagingHandler(CoreRequestHandler):
    """Pagination with ``CorePager``."""

    title = "pagination example"
    author = "mra"

    def get(self):
        rows = [{"idx": i} for i in range(60, 0, -1)]
        pager = CorePager(
            length=lambda flt: len(rows),
            query=lambda skip, limit, flt, sort: rows[skip : skip + limit],
            per_page=self.get_argument("per_page", as_type=int, default=10),
            current_page=self.get_argument("page", as_type=int, default=0),
        )
        self.reply(pager.page())


class DownloadHandler(CoreRequestHandler):
    """Download a file."""

    title = "download example"
    author = "mra"

    async def get(self):
        await self.download(os.path.join(os.path.dirname(__file__), "static", "help", "index.html"), "test.dat")


class LinkHandler(CoreRequestHandler):
    """Visit {{ enter_url }}"""

    title = "core4flask on the web"
    author = "mra"
    tag = ["app"]
    enter_url = "https://github.com/"
    target = "blank"

    def get(self):
        return self.redirect(self.enter_url)


class MyHandler(CoreTenantHandler):
    """Client specific request handling."""

    title = "tenant example"
    author = "mra"

    async def get(self, _id):
        self.reply({"_id": _id, "client": self.client})


class TestServer(CoreApiContainer):
    root = "/test-server"
    rules = [
        (r"/test", TestHandler),
        (r"/public", PublicHandler),
        (r"/error", ErrorTestHandler),
        (r"/flash", FlashHandler),
        (r"/template", TemplateHandler),
        (r"/frame", DataFrameHandler),
        (r"/paging", PagingHandler),
        (r"/download", DownloadHandler),
        (r"/link", LinkHandler),
        (
            r"/help",
            CoreStaticFileHandler,
            {
                "title": "API introduction",
                "path": "/static/help",
                "default_filename": "index.html",
                "protected": False,
                "author": "mra",
                "icon": "help",
            },
        ),
    ]


class CoreApiServer(CoreApiContainer):
    root = "args"
    rules = [(r"/test", ArgTestHandler)]


class TenantServer(CoreApiContainer):
    root = "/my"
    rules = [
        (r"/api/(?P<client>.+)/(?P<_id>.*)", MyHandler),
    ]


CONTAINERS = (TestServer, CoreApiServer, TenantServer)
