"""The demo application: the examples of the core4 documentation on core4flask."""
