"""Binance's new-order limits per account (`ORDERS` per 10 s and per day), kept like the weight.

The limits come from `exchangeInfo.rateLimits`; the counts from our own tally and from the
`X-MBX-ORDER-COUNT-10S` / `-1D` headers of order responses (Binance's count wins when higher,
as the account may also trade on the web or the app). A new order that would pass `share` of a
limit waits for the next window when that is within `user_wait` seconds, else it is refused
before it leaves with `RateLimited` and the wait, so Binance never answers -1015.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatbot.exchange.errors import RateLimited

_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}
_HEADERS = {10: "X-MBX-ORDER-COUNT-10S", 86_400: "X-MBX-ORDER-COUNT-1D"}


@dataclass
class _Tally:
    """One account's orders in the current window of one limit."""

    window: int = -1
    count: int = 0


@dataclass
class OrderPacer:
    """New orders per account under `share` of each ORDERS limit (window seconds -> limit)."""

    share: float = 0.8
    user_wait: float = 5.0
    server_time: Callable[[], float] = time.time
    limits: dict[int, int] = field(default_factory=lambda: {10: 50, 86_400: 160_000})
    _tallies: dict[tuple[str, int], _Tally] = field(default_factory=dict)

    def set_limits(self, rate_limits: Iterable[dict[str, Any]]) -> None:
        """Adopt the ORDERS limits of `exchangeInfo.rateLimits`."""
        found = {
            _SECONDS.get(str(r.get("interval")), 0) * int(r.get("intervalNum", 1)): int(r["limit"])
            for r in rate_limits
            if r.get("rateLimitType") == "ORDERS"
        }
        self.limits = {span: limit for span, limit in found.items() if span > 0 and limit > 0}

    def observe(self, account: str, headers: Mapping[str, str]) -> None:
        """An order response's counts: adopt them where higher than ours."""
        for span, name in _HEADERS.items():
            raw = headers.get(name)
            if raw is not None and raw.isdigit() and span in self.limits:
                tally = self._tally(account, span)
                tally.count = max(tally.count, int(raw))

    async def acquire(self, account: str, count: int = 1) -> None:
        """Wait (briefly) until `count` more orders fit every limit (an OCO is 2 orders, an
        OTOCO 3, as Binance counts them), then count them."""
        started = time.monotonic()
        while (wait := self._wait(account, count)) > 0:
            if time.monotonic() + wait > started + self.user_wait:
                message = (
                    f"Binance allows this account only so many new orders at a time; "
                    f"try again in {max(1.0, wait):.0f} s."
                )
                raise RateLimited(max(1.0, wait), message, code=-1015, status=429)
            await asyncio.sleep(wait)
        for span in self.limits:
            self._tally(account, span).count += count

    def _wait(self, account: str, count: int) -> float:
        now = self.server_time()
        for span, limit in self.limits.items():
            if self._tally(account, span).count + count > max(count, int(limit * self.share)):
                return (int(now // span) + 1) * span - now + 0.05
        return 0.0

    def _tally(self, account: str, span: int) -> _Tally:
        tally = self._tallies.setdefault((account, span), _Tally())
        window = int(self.server_time() // span)
        if tally.window != window:
            tally.window, tally.count = window, 0
        return tally
