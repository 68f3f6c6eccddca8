"""``serve()`` with several containers and worker processes."""

import sys

from core4flask import CoreApiContainer, CoreRequestHandler, serve


class Hello(CoreRequestHandler):
    protected = False

    def get(self):
        import os

        self.reply({"pid": os.getpid()})


class Sleepy(CoreRequestHandler):
    """Sleeps; tells how many sleeps its worker has held at once so far."""

    protected = False
    in_flight = 0
    peak = 0

    def get(self):
        import time

        Sleepy.in_flight += 1
        Sleepy.peak = max(Sleepy.peak, Sleepy.in_flight)
        try:
            time.sleep(float(self.get_argument("s", default="0.5")))
        finally:
            Sleepy.in_flight -= 1
        self.reply({"peak": Sleepy.peak})


class Echo(CoreRequestHandler):
    protected = False

    def get(self, *args):
        self.reply(list(args))


class Body(CoreRequestHandler):
    protected = False

    def post(self):
        self.reply({"body": self.request.get_data(as_text=True)})


class One(CoreApiContainer):
    root = "/one"
    rules = [(r"/hello", Hello), (r"/sleep", Sleepy), (r"/echo/([^/]+)/([^/]+)", Echo), (r"/body", Body)]


class Two(CoreApiContainer):
    root = "/two"
    rules = [(r"/hello", Hello)]


if __name__ == "__main__":
    serve(One, Two, workers=int(sys.argv[1]) if len(sys.argv) > 1 else 1)
