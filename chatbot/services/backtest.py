"""How often would an alert have fired? A backtest of a condition over past candles.

Pure: the caller fetches the candles `backtest_interval` names (the last 90 days of them, at
most `MAX_CANDLES`) and calls `backtest`. Every kind is counted the same way: the alert would
have fired on each candle where its condition became true having been false on the candle
before, as if it re-armed each time its condition went false again:

- a price level (`> 70000`): a candle whose high reaches it after a candle wholly below it (a
  low at or under it, for `<`), fired at the level itself; `+5%` is a level from `price_now`,
  as when the alert is set; on 1h candles;
- a move (`+3% 15m`): a candle's close against the close `window` earlier, on the candles of
  `move_interval(window)` (a window shorter than 5m, or not a whole number of candles, is
  measured over the nearest whole number of candles, at least one);
- an indicator: the very series and edge the candle book fires on (`candle_series`), on the
  condition's own interval;
- a volume spike: each candle's volume against the average of the `period` candles before it.

With each firing the move from its price to the close 24 h later (the candle that many candles
on; one candle on for intervals of a day or more) is taken, in percent; `median_move_24h` is
their median, leaving out firings too recent to have one.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from chatbot.exchange.market_models import Kline
from chatbot.services.alert_kinds import (
    INTERVAL_SECONDS,
    Condition,
    IndicatorCondition,
    Move,
    PriceLevel,
    VolumeSpike,
)
from chatbot.services.candle_series import (
    IndicatorSeries,
    VolumeSeries,
    crossed,
    series_for,
    spike,
)
from chatbot.services.indicators import CONTEXT

DAYS = 90  # the history a backtest covers
MAX_CANDLES = 5_000  # the most candles one backtest reads (five REST calls of 1,000)
DAY_SECONDS = 86_400
PRICE_INTERVAL = "1h"
# The intervals a move is measured on, shortest first: 5m to 1d (1m candles would cover only
# 3.5 days within MAX_CANDLES; 3m divides no common window that 5m does not).
MOVE_INTERVALS = ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """`fired` times over `span_days` days of `interval` candles (less than 90 when the
    symbol is younger or the candles are short: MAX_CANDLES); `median_move_24h` in percent
    (+2.4 for +2.4 %), None when no firing has 24 h after it."""

    fired: int
    median_move_24h: Decimal | None
    span_days: Decimal
    interval: str


def move_interval(window: int) -> str:
    """The candles a move over `window` seconds is backtested on: the longest interval from 5m
    to 1d that divides the window, else the longest not above it (5m for windows under 5m)."""
    fitting = [name for name in MOVE_INTERVALS if INTERVAL_SECONDS[name] <= window]
    dividing = [name for name in fitting if window % INTERVAL_SECONDS[name] == 0]
    return (dividing or fitting or [MOVE_INTERVALS[0]])[-1]


def backtest_interval(condition: Condition) -> tuple[str, int]:
    """(interval, how many candles): the last 90 days of candles the backtest of `condition`
    reads, plus what its warm-up needs before them, capped at MAX_CANDLES."""
    interval, warmup = _interval_and_warmup(condition)
    count = math.ceil(DAYS * DAY_SECONDS / INTERVAL_SECONDS[interval]) + warmup
    return interval, min(count, MAX_CANDLES)


def _interval_and_warmup(condition: Condition) -> tuple[str, int]:
    if isinstance(condition, PriceLevel):
        return PRICE_INTERVAL, 1
    if isinstance(condition, Move):
        interval = move_interval(condition.window)
        return interval, _lag(condition.window, interval)
    series = series_for(condition)
    return condition.interval, series.history


def _lag(seconds: int, interval: str) -> int:
    """Whole candles of `interval` nearest to `seconds`, at least one."""
    return max(1, round(seconds / INTERVAL_SECONDS[interval]))


def backtest(
    condition: Condition, klines: Sequence[Kline], *, price_now: Decimal
) -> BacktestResult:
    """Count the firings of `condition` over `klines` (closed, oldest first, of the interval
    `backtest_interval(condition)` named), over their last 90 days, see the module docstring."""
    interval = backtest_interval(condition)[0]
    if isinstance(condition, PriceLevel):
        holds, level = _level(condition, klines, price_now)
        firings = [(i, level) for i in _edges(holds)]
    elif isinstance(condition, Move):
        holds = _move(condition, klines, _lag(condition.window, interval))
        firings = [(i, klines[i].close) for i in _edges(holds)]
    elif isinstance(condition, VolumeSpike):
        holds = _volume(condition, klines)
        firings = [(i, klines[i].close) for i in _edges(holds)]
    else:
        firings = [(i, klines[i].close) for i in _crossings(condition, klines)]
    seconds = INTERVAL_SECONDS[interval]
    recent = len(klines) - math.ceil(DAYS * DAY_SECONDS / seconds)
    start = min(max(recent, _evaluable(condition)), len(klines))
    counted = [(i, price) for i, price in firings if i >= start]
    ahead = max(1, DAY_SECONDS // seconds)
    moves = [
        _percent(klines[i + ahead].close, price) for i, price in counted if i + ahead < len(klines)
    ]
    span = Decimal((len(klines) - start) * seconds) / DAY_SECONDS
    median = statistics.median(moves) if moves else None
    return BacktestResult(len(counted), median, span, interval)


def _evaluable(condition: Condition) -> int:
    """The first candle index on which a firing is possible (an edge needs a candle before)."""
    if isinstance(condition, PriceLevel):
        return 1
    if isinstance(condition, Move):
        return _lag(condition.window, move_interval(condition.window)) + 1
    if isinstance(condition, VolumeSpike):
        return condition.period + 1
    return series_for(condition).warmup  # the second value's index


def _edges(holds: Sequence[bool | None]) -> list[int]:
    """Indexes where the condition holds having not held on the candle before (None: not
    evaluable there, so no edge on it or the candle after)."""
    return [i for i in range(1, len(holds)) if holds[i] and holds[i - 1] is False]


def _level(
    condition: PriceLevel, klines: Sequence[Kline], price_now: Decimal
) -> tuple[list[bool | None], Decimal]:
    with localcontext(CONTEXT):
        if condition.operator == "%":
            level = price_now * (1 + condition.value / HUNDRED)
            above = condition.value > 0
        else:
            level = condition.value
            above = condition.operator == ">"
    holds: list[bool | None] = [k.high >= level if above else k.low <= level for k in klines]
    return holds, level


def _move(condition: Move, klines: Sequence[Kline], lag: int) -> list[bool | None]:
    holds: list[bool | None] = [None] * min(lag, len(klines))
    for i in range(lag, len(klines)):
        change = _percent(klines[i].close, klines[i - lag].close)
        holds.append(change >= condition.pct if condition.pct > 0 else change <= condition.pct)
    return holds


def _volume(condition: VolumeSpike, klines: Sequence[Kline]) -> list[bool | None]:
    series = series_for(condition)
    if not isinstance(series, VolumeSeries):
        raise TypeError("a volume spike's series is a VolumeSeries")
    holds: list[bool | None] = []
    for kline in klines:
        now = series.observe(kline)
        holds.append(None if now is None else spike(condition, now) is not None)
        series.feed(kline)
    return holds


def _crossings(condition: IndicatorCondition, klines: Sequence[Kline]) -> list[int]:
    series = series_for(condition)
    if not isinstance(series, IndicatorSeries):
        raise TypeError("an indicator's series is an IndicatorSeries")
    found = []
    for index, kline in enumerate(klines):
        series.feed(kline)
        if crossed(condition, series) is not None:
            found.append(index)
    return found


def _percent(price: Decimal, base: Decimal) -> Decimal:
    """The change from `base` to `price`, in percent."""
    with localcontext(CONTEXT):
        return (price / base - 1) * HUNDRED
