"""Keep freed memory in the process between minibatches (glibc only).

Each minibatch allocates and frees the same few tensors of several megabytes
(a layer's current, membrane and spikes over the time steps, and their
gradients). With glibc's default settings the freed memory at the top of the
heap goes back to the operating system at once, so the next minibatch asks for
fresh pages and the kernel zero-fills each one on first touch: on a 2-core CPU
that page-fault work was a quarter to a third of the fit time of a 256-wide
network (``python benchmarks/profile_engine.py`` counts the faults).

:func:`keep_freed_memory` raises two glibc thresholds with ``mallopt`` so that
blocks up to 32 MB come from the heap and up to ``trim_bytes`` of free heap is
kept for reuse: the same settings as the environment variables
``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``. The resident set
after a fit may then stay up to that much above what is in use; peak memory
does not grow. It changes nothing on other C libraries or operating systems.

These thresholds belong to the whole process, and glibc cannot give back the
settings it had, so pynmsnn changes them only when asked: with the environment
variable ``PYNMSNN_KEEP_FREED_MEMORY=1`` set, fit and predict call
:func:`keep_freed_memory`; :func:`pynmsnn.parallel.set_malloc_threshold` sets
them once, by hand, for a process or a Dask worker.
"""

import ctypes
import os
import sys

# mallopt parameter numbers, from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

# glibc's ceiling for the mmap threshold on 64-bit systems (HEAP_MAX_SIZE / 2).
MMAP_THRESHOLD_BYTES = 32 * 2**20
# Free heap kept for reuse at least; raised to a fit's working set when larger.
MIN_TRIM_BYTES = 64 * 2**20

_trim_bytes = 0  # the trim threshold set so far in this process; 0 = untouched


def glibc_mallopt():
    """glibc's ``mallopt``, or None where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # only glibc has it
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def set_thresholds(mmap_bytes, trim_bytes):
    """Set glibc's mmap and trim thresholds; False where the C library is not glibc.

    Setting either turns off glibc's own adjustment of both, so both are set.
    """
    global _trim_bytes
    mallopt = glibc_mallopt()
    if mallopt is None:
        return False
    if not (mallopt(M_MMAP_THRESHOLD, mmap_bytes) and mallopt(M_TRIM_THRESHOLD, trim_bytes)):
        return False
    _trim_bytes = trim_bytes
    return True


def keep_freed_memory(working_set_bytes=0):
    """Let glibc keep up to ``max(64 MB, 2 * working_set_bytes)`` of freed heap for reuse.

    Called at the start of fit and predict; it acts only where the user asked
    for it with ``PYNMSNN_KEEP_FREED_MEMORY=1``. Thresholds only ever go up, so a
    later call with a smaller working set changes nothing.

    Parameters
    ----------
    working_set_bytes : int, default=0
        The memory one minibatch allocates and frees, as estimated by the caller.

    Returns
    -------
    trim_bytes : int
        The trim threshold now in effect from this module; 0 where nothing was
        changed (not asked for, or not glibc).

    Examples
    --------
    >>> from pynmsnn._malloc import keep_freed_memory
    >>> trim_bytes = keep_freed_memory(10 * 2**20)
    >>> trim_bytes == 0 or trim_bytes >= 64 * 2**20
    True
    """
    if os.environ.get("PYNMSNN_KEEP_FREED_MEMORY", "0") != "1":
        return 0
    wanted = min(max(MIN_TRIM_BYTES, 2 * int(working_set_bytes)), 2**31 - 1)
    if wanted > _trim_bytes and not set_thresholds(MMAP_THRESHOLD_BYTES, wanted):
        return 0
    return _trim_bytes
