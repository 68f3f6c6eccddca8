"""Authentication and authorisation: tokens, credentials, login, permissions.

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""
