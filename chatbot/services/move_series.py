"""One symbol's recent closes at one candle resolution: where a move alert finds the price
`window` seconds ago (see `move_book.py`).

A window up to 12 h reads 1-minute candles, a longer one 15-minute candles, so no symbol keeps
more than about 1,400 closes per resolution however long its windows: the price "then" is the
close of the candle holding that instant, at most one candle later than the instant itself
(a minute for a 15m..12h window, 15 minutes for a 1d..7d one).

Candles are numbered by `open_time // resolution`. The series keeps the closes of the candles
`base .. last` in a list, the last one being the candle trades are forming now; a candle without
a trade takes the close before it (no trade, no change). Seeding with REST candles fills the
past: a closed candle from REST replaces what trades made of it (REST saw every trade; the
stream may have started mid-candle), the candle being formed stays the stream's.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from chatbot.exchange.market_models import Kline

MINUTE_MS = 60_000
RESOLUTIONS: dict[str, int] = {"1m": MINUTE_MS, "15m": 15 * MINUTE_MS}  # interval -> ms
LONGEST_ON_MINUTES = 12 * 3600  # seconds: the longest window read from 1m candles


def resolution_of(window: int) -> str:
    """The candle interval a window of `window` seconds reads its reference price from."""
    return "1m" if window <= LONGEST_ON_MINUTES else "15m"


def span_for(window: int, resolution_ms: int) -> int:
    """Candles a series must keep for a window: the reference candle is at most
    window / resolution candles before the one being formed (and one more for rounding)."""
    return window * 1000 // resolution_ms + 2


class CloseSeries:
    """The closes of candles `base .. last` (see the module docstring). `span` is how many
    candles the windows reading it need; the list keeps between `span` and 2 x `span` of them
    (the oldest are dropped in bulk, so appending a candle costs O(1) amortized)."""

    __slots__ = (
        "base",
        "closes",
        "covered_from",
        "interval",
        "live",
        "resolution",
        "span",
        "version",
    )

    def __init__(self, interval: str) -> None:
        self.interval = interval
        self.resolution = RESOLUTIONS[interval]
        self.span = 2
        self.base = 0
        self.closes: list[Decimal] = []
        self.live: int | None = None  # the candle the last trade fell in
        self.covered_from: int | None = None  # the oldest candle a seed answered for
        self.version = 0  # bumped when a seed rewrites the past a reference may have read

    @property
    def last(self) -> int:
        return self.base + len(self.closes) - 1

    def close_at(self, index: int) -> Decimal | None:
        """The close of candle `index`; after the last, the last close (nothing traded since);
        None before the first known candle."""
        closes = self.closes
        if not closes or index < self.base:
            return None
        offset = index - self.base
        return closes[offset] if offset < len(closes) else closes[-1]

    def on_trade(self, price: Decimal, time_ms: int) -> None:
        """A trade: the close of its candle. A trade older than the newest candle (a seed ran
        ahead of the stream) counts for the newest, so the past is never rewritten by trades."""
        index = time_ms // self.resolution
        closes = self.closes
        if not closes:
            self.base, self.closes = index, [price]
        elif index > self.last:
            self._extend(index, price)
        else:
            closes[-1] = price
            index = self.last
        self.live = index

    def seed(self, klines: Iterable[Kline]) -> None:
        """Merge closed candles (REST history) into the series; idempotent. See the module
        docstring for which side wins; answers the history the series lacked (`lacks`)."""
        points = {k.open_time // self.resolution: k.close for k in klines}
        if self.live is not None:
            points = {i: c for i, c in points.items() if i < self.live}
        if points:
            self._merge(points)
        need = self.need_from()
        if need is not None:
            self.covered_from = need if self.covered_from is None else min(self.covered_from, need)

    def need_from(self, now_ms: int | None = None) -> int | None:
        """The oldest candle the windows need, counting back from the newest candle known (or
        from `now_ms` when later); None when neither is known."""
        present = self.last if self.closes else None
        if now_ms is not None:
            now = now_ms // self.resolution
            present = now if present is None else max(present, now)
        return None if present is None else present - self.span + 1

    def lacks(self, now_ms: int | None = None) -> int | None:
        """The open time (ms) from which history is missing, or None when nothing is: the
        series reaches back far enough, or a seed already answered for that far back (a symbol
        listed recently has no older candles to give)."""
        need = self.need_from(now_ms)
        if need is None:
            raise ValueError(f"no present for {self.interval} history: pass now_ms")
        if self.closes and self.base <= need:
            return None
        if self.covered_from is not None and self.covered_from <= need:
            return None
        return need * self.resolution

    def _extend(self, index: int, price: Decimal) -> None:
        """Append candle `index`, the candles between taking the last close."""
        carry = self.closes[-1]
        gap = index - self.last - 1
        if gap > self.span:  # only the last `span` candles can ever be read
            self.base, self.closes = index - self.span, [carry] * self.span + [price]
            return
        self.closes.extend([carry] * gap)
        self.closes.append(price)
        self._trim()

    def _merge(self, points: dict[int, Decimal]) -> None:
        """Lay `points` over the known closes, carrying each close over the gaps after it."""
        lo, hi = min(points), max(points)
        if self.closes:
            lo, hi = min(lo, self.base), max(hi, self.last)
        lo = max(lo, hi - 2 * self.span)  # older than any window reads: dropped
        merged: list[Decimal | None] = [None] * (hi - lo + 1)
        for offset, close in enumerate(self.closes):
            if self.base + offset >= lo:
                merged[self.base + offset - lo] = close
        for index, close in points.items():
            if index >= lo:
                merged[index - lo] = close
        first = next(i for i, c in enumerate(merged) if c is not None)
        filled: list[Decimal] = []
        carry = Decimal(0)
        for close in merged[first:]:
            carry = close if close is not None else carry
            filled.append(carry)
        self.base, self.closes = lo + first, filled
        self.version += 1
        self._trim()

    def _trim(self) -> None:
        excess = len(self.closes) - 2 * self.span
        if excess > 0:
            drop = len(self.closes) - self.span
            del self.closes[:drop]
            self.base += drop
