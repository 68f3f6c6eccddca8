"""Authentication and authorisation: tokens, credentials, login, permissions."""
