"""Keeping freed memory for reuse while big logs are decoded in bulk.

Bulk decoding (`tb_bulk`) makes a few dozen short-lived numpy arrays of a few hundred KB per
region it reads. glibc's defaults give memory at the top of the heap back to the system as
soon as a little (128 KB, or twice the largest block freed so far) lies free there, so each
region faulted the same pages in afresh: measured on 1M points in 2 MB reads, 66k page faults
(260 MB) and about half of the read's CPU time (1.7-2.2M points/s instead of 3-4M/s), or none
at all in another process, depending on the heap's layout. Here the heap keeps up to `TRIM`
bytes free at its top, and blocks below `MMAP` come from the heap, not from fresh mappings.
Peak memory is unchanged (the same arrays exist at once); what changes is that up to `TRIM`
bytes are not handed back between regions. Elsewhere than glibc (macOS, musl) this does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

TRIM = 32 << 20
MMAP = 4 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_result: bool | None = None


def retain_freed_memory() -> bool:
    """Set the allocator's thresholds (once per process); whether they are set."""
    global _result
    if _result is None:
        _result = _set()
    return _result


def _set() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_TRIM_THRESHOLD, TRIM)) and bool(mallopt(_M_MMAP_THRESHOLD, MMAP))
