"""A file that tells every worker process of a host to drop its auth caches.

Workers cache users and revocations for up to ``api.token.cache_ttl``
seconds. A logout, password change, deactivation, deletion or permission
change must take effect at once, though, also in the sibling worker that
serves the very next request. The writer first changes the store, then
replaces this file; every worker compares the file's identity (one
``stat`` call) before it trusts its caches. The store stays the truth: the
file carries no data, and workers on other hosts still see the change
within ``cache_ttl``.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid

__all__ = ["ChangeSignal"]

log = logging.getLogger("core4flask")

#: name of the signal file in the instance folder
FILE_NAME = "auth-changes"


class ChangeSignal:
    """The change stamp of one instance folder, as seen by one process."""

    def __init__(self, folder: str) -> None:
        #: the signal file
        self.path = os.path.join(folder, FILE_NAME)
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_ino, info.st_mtime_ns, info.st_size

    def changed(self) -> bool:
        """Whether any process signalled a change since the last call."""
        stamp = self._stamp()
        if stamp == self._seen:
            return False
        self._seen = stamp
        return True

    def notify(self) -> None:
        """Signal a change to every process of this host (after the store write)."""
        # a new file each time: its inode differs even within one clock tick
        temporary = f"{self.path}.{os.getpid()}.{threading.get_ident()}"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(temporary, "w", encoding="ascii") as sink:
                sink.write(uuid.uuid4().hex[: 1 + uuid.uuid4().int % 32])
            os.replace(temporary, self.path)
        except OSError:
            log.warning("could not signal an auth change in %s", self.path, exc_info=True)
