"""A wall clock a test can move on, for the bot's order tickets (their expiry, their age)."""

from __future__ import annotations

import time


class ShiftedClock:
    """`time.time()` plus whatever the test has moved it on by: everything else the bot does
    keeps real time, and a preview's expiry is reached without waiting for it."""

    def __init__(self) -> None:
        self._offset = 0.0

    def __call__(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds
