"""How long an owner of a socket waits before opening the next one after a loss or a refusal."""

from __future__ import annotations

import random
from collections.abc import Callable


def reconnect_delay(
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait before retry number `attempt` (0-based): between half and all of
    `min(cap, base * 2**attempt)`, the jitter keeping many clients from retrying in step; never
    less than Binance's `retry_after`."""
    ceiling = min(cap, base * 2 ** min(attempt, 32))
    return max(rng(ceiling / 2, ceiling), retry_after or 0.0)
