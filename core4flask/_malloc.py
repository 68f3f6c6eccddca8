"""Give large freed blocks back to the system in serving processes.

glibc serves a block of 128 KiB or more with a private ``mmap``, but once
such a block is freed it raises that threshold to the block's size, so
later blocks of that size come from the heap of the allocating thread and
stay there after they are freed. argon2 needs one 19 MiB buffer per
password hash (computed in gevent's thread pool): with the moving threshold
every worker kept about 20 MiB after its first login, for good. A fixed
threshold keeps every block of at least :data:`MMAP_THRESHOLD` a mapping
of its own, returned when it is freed.

Layer: pure helper; it imports other helpers only.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["MMAP_THRESHOLD", "return_large_blocks"]

#: blocks of at least this many bytes are always mapped on their own
MMAP_THRESHOLD = 8 * 1024 * 1024
#: glibc's ``mallopt`` parameter number of the mmap threshold
_M_MMAP_THRESHOLD = -3


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold for this process; False where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
