"""Candles: Binance's kline intervals, the Candle record, and the synthetic history's candles.

Interval slots follow Binance: fixed-length intervals are aligned to the Unix epoch, weeks start
on Monday 00:00 UTC, months on the 1st. Times are ms; `close_time` is inclusive (`end - 1`).
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .pricepath import DAY_MS, PPM, PricePath, step_ppm, unit_fraction
from .symbols import SymbolSpec
from .wire import ZERO, ApiError, fmt, quantize_down

INTERVAL_MS: dict[str, int] = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
    "1M": 0,  # calendar months
}
_MONDAY_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday


def check_interval(name: str) -> str:
    """The interval itself, or Binance's -1120 for anything not in its list (case matters)."""
    if name not in INTERVAL_MS:
        raise ApiError(-1120, "Invalid interval.")
    return name


def _month_start(t: int) -> int:
    year, month = time.gmtime(t // 1000)[:2]
    return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000


def slot_open(interval: str, t: int) -> int:
    """Open time of the `interval` candle that contains instant `t`."""
    if interval == "1M":
        return _month_start(t)
    length = INTERVAL_MS[interval]
    offset = _MONDAY_OFFSET_MS if interval == "1w" else 0
    return (t - offset) // length * length + offset


def slot_end(interval: str, open_time: int) -> int:
    """Exclusive end of the candle that opens at `open_time` (the next candle's open)."""
    if interval == "1M":
        year, month = time.gmtime(open_time // 1000)[:2]
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000
    return open_time + INTERVAL_MS[interval]


@dataclass(slots=True)
class Candle:
    """One kline. Mutable while it is the live candle being filled by trades."""

    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trades: int = 0
    taker_volume: Decimal = ZERO
    taker_quote: Decimal = ZERO
    first_trade_id: int = -1
    last_trade_id: int = -1

    @classmethod
    def flat(cls, open_time: int, end: int, price: Decimal) -> Candle:
        """A candle without trades: Binance repeats the previous close, volume zero."""
        return cls(open_time, end - 1, price, price, price, price)

    def add_trade(self, price: Decimal, qty: Decimal, buyer_is_maker: bool, trade_id: int) -> None:
        """Record one trade; the first trade of an empty candle sets its open, as on Binance."""
        if self.trades == 0:
            self.open = self.high = self.low = price
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        self.quote_volume += price * qty
        self.trades += 1
        if not buyer_is_maker:
            self.taker_volume += qty
            self.taker_quote += price * qty
        if self.first_trade_id == -1:
            self.first_trade_id = trade_id
        self.last_trade_id = trade_id

    def absorb(self, later: Candle) -> None:
        """Extend this candle with a later one (same or shorter interval, after this one)."""
        self.high = max(self.high, later.high)
        self.low = min(self.low, later.low)
        self.close = later.close
        self.volume += later.volume
        self.quote_volume += later.quote_volume
        self.trades += later.trades
        self.taker_volume += later.taker_volume
        self.taker_quote += later.taker_quote
        if self.first_trade_id == -1:
            self.first_trade_id = later.first_trade_id
        if later.last_trade_id != -1:
            self.last_trade_id = later.last_trade_id

    def copy(self, open_time: int | None = None, end: int | None = None) -> Candle:
        """A detached copy, optionally re-timed to another slot."""
        candle = replace(self)
        if open_time is not None and end is not None:
            candle.open_time, candle.close_time = open_time, end - 1
        return candle

    def rest_row(self) -> list[Any]:
        """The 12-element array of `GET /api/v3/klines`."""
        return [
            self.open_time,
            fmt(self.open),
            fmt(self.high),
            fmt(self.low),
            fmt(self.close),
            fmt(self.volume),
            self.close_time,
            fmt(self.quote_volume),
            self.trades,
            fmt(self.taker_volume),
            fmt(self.taker_quote),
            "0",
        ]

    def stream_body(self, symbol: str, interval: str, closed: bool) -> dict[str, Any]:
        """The `k` object of a `<symbol>@kline_<interval>` event."""
        return {
            "t": self.open_time,
            "T": self.close_time,
            "s": symbol,
            "i": interval,
            "f": self.first_trade_id,
            "L": self.last_trade_id,
            "o": fmt(self.open),
            "c": fmt(self.close),
            "h": fmt(self.high),
            "l": fmt(self.low),
            "v": fmt(self.volume),
            "n": self.trades,
            "x": closed,
            "q": fmt(self.quote_volume),
            "V": fmt(self.taker_volume),
            "Q": fmt(self.taker_quote),
            "B": "0",
        }


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    """The nearest price on the tick grid, never below one tick."""
    rounded = (price / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick
    return max(rounded, tick)


class SyntheticHistory:
    """Candles of the deterministic past before the simulator started (see pricepath).

    Candles are immutable once generated, so they are cached; the cache is simply emptied
    when it grows past its bound.
    """

    _CACHE_LIMIT = 50_000

    def __init__(self, spec: SymbolSpec, key: int, anchor_ms: int) -> None:
        self._spec = spec
        self._key = key
        self.path = PricePath(key, anchor_ms, spec.start_price, spec.daily_volatility)
        self._cache: dict[tuple[int, int], Candle] = {}

    def price_at(self, t: int) -> Decimal:
        return round_to_tick(self.path.price_at(t), self._spec.tick)

    def candle(self, start: int, end: int) -> Candle:
        """The synthetic candle covering [start, end); a copy the caller may modify."""
        cached = self._cache.get((start, end))
        if cached is None:
            if len(self._cache) >= self._CACHE_LIMIT:
                self._cache.clear()
            cached = self._cache[(start, end)] = self._generate(start, end)
        return cached.copy()

    def _generate(self, start: int, end: int) -> Candle:
        span = end - start
        samples = [self.path.price_at(start + span * i // 4) for i in range(5)]
        wick = Decimal(step_ppm(self._spec.daily_volatility, span) // 3) / PPM
        up = wick * unit_fraction(self._key, 1, start, end) / PPM
        down = wick * unit_fraction(self._key, 2, start, end) / PPM
        tick = self._spec.tick
        candle = Candle(
            start,
            end - 1,
            round_to_tick(samples[0], tick),
            round_to_tick(max(samples) * (1 + up), tick),
            round_to_tick(min(samples) * (1 - down), tick),
            round_to_tick(samples[-1], tick),
        )
        self._fill_volume(candle, span)
        return candle

    def _fill_volume(self, candle: Candle, span: int) -> None:
        """Volume at 50-150 % of the symbol's typical rate, ~1 trade a second, 40-60 % taker
        buys: plausible numbers for charts and the 24 h ticker."""
        activity = PPM // 2 + unit_fraction(self._key, 3, candle.open_time, span)
        volume = self._spec.volume_24h * span / DAY_MS * activity / PPM
        candle.volume = quantize_down(volume, self._spec.step)
        mid = (candle.open + candle.high + candle.low + candle.close) / 4
        candle.quote_volume = quantize_down(candle.volume * mid)
        taker_share = Decimal(40 + unit_fraction(self._key, 4, candle.open_time) % 21) / 100
        candle.taker_volume = quantize_down(candle.volume * taker_share, self._spec.step)
        candle.taker_quote = quantize_down(candle.taker_volume * mid)
        candle.trades = max(1, span // 1000 * activity // PPM)
