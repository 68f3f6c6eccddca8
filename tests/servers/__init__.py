"""Scripts started as real servers by the end-to-end tests."""
