"""The seed's first example, run as a script: ``serve(TestServer)``.

Only the imports differ from the document; the port comes from the
environment (``CORE4_OPTION_api__port``) like any other setting.
"""

from core4flask import CoreApiContainer, CoreRequestHandler, serve


class TestHandler(CoreRequestHandler):
    author = "mra"
    title = "test handler"

    def get(self):
        self.reply("hello world")


class TestServer(CoreApiContainer):
    root = "/test-server"
    rules = [(r"/test", TestHandler)]


if __name__ == "__main__":
    serve(TestServer)
