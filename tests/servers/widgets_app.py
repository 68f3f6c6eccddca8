"""A single-page app written like core4's App Manager, served as core4 serves
it: a ``CoreStaticFileHandler`` at ``/``, next to the seed's containers.

core4flask's own launcher moves to ``/launcher`` by configuration (README,
"core4's App Manager"); ``gunicorn -c gunicorn.conf.py tests.servers.widgets_app:app``.
"""

from core4flask import CoreApiContainer, CoreStaticFileHandler, create_app
from demo.seed import CONTAINERS


class Widgets(CoreApiContainer):
    """The single-page app at the site root."""

    root = ""
    rules = [
        (
            r"/",
            CoreStaticFileHandler,
            {"path": "widgets", "title": "Widgets", "tag": ["api"], "target": "blank"},
        )
    ]


MOVE_LAUNCHER = {"core4flask": {"apps": {"routes": {"CoreAppManager": {"root": "/launcher"}}}}}

app = create_app(Widgets, *CONTAINERS, config=MOVE_LAUNCHER)
