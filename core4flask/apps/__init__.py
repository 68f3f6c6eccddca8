"""Mini applications: help, card and enter pages, the launcher and API docs.

Layer: the apps feature; it uses the request core and the helpers, never
authentication or roles.
"""
