"""Every example of the seed document; only the import lines are changed."""

import datetime

from core4flask import CoreApiContainer, CoreRequestHandler, CoreStaticFileHandler, CoreTenantHandler, HTTPError


class TestHandler(CoreRequestHandler):
    author = "mra"
    title = "test handler"

    def get(self):
        self.reply("hello world")


class PublicTestHandler(CoreRequestHandler):
    protected = False

    def get(self):
        return "hello world"


class ErrorTestHandler(CoreRequestHandler):
    def get(self):
        raise HTTPError(409, "this is the ErrorTestHandler")


class FlashTestHandler(CoreRequestHandler):
    def get(self):
        self.flash_debug("first flash message")
        self.flash_debug("another flash message")
        self.reply("OK")


class ArgTestHandler(CoreRequestHandler):
    def get(self):
        dt = self.get_argument("dt", as_type=datetime.datetime, default=None)
        if dt:
            delta = (datetime.datetime.utcnow() - dt).total_seconds()
        else:
            delta = 0
        self.reply("got: %s (%dsec. to now)" % (dt, delta))

    def post(self):
        self.get()


class TemplateTestHandler(CoreRequestHandler):
    template_path = "/api/template"
    static_path = "/api/template"

    def get(self):
        self.render("template.html")  # located in <project>/api/template


class CardTestHandler(CoreRequestHandler):
    def card(self):
        self.render("template/card.html")  # located in <handler>/api/template

    def get(self):
        return self.reply("OK")


class EnterTestHandler(CoreRequestHandler):
    enter_url = "http://www.serviceplan.com"

    def get(self):
        return self.reply("OK")


class HelpHandler(CoreStaticFileHandler):
    author = "mra"
    title = "API introduction"
    path = "/static/help"
    default_filename = "default.html"
    protected = False
    icon = "help"


class MyHandler(CoreRequestHandler):
    author = "mra"
    title = "API introduction"
    template_path = "/project/api/templates"
    icon = "help"

    def get(self):
        return self.render("index.html")


class DownloadHandler(CoreRequestHandler):
    async def get(self):
        await self.download("./tests/servers/seed_project/static/help/default.html", "test.dat")


class TenantHandler(CoreTenantHandler):
    async def get(self, _id):
        self.reply({"_id": _id, "client": self.client})


class TestServer(CoreApiContainer):
    root = "/test-server"
    rules = [
        (r"/test", TestHandler),
        (r"/public", PublicTestHandler),
        (r"/error", ErrorTestHandler),
        (r"/flash", FlashTestHandler),
        (r"/template", TemplateTestHandler),
        (r"/card", CardTestHandler),
        (r"/enter", EnterTestHandler),
        (r"/download", DownloadHandler),
        (r"/config", MyHandler),
    ]


class TestContainer(CoreApiContainer):
    root = "/test-container"
    rules = [
        (
            r"/help",
            CoreStaticFileHandler,
            {
                "title": "API introduction",
                "path": "/static/help",
                "default_filename": "default.html",
                "protected": False,
                "author": "mra",
                "icon": "help",
            },
        ),
        (r"/help2", HelpHandler),
    ]


class CoreApiServer(CoreApiContainer):
    root = "args"
    rules = [(r"/test", ArgTestHandler)]


class TenantServer(CoreApiContainer):
    root = "/my"
    rules = [
        (r"/api/(?P<client>.+)/(?P<_id>.*)", TenantHandler),
    ]


class UnnamedTenantServer(CoreApiContainer):
    root = "/unnamed"
    rules = [
        (r"/api/(.+)/(.*)", TenantHandler),
    ]
