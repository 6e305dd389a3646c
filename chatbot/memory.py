"""glibc's malloc held to fixed mmap and trim thresholds, so a long-running bot gives back what
its large, short-lived buffers took.

Why: glibc starts with both thresholds at 128 KiB but raises them whenever a block it had mapped
on its own is freed: the mmap threshold to that block's size (up to 32 MiB) and the trim
threshold to twice it. After the bot has once freed a large buffer (a JSON body, a dict or list
of the alert book doubling past 128 KiB), later large buffers are cut from the heap instead, and
the free space they leave stays resident: the heap's top is only returned above the raised trim
threshold. `benchmarks/lean.py` measured it: 1,000 /price commands grew the bot's RSS by about
0.45 MB with dynamic thresholds and by under 0.1 MB with fixed ones; 1,000 alerts set with
/alert by about 0.7 and about 0.45 MB (the rest is the alerts' own: the alert book and SQLite's
page cache). Fixing the values (what setting MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_
does) turns the adjustment off. The cost is an mmap and munmap per buffer above the threshold,
which for this bot's few large bodies a second is nothing measurable.

Only `chatbot run` applies it (a long-running process); elsewhere, and on a libc that is not
glibc (musl, macOS), nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

# mallopt(3) parameter numbers, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def fix_malloc_thresholds(threshold: int) -> bool:
    """Fix glibc's mmap and trim thresholds at `threshold` bytes (CHATBOT_MALLOC_THRESHOLD).

    Returns False, changing nothing, for 0 (glibc's dynamic thresholds kept) or where the C
    library is not glibc. Call it once, early, before the process has freed large buffers."""
    if threshold <= 0 or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, threshold)
    )
