"""A shared word that tells every worker process of a host to drop its auth caches.

Workers cache users and revocations for up to ``api.token.cache_ttl``
seconds. A logout, password change, deactivation, deletion or permission
change must take effect at once, though, also in the sibling worker that
serves the very next request. The writer first changes the store, then
writes a new random stamp into a small file in the instance folder; every
worker maps that file into memory and compares the stamp before it trusts
its caches. Looking is a memory read, not a system call, because it happens
on every protected request. The store stays the truth: the stamp carries no
data, and workers on other hosts still see the change within ``cache_ttl``.

Where the file cannot be mapped, the stamp is the file's identity as
``stat`` reports it and a change replaces the file.

Layer: authentication, below the features; it uses the request core and the
helpers, never a feature.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
import uuid

from .._pid import current_pid

__all__ = ["ChangeSignal"]

log = logging.getLogger("core4flask")

#: name of the signal file in the instance folder
FILE_NAME = "auth-changes"
#: bytes of the stamp at the start of the file
STAMP_SIZE = 8


class ChangeSignal:
    """The change stamp of one instance folder, as seen by one process."""

    def __init__(self, folder: str) -> None:
        #: the signal file
        self.path = os.path.join(folder, FILE_NAME)
        self._map: mmap.mmap | None = self._open_map()
        self._seen = self._stamp()

    def _open_map(self) -> mmap.mmap | None:
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None
        try:
            if os.fstat(descriptor).st_size < STAMP_SIZE:
                # whoever gets here first sizes it; a second ftruncate to the same size changes nothing
                os.ftruncate(descriptor, STAMP_SIZE)
            return mmap.mmap(descriptor, STAMP_SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except (OSError, ValueError):
            log.warning("cannot map %s; auth changes are seen through stat", self.path)
            return None
        finally:
            os.close(descriptor)

    def _stamp(self) -> bytes | tuple[int, int, int] | None:
        if self._map is not None:
            return self._map[:STAMP_SIZE]
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
        if self._map is not None:
            # a fresh random stamp: two writers never leave the old value behind
            self._map[:STAMP_SIZE] = os.urandom(STAMP_SIZE)
            return
        # a new file each time: its inode differs even within one clock tick
        temporary = f"{self.path}.{current_pid()}.{threading.get_ident()}"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(temporary, "w", encoding="ascii") as sink:
                sink.write(uuid.uuid4().hex[: 1 + uuid.uuid4().int % 32])
            os.replace(temporary, self.path)
        except OSError:
            log.warning("could not signal an auth change in %s", self.path, exc_info=True)
