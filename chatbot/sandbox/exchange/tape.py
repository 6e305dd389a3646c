"""The live market of one symbol: its trade tape and candles, on top of the synthetic past.

Trades printed since the simulator started are kept (the last few thousand) and rolled into
one-minute candles (all of them). A kline of any interval is then assembled from, in time
order, the synthetic history before the boundary (the minute the simulator started) and the
live minutes after it; a candle that straddles the boundary is the synthetic part extended by
the live part. So charts, `/ticker/24hr` and the kline stream all tell the same story.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .candles import Candle, SyntheticHistory, slot_end, slot_open
from .pricepath import DAY_MS
from .wire import fmt

TICKER_SLOT = "15m"  # the candles the rolling 24 h statistics are summed from


@dataclass(frozen=True, slots=True)
class Trade:
    """One print on the public tape."""

    id: int
    price: Decimal
    qty: Decimal
    time: int
    buyer_is_maker: bool

    def rest(self) -> dict[str, Any]:
        """The element of `GET /api/v3/trades`."""
        return {
            "id": self.id,
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "quoteQty": fmt(self.price * self.qty),
            "time": self.time,
            "isBuyerMaker": self.buyer_is_maker,
            "isBestMatch": True,
        }


class Tape:
    """Trades and one-minute candles since `boundary_ms`, plus the history before it."""

    TRADE_MEMORY = 5_000

    def __init__(self, history: SyntheticHistory, boundary_ms: int, start_price: Decimal) -> None:
        self.history = history
        self.boundary = boundary_ms
        self.start_price = start_price
        self.trades: list[Trade] = []
        self._minutes: list[Candle] = []
        self._minute_opens: list[int] = []

    @property
    def last_price(self) -> Decimal:
        return self.trades[-1].price if self.trades else self.start_price

    def record(self, trade: Trade) -> None:
        """Add a print; trades must arrive in time order (the market guarantees it)."""
        self.trades.append(trade)
        if len(self.trades) > 2 * self.TRADE_MEMORY:
            del self.trades[: -self.TRADE_MEMORY]
        minute = trade.time // 60_000 * 60_000
        if not self._minutes or self._minutes[-1].open_time != minute:
            self._minutes.append(Candle.flat(minute, minute + 60_000, trade.price))
            self._minute_opens.append(minute)
        self._minutes[-1].add_trade(trade.price, trade.qty, trade.buyer_is_maker, trade.id)

    def price_at(self, t: int) -> Decimal:
        """The last traded price at instant `t` (the synthetic path's before the boundary)."""
        if t < self.boundary:
            return self.history.price_at(t)
        if self.trades and self.trades[0].time <= t:
            index = bisect_right(self.trades, t, key=lambda trade: trade.time)
            return self.trades[index - 1].price
        index = bisect_right(self._minute_opens, t)
        return self._minutes[index - 1].close if index else self.start_price

    def candle(self, interval: str, open_time: int) -> Candle:
        """The `interval` candle opening at `open_time` (the live one is partial)."""
        end = slot_end(interval, open_time)
        if end <= self.boundary:
            return self.history.candle(open_time, end)
        if open_time >= self.boundary:
            return self._live(interval, open_time, end)
        candle = self.history.candle(open_time, self.boundary)
        candle.close_time = end - 1
        candle.absorb(self._live(interval, self.boundary, end))
        return candle

    def _live(self, interval: str, start: int, end: int) -> Candle:
        if interval == "1s":
            return self._from_trades(start, end)
        lo = bisect_left(self._minute_opens, start)
        hi = bisect_left(self._minute_opens, end)
        if lo == hi:
            return Candle.flat(start, end, self.price_at(start))
        candle = self._minutes[lo].copy(start, end)
        for minute in self._minutes[lo + 1 : hi]:
            candle.absorb(minute)
        return candle

    def _from_trades(self, start: int, end: int) -> Candle:
        candle = Candle.flat(start, end, self.price_at(start))
        lo = bisect_left(self.trades, start, key=lambda trade: trade.time)
        hi = bisect_left(self.trades, end, key=lambda trade: trade.time)
        for trade in self.trades[lo:hi]:
            candle.add_trade(trade.price, trade.qty, trade.buyer_is_maker, trade.id)
        return candle

    def klines(
        self, interval: str, now: int, limit: int, start: int | None, end: int | None
    ) -> list[Candle]:
        """Candles as `GET /api/v3/klines` selects them: opening at or after `start`, at or
        before `end`, never after the current one; the latest `limit` when no start is given."""
        last_open = slot_open(interval, now if end is None else min(end, now))
        if start is None:
            opens = [last_open]
            while len(opens) < limit:
                opens.append(slot_open(interval, opens[-1] - 1))
            opens.reverse()
        else:
            opens = []
            t = slot_open(interval, start)
            if t < start:
                t = slot_end(interval, t)
            while len(opens) < limit and t <= last_open:
                opens.append(t)
                t = slot_end(interval, t)
        return [self.candle(interval, t) for t in opens]

    def rolling_24h(self, now: int) -> Candle:
        """Statistics over the last 24 h, summed from the same candles `klines` serves.

        The opening price is the price exactly 24 h ago; volume, high and low come from the
        15-minute candles overlapping the window (so they may include up to 15 minutes more).
        """
        start = now - DAY_MS
        slots = self.klines(TICKER_SLOT, now, 200, start=slot_open(TICKER_SLOT, start), end=now)
        stats = slots[0].copy(start, now + 1)
        for later in slots[1:]:
            stats.absorb(later)
        stats.open = self.price_at(start)
        stats.high = max(stats.high, stats.open, stats.close)
        stats.low = min(stats.low, stats.open, stats.close)
        return stats

    def vwap(self, since: int) -> Decimal | None:
        """Volume-weighted price of the live trades at or after `since`, None without any."""
        lo = bisect_left(self.trades, since, key=lambda trade: trade.time)
        window = self.trades[lo:]
        volume = sum((trade.qty for trade in window), Decimal(0))
        if not volume:
            return None
        return sum((trade.price * trade.qty for trade in window), Decimal(0)) / volume
