"""Users and roles: field validation, model and REST API.

Layer: the roles feature; it may use authentication, the request core and the
helpers, never the apps feature.
"""
