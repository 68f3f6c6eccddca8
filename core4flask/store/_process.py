"""One database handle per process, opened lazily and left alone after a fork.

Both backends keep a single handle (a MongoDB client, a SQLite connection)
per process. gunicorn forks workers from a parent that may already hold one;
the child must neither use nor close it: a forked MongoDB client is not safe
to use, and closing a SQLite connection in the child can release the child's
own POSIX locks on the file. :class:`ProcessHandle` notices the fork (through
``os.register_at_fork`` and by comparing process ids), parks the inherited
handle where it stays referenced and unused, and opens a fresh one on the
next call.

Layer: the store, a helper below the request core; shared by both backends.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Generic, Protocol, TypeVar


class _Closable(Protocol):
    def close(self) -> None: ...


_H = TypeVar("_H", bound=_Closable)

# Handles inherited through fork(): referenced forever so that garbage
# collection never closes them in the child.
_INHERITED: list[Any] = []
_HANDLES: weakref.WeakSet[ProcessHandle[Any]] = weakref.WeakSet()


class ProcessHandle(Generic[_H]):
    """A handle opened on first use and owned by one process.

    ``reentrant`` picks an ``RLock`` over a ``Lock``, for owners that take the
    handle again while they hold it. The opener is passed on each use rather
    than kept, so that a handle never keeps its owner alive.
    """

    def __init__(self, *, reentrant: bool = False) -> None:
        self._lock_type: Callable[[], AbstractContextManager[Any]] = threading.RLock if reentrant else threading.Lock
        self._lock: AbstractContextManager[Any] = self._lock_type()
        self._handle: _H | None = None
        self._pid = os.getpid()
        _HANDLES.add(self)

    @contextmanager
    def hold(self, opener: Callable[[], _H]) -> Iterator[_H]:
        """Yield this process's handle under the lock, made by ``opener`` if there is none."""
        if os.getpid() != self._pid:
            self.after_fork()
        with self._lock:
            if self._handle is None:
                self._handle = opener()
            yield self._handle

    def close(self) -> None:
        """Close the handle if this process opened it; the next use reopens."""
        with self._lock:
            if self._handle is not None and os.getpid() == self._pid:
                self._handle.close()
            self._handle = None

    def after_fork(self) -> None:
        """In a forked child, park the parent's handle and lock; else just close."""
        if os.getpid() == self._pid:
            self.close()
            return
        if self._handle is not None:
            _INHERITED.append(self._handle)
        self._handle = None
        self._lock = self._lock_type()
        self._pid = os.getpid()


def _after_fork_in_child() -> None:
    # even handles of stores the application dropped must be parked before
    # garbage collection gets to close them
    for handle in list(_HANDLES):
        handle.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
