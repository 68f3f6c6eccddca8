"""A project package holding the seed document's examples (imports changed only)."""
