"""Moved to :mod:`core4flask.docstrings` (a pure helper the help pages and the
OpenAPI document share); these names stay importable from here for a release."""

from __future__ import annotations

from ..docstrings import HTTP_METHODS as HTTP_METHODS
from ..docstrings import PART_KEYS as PART_KEYS
from ..docstrings import SECTION_NAMES as SECTION_NAMES
from ..docstrings import method_docs as method_docs
from ..docstrings import parse_docstring as parse_docstring
from ..docstrings import render_docstring_html as render_docstring_html
