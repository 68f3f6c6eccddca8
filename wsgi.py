"""The demo application: ``gunicorn -c gunicorn.conf.py wsgi:app`` or
``flask --app wsgi run``."""

from core4flask import create_app
from demo.seed import CONTAINERS

app = create_app(*CONTAINERS)
