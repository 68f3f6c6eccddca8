"""The current process id, without a system call each time it is asked for.

Hot paths compare it with the id they saw when they opened a per-process
resource (a store handle, the token service) to notice a fork. ``os.getpid``
is a system call; the id changes only in a forked child, which
``os.register_at_fork`` reports.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

import os

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def current_pid() -> int:
    """This process's id."""
    return _pid
