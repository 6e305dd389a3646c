"""Funding: a rate per contract, settled every 8 hours of the simulator's clock.

Settlements fall at 00:00, 08:00 and 16:00 UTC of the simulator's clock (`sim.advance` moves
it). They are recorded lazily: every read of futures data, and every control call that
changes a rate, first settles the boundaries passed since the last one, each with the rate
in force then (the rate a test set before advancing) and the mark price at that moment. A
rate stays in force after a settlement until it is changed (Binance's predicted rate moves
with the premium; here it moves only when told). Before the simulator started, 30 days of
deterministic settlements (seeded, -0.01 % to +0.03 %) give every contract a history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ..pricepath import hash_parts

FUNDING_INTERVAL_MS = 8 * 3_600_000
HISTORY_SETTLEMENTS = 90  # 30 days before the start
MAX_CATCH_UP = 1_000  # settlements recorded at most per contract after one long jump
_RATE_STEP = Decimal("0.00001")


def next_funding_time(now: int) -> int:
    """The first 8-hour boundary strictly after `now`."""
    return (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS


def seeded_rate(key: int, *parts: int) -> Decimal:
    """A deterministic rate in [-0.0001, 0.0003], on a 0.00001 grid."""
    return (hash_parts(key, *parts) % 41 - 10) * _RATE_STEP


@dataclass(frozen=True)
class Settlement:
    """One funding settlement: `GET /fapi/v1/fundingRate`'s element."""

    symbol: str
    rate: Decimal
    time: int
    mark_price: Decimal


class FundingBook:
    """Rates in force and settlements, per contract.

    `mark_price(symbol, at)` is asked for the mark price of a settlement (at its time for
    the seeded history, now for the live ones).
    """

    def __init__(
        self,
        keys: dict[str, int],
        now: int,
        mark_price: Callable[[str, int], Decimal],
    ) -> None:
        self._keys = keys
        self._mark_price = mark_price
        self.rates = {name: seeded_rate(key, 0) for name, key in keys.items()}
        self._settled_until = now // FUNDING_INTERVAL_MS * FUNDING_INTERVAL_MS
        self._start = self._settled_until  # the seeded history ends at this boundary
        self._seeded: dict[str, list[Settlement]] = {}  # built when first read: it is costly
        self._live: dict[str, list[Settlement]] = {name: [] for name in keys}

    def history(self, name: str) -> list[Settlement]:
        """Every settlement of `name` kept, oldest first."""
        if name not in self._seeded:
            key, last = self._keys[name], self._start
            times = [last - FUNDING_INTERVAL_MS * n for n in range(HISTORY_SETTLEMENTS - 1, -1, -1)]
            self._seeded[name] = [
                Settlement(name, seeded_rate(key, t), t, self._mark_price(name, t)) for t in times
            ]
        return self._seeded[name] + self._live[name]

    def settle(self, now: int) -> None:
        """Record every boundary passed up to `now` (at most MAX_CATCH_UP per contract)."""
        due = now // FUNDING_INTERVAL_MS * FUNDING_INTERVAL_MS
        if due <= self._settled_until:
            return
        first = max(
            self._settled_until + FUNDING_INTERVAL_MS,
            due - FUNDING_INTERVAL_MS * (MAX_CATCH_UP - 1),
        )
        for name, rows in self._live.items():
            mark = self._mark_price(name, now)
            rate = self.rates[name]
            rows.extend(
                Settlement(name, rate, t, mark) for t in range(first, due + 1, FUNDING_INTERVAL_MS)
            )
            del rows[: max(0, len(rows) - MAX_CATCH_UP)]
        self._settled_until = due

    def select(
        self,
        names: list[str],
        start: int | None,
        end: int | None,
        limit: int,
    ) -> list[Settlement]:
        """Settlements as `/fapi/v1/fundingRate` selects them: ascending by time, within
        [start, end] (both inclusive); from `start` the first `limit`, else the last."""
        rows = sorted(
            (
                row
                for name in names
                for row in self.history(name)
                if (start is None or row.time >= start) and (end is None or row.time <= end)
            ),
            key=lambda row: (row.time, row.symbol),
        )
        return rows[:limit] if start is not None else rows[-limit:]
