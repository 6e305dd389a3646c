"""Binance's limit on WebSocket connection attempts: 300 every 5 minutes per IP.

Both the market streams and the WebSocket API state this limit, each for its own host; one
`ConnectionAttempts` shared by every opener in the process (market-stream connections, user-data
groups: first connections, reconnects, 24 h renewals) counts them together, which is within the
limit whether Binance counts the two services apart or as one. After a network blip every
connection reconnects at once; the limiter lets the first `limit` attempts of any `window`
through and makes the rest wait for the oldest to leave the window, on top of the openers' own
backoff with jitter (which keeps them from waking in step).

The window slides: no `window` seconds ever hold more than `limit` attempts, however Binance
aligns its own five minutes, and it is stretched by `margin` seconds, because Binance counts an
attempt when it arrives and two attempts can take different times on the way. A failed attempt
counts like a successful one: it reached Binance.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

ATTEMPTS = 300  # per IP, per WINDOW seconds
WINDOW = 300.0


class ConnectionAttempts:
    """At most `limit` connection attempts in any `window` seconds."""

    def __init__(
        self,
        limit: int = ATTEMPTS,
        window: float = WINDOW,
        *,
        margin: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self.limit = limit
        self.window = window
        self._span = window + margin  # how long an attempt is counted here
        self._clock = clock
        self._made: deque[float] = deque()
        self.waiting = 0  # openers waiting for room now
        self.delayed = 0  # attempts that had to wait, since start

    @property
    def used(self) -> int:
        """Attempts made in the last `window` seconds (and the margin)."""
        self._forget(self._clock())
        return len(self._made)

    def wait_time(self) -> float:
        """Seconds until one more attempt may be made (0: now)."""
        now = self._clock()
        self._forget(now)
        if len(self._made) < self.limit:
            return 0.0
        return self._made[0] + self._span - now

    async def acquire(self) -> None:
        """Wait for room, then count one attempt (the caller connects next). Cancellable."""
        delay = self.wait_time()
        if delay > 0:
            self.waiting += 1
            self.delayed += 1
            try:
                while delay > 0:
                    await asyncio.sleep(delay)
                    delay = self.wait_time()
            finally:
                self.waiting -= 1
        self._made.append(self._clock())

    def _forget(self, now: float) -> None:
        while self._made and self._made[0] + self._span <= now:
            self._made.popleft()
