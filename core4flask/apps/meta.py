"""Moved to :mod:`core4flask.pages` (the card, help and enter pages are part of
the request core); these names stay importable from here for a release."""

from __future__ import annotations

from ..pages import PAGE_OWN_FIELDS as PAGE_OWN_FIELDS
from ..pages import call_card as call_card
from ..pages import default_card as default_card
from ..pages import default_enter as default_enter
from ..pages import description_of as description_of
from ..pages import enter_url_of as enter_url_of
from ..pages import has_custom_card as has_custom_card
from ..pages import render_help as render_help
from ..pages import resource_meta as resource_meta
from ..pages import safe_meta as safe_meta
from ..pages import serve_page as serve_page
from ..pages import with_registry_entry as with_registry_entry
