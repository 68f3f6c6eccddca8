"""Users and roles: field validation, model and REST API."""
