"""fix_malloc_thresholds against the real allocator, in a fresh interpreter each time."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")

# An 8 MiB buffer is mapped on its own and freed; with glibc's dynamic thresholds that raises
# the mmap threshold to 8 MiB, so the next such buffer is cut from the heap and, freed, stays.
PROGRAM = """
import sys
from chatbot.memory import fix_malloc_thresholds

def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

fixed = fix_malloc_thresholds(int(sys.argv[1]))
buffer = bytearray(8 << 20); del buffer
before = rss_kb()
buffer = bytearray(8 << 20); del buffer
print(fixed, rss_kb() - before)
"""


def run(threshold: int) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(threshold)],
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], int(out[1])


def test_a_freed_large_buffer_goes_back_to_the_os():
    fixed, grown_kb = run(128 * 1024)
    assert fixed == "True"
    assert grown_kb < 1024


def test_zero_keeps_glibcs_own_thresholds():
    fixed, grown_kb = run(0)
    assert fixed == "False"
    assert grown_kb > 7 * 1024
