"""``request.core4_state``: what core4flask knows of the request it serves.

The handler that takes a request makes its :class:`RequestState` and fills
it while it serves (flash messages, response headers, the user's name, the
merged arguments once read). Error rendering (:mod:`core4flask.errors`) and
the access log read the state, never a handler: an error answers with the
request's ``_id`` and flash messages, keeps the headers the error must keep,
and renders in the type the ``content_type`` argument asks for. A request no
handler took (an unknown path) gets a state when its error is rendered.

Layer: the request core (near its bottom, above the exceptions); it knows
nothing of authentication or the features.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

from .envelope import utc_datetime
from .identifiers import new_identifier

__all__ = ["STATE_ATTRIBUTE", "RequestState", "state_of"]

#: The attribute of the Flask request that holds its state.
STATE_ATTRIBUTE = "core4_state"


class RequestState:
    """The request ``_id``, its start, and what the handler set so far."""

    __slots__ = ("identifier", "started_at", "flash", "current_user", "headers", "arguments")

    def __init__(self, identifier: str | None = None, started_at: float | None = None) -> None:
        now = time.time() if started_at is None else started_at
        #: the request ``_id`` (24 hex digits, a valid ObjectId)
        self.identifier: str = identifier or new_identifier(now)
        #: when the request started, epoch seconds
        self.started_at: float = now
        #: flash messages in call order: ``{"level": ..., "message" | "data": ...}``
        self.flash: list[dict[str, Any]] = []
        #: the signed-in user's name, once known
        self.current_user: str | None = None
        #: response headers set so far, in order (None until the first)
        self.headers: list[tuple[str, str]] | None = None
        #: the merged request arguments, once read (see :mod:`core4flask.arguments`)
        self.arguments: dict[str, list[Any]] | None = None

    @property
    def started(self) -> datetime.datetime:
        """When the request started, as naive UTC."""
        return utc_datetime(self.started_at)

    def __repr__(self) -> str:
        return f"RequestState(identifier={self.identifier!r}, current_user={self.current_user!r})"


def state_of(request: object) -> RequestState:
    """The state of ``request``; a new one (kept on it) when it has none yet."""
    state: RequestState | None = getattr(request, STATE_ATTRIBUTE, None)
    if state is None:
        state = RequestState()
        setattr(request, STATE_ATTRIBUTE, state)
    return state
