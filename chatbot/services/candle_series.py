"""One computation over one symbol's candles of one interval: an indicator on the closes
(`IndicatorSeries`) or the average volume (`VolumeSeries`), and when a condition on it is met.

The candle book keeps one series per (symbol, interval, indicator, periods), shared by every
alert on it; the backtest runs the very same series over past candles, so an alert and its
backtest cannot disagree on what "RSI crossed below 30" means.

A series takes closed candles in time order, each once: a candle is known by its open time, and
one at or before the last it took changes nothing (a duplicate event, or a catch-up that repeats
what it has). Until it is seeded with history it keeps the closed candles it was fed (at most
`history`), so that history fetched later can be merged under them (`seed`). It keeps nothing
else but what its indicator's state needs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from chatbot.exchange.market_models import Kline
from chatbot.services.alert_kinds import (
    BB_WIDTH,
    INTERVAL_SECONDS,
    Band,
    Crossing,
    Indicator,
    IndicatorCondition,
    VolumeSpike,
)
from chatbot.services.indicators import (
    CONTEXT,
    Bands,
    Bollinger,
    Ema,
    Macd,
    MacdValue,
    Rsi,
    VolumeAverage,
)

MAX_HISTORY = 1000  # candles one REST call returns; the most history a series asks for
CONVERGENCE = 10  # smoothed indicators ask for this many times their longest period
PERIOD_COUNTS = {Indicator.RSI: 1, Indicator.EMA: 2, Indicator.MACD: 3, Indicator.BB: 1}


@dataclass(frozen=True, slots=True)
class Reading:
    """What an indicator condition compares at one close, `value` against `against`: the RSI
    and the level, the fast EMA and the slow one, the MACD line and its signal, the close and
    the band. For a volume spike: the forming candle's volume and the average before it."""

    value: Decimal
    against: Decimal


class EmaPair:
    """The fast and the slow EMA of `ema 20 x 50`, each seeded as TA-Lib's EMA."""

    def __init__(self, fast: int, slow: int) -> None:
        self._fast = Ema(fast)
        self._slow = Ema(slow)

    def update(self, value: Decimal) -> tuple[Decimal, Decimal] | None:
        fast = self._fast.update(value)
        slow = self._slow.update(value)
        return None if fast is None or slow is None else (fast, slow)


def check_condition(condition: IndicatorCondition | VolumeSpike) -> None:
    """Raise ValueError for a condition no series can follow (the grammar builds only good
    ones; this guards the book against a bad row)."""
    if isinstance(condition, VolumeSpike):
        if condition.interval not in INTERVAL_SECONDS or condition.period < 1:
            raise ValueError(f"not a volume condition a book can follow: {condition!r}")
        if not condition.factor.is_finite() or condition.factor <= 0:
            raise ValueError(f"a volume factor must be positive: {condition.factor!r}")
        return
    if not isinstance(condition, IndicatorCondition):
        raise ValueError(f"a candle book holds indicator and volume alerts, not {condition!r}")
    periods = condition.periods
    wanted = PERIOD_COUNTS[condition.indicator]
    if condition.interval not in INTERVAL_SECONDS or len(periods) != wanted:
        raise ValueError(f"{condition.indicator} wants {wanted} periods and an interval")
    if any(not isinstance(p, int) or p < 1 for p in periods):
        raise ValueError(f"periods must be positive integers, not {periods!r}")
    if condition.indicator is Indicator.RSI and (condition.level is None or periods[0] < 2):
        raise ValueError("an RSI condition needs a level and a period of at least 2")
    if condition.indicator is Indicator.BB and condition.band is None:
        raise ValueError("a Bollinger condition needs a band")


class Series:
    """Closed candles in, each once, in time order; see the module docstring."""

    def __init__(self, warmup: int, history: int) -> None:
        self.warmup = warmup  # closed candles before the first value
        self.history = history  # closed candles the warm-up asks for
        self.last_open: int | None = None
        self.seeded = False
        self._kept: deque[Kline] | None = deque(maxlen=history)  # None once seeded
        self._overflowed = False

    def feed(self, kline: Kline) -> bool:
        """Take the next closed candle; False (and nothing changes) when already known."""
        if self.last_open is not None and kline.open_time <= self.last_open:
            return False
        self.last_open = kline.open_time
        self._update(kline)
        return True

    def close(self, kline: Kline) -> bool:
        """`feed` for a live closed candle, kept for the merge while history is missing."""
        if not self.feed(kline):
            return False
        if self._kept is not None:
            self._overflowed |= len(self._kept) == self.history
            self._kept.append(kline)
        return True

    def seed(self, klines: Sequence[Kline]) -> list[Kline]:
        """Merge closed history (oldest first) under what the live stream gave: the series is
        computed again over both, a candle in both counted once, and nothing is left over.
        Once seeded (or when the live candles alone already filled the warm-up) there is
        nothing to merge under: the candles newer than the last one taken are returned, for
        the caller to feed as closes (`close`) in order, a catch-up after a gap.

        Closed candles only: `GET /api/v3/klines` ends with the candle still open, which the
        caller drops (taken here, its real close would be ignored as known). Call it with what
        a fetch returned, even nothing: a seeded series stops asking for history."""
        if self.seeded or self._overflowed:
            last = self.last_open
            newer = [k for k in klines if last is None or k.open_time > last]
        else:
            merged = {kline.open_time: kline for kline in klines}
            merged.update((kline.open_time, kline) for kline in self._kept or ())
            self._reset()
            self.last_open = None
            for open_time in sorted(merged):
                self.feed(merged[open_time])
            newer = []
        self.seeded = True
        self._kept = None
        return newer

    def _update(self, kline: Kline) -> None:
        raise NotImplementedError

    def _reset(self) -> None:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Point:
    """A series' output after one close, with that close (Bollinger compares the close)."""

    output: Any  # Decimal (rsi), (fast, slow) (ema), MacdValue, Bands
    close: Decimal


class IndicatorSeries(Series):
    """One indicator over closed candles; `previous` and `current` are its points after the
    last two closes (None while warming up), which is all an edge needs."""

    def __init__(self, indicator: Indicator, periods: tuple[int, ...]) -> None:
        self.indicator = indicator
        self.periods = periods
        warmup = _warmup(indicator, periods)
        if indicator is Indicator.BB:
            history = warmup + 1  # a window: no memory beyond it
        else:
            history = max(warmup + 1, min(CONVERGENCE * max(periods), MAX_HISTORY))
        super().__init__(warmup, history)
        self._reset()

    def _reset(self) -> None:
        self._state = _state(self.indicator, self.periods)
        self.previous: Point | None = None
        self.current: Point | None = None

    def _update(self, kline: Kline) -> None:
        output = self._state.update(kline.close)
        self.previous = self.current
        self.current = None if output is None else Point(output, kline.close)


def _warmup(indicator: Indicator, periods: tuple[int, ...]) -> int:
    """Closes before the first value, as TA-Lib's lookback (+1: the closes, not the index)."""
    if indicator is Indicator.RSI:
        return periods[0] + 1
    if indicator is Indicator.MACD:
        return max(periods[:2]) + periods[2] - 1
    return max(periods)


def _state(indicator: Indicator, periods: tuple[int, ...]) -> Any:
    if indicator is Indicator.RSI:
        return Rsi(periods[0])
    if indicator is Indicator.EMA:
        return EmaPair(periods[0], periods[1])
    if indicator is Indicator.MACD:
        return Macd(*periods)
    return Bollinger(periods[0], BB_WIDTH)


def reading(condition: IndicatorCondition, point: Point | None) -> Reading | None:
    """What `condition` compares at `point` (see `Reading`)."""
    if point is None:
        return None
    output = point.output
    if condition.indicator is Indicator.RSI:
        return Reading(output, condition.level or Decimal(0))
    if condition.indicator is Indicator.EMA:
        return Reading(*output)
    if condition.indicator is Indicator.MACD:
        macd: MacdValue = output
        return Reading(macd.macd, macd.signal)
    bands: Bands = output
    band = condition.band or Band.MIDDLE
    return Reading(point.close, getattr(bands, band.value))


def crossed(condition: IndicatorCondition, series: IndicatorSeries) -> Reading | None:
    """The reading at the last close when `condition` became true on it, having been false at
    the close before; else None. Above means strictly above (the `value` > `against`), so a
    line that touches and leaves again has not crossed."""
    before = reading(condition, series.previous)
    now = reading(condition, series.current)
    if before is None or now is None:
        return None
    up = before.value <= before.against and now.value > now.against
    down = before.value >= before.against and now.value < now.against
    crossing = condition.crossing
    if crossing in (Crossing.ABOVE, Crossing.UP):
        return now if up else None
    if crossing in (Crossing.BELOW, Crossing.DOWN):
        return now if down else None
    return now if up or down else None


def measured(condition: IndicatorCondition, now: Reading) -> Decimal:
    """What a firing reports: the RSI, the fast EMA, the MACD line; for Bollinger the band
    the close crossed (the close itself is the firing's price)."""
    return now.against if condition.indicator is Indicator.BB else now.value


class VolumeSeries(Series):
    """The average volume of the last `period` closed candles, and the candle being formed."""

    def __init__(self, period: int) -> None:
        super().__init__(period, period)
        self.period = period
        self._reset()

    def _reset(self) -> None:
        self._average = VolumeAverage(self.period)
        self.forming: Kline | None = None

    def _update(self, kline: Kline) -> None:
        self._average.update(kline.volume)
        self.forming = None

    def observe(self, kline: Kline) -> Reading | None:
        """The candle being formed (`kline`, a live update of the candle after the last closed
        one) against the average; None while there is no average (or it is zero), and for a
        candle that is already closed."""
        if self.last_open is not None and kline.open_time <= self.last_open:
            return None
        self.forming = kline
        average = self._average.value
        return Reading(kline.volume, average) if average else None

    def reading(self) -> Reading | None:
        """The forming candle's volume so far (0 before its first update) against the average."""
        average = self._average.value
        if average is None:
            return None
        return Reading(self.forming.volume if self.forming else Decimal(0), average)


def spike(condition: VolumeSpike, now: Reading | None) -> Decimal | None:
    """The multiple of the average when it reaches the condition's factor, else None."""
    if now is None:
        return None
    with localcontext(CONTEXT):
        multiple = now.value / now.against
    return multiple if multiple >= condition.factor else None


def series_for(condition: IndicatorCondition | VolumeSpike) -> IndicatorSeries | VolumeSeries:
    """A new, empty series for the condition (checked first: ValueError)."""
    check_condition(condition)
    if isinstance(condition, VolumeSpike):
        return VolumeSeries(condition.period)
    return IndicatorSeries(condition.indicator, condition.periods)


def series_key(condition: IndicatorCondition | VolumeSpike) -> tuple[Any, ...]:
    """What alerts share one series by (with the symbol)."""
    if isinstance(condition, VolumeSpike):
        return ("volume", condition.interval, (condition.period,))
    return condition.series_key()
