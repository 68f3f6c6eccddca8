"""gunicorn settings of this repository: core4flask's own, unchanged.

    gunicorn -c gunicorn.conf.py wsgi:app

is the same as ``gunicorn -c python:core4flask.gunicorn_conf wsgi:app``; see
:mod:`core4flask.gunicorn_conf` for the settings and their environment
variables. Override a setting below the import.
"""

from core4flask.gunicorn_conf import *  # noqa: F403
