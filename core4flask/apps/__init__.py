"""Mini applications: help, card and enter pages, the launcher and API docs."""
