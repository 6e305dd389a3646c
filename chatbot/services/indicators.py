"""Technical indicators in Decimal, computed the way TA-Lib computes them.

Each indicator is an incremental state, fed one closed candle's close at a time (`update`
returns the value after it, None during the warm-up), because the alert books follow live
candles and keep no more than the state needs. The batch functions (`rsi`, `ema`, `macd`,
`bollinger`, `volume_average`) run the same state over a list, for the backtest and the tests:
one implementation of each formula.

TA-Lib is the reference (tests/unit/test_indicators.py checks every value against it), so the
seeding follows TA-Lib's default ("classic") compatibility:

- EMA(n): alpha 2/(n+1), the first value on the n-th close being the SMA of the first n;
- RSI(n): Wilder's smoothing, the first averages being the plain means of the first n changes
  (the first value on the (n+1)-th close), 0 when nothing moved;
- MACD(fast, slow, signal): see `Macd` for the fast EMA's late start;
- Bollinger(n, width): SMA(n) ± width × the population standard deviation of the same n closes.

Arithmetic runs in a local decimal context of `PRECISION` digits (prices have at most ~16
significant digits, their squares ~32), so sums and squares are exact and a division rounds
far below anything a price or a level shows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Generic, Protocol, TypeVar

PRECISION = 40
CONTEXT = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)
ZERO = Decimal(0)
HUNDRED = Decimal(100)

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")


class Indicator(Protocol, Generic[T_co]):
    """An incremental indicator: fed one value, answers its value after it (None: warming up)."""

    def update(self, value: Decimal) -> T_co | None: ...


def _check_period(name: str, period: int, least: int = 1) -> None:
    if not isinstance(period, int) or isinstance(period, bool) or period < least:
        raise ValueError(f"{name} must be an integer >= {least}, not {period!r}")


class Ema:
    """Exponential moving average, TA-Lib's: seeded with the SMA of its first `period` values.

    `skip` ignores that many values first (MACD's fast line starts late, see `Macd`)."""

    __slots__ = ("_alpha", "_count", "_skip", "_sum", "period", "value")

    def __init__(self, period: int, *, skip: int = 0) -> None:
        _check_period("period", period)
        self.period = period
        self._alpha = Decimal(2) / Decimal(period + 1)
        self._skip = skip
        self._count = 0
        self._sum = ZERO
        self.value: Decimal | None = None

    def update(self, value: Decimal) -> Decimal | None:
        with localcontext(CONTEXT):
            if self.value is not None:
                self.value += self._alpha * (value - self.value)
                return self.value
            self._count += 1
            if self._count <= self._skip:
                return None
            self._sum += value
            if self._count - self._skip == self.period:
                self.value = self._sum / self.period
            return self.value


class Rsi:
    """Wilder's relative strength index, 0-100, as TA-Lib seeds it: the first average gain and
    loss are the means of the first `period` changes; then avg = (avg × (n - 1) + change) / n.
    When nothing moved at all (gain and loss both 0) the value is 0, as TA-Lib's."""

    __slots__ = ("_changes", "_gain", "_loss", "_previous", "period", "value")

    def __init__(self, period: int) -> None:
        _check_period("period", period, 2)
        self.period = period
        self._previous: Decimal | None = None
        self._changes = 0
        self._gain = ZERO
        self._loss = ZERO
        self.value: Decimal | None = None

    def update(self, value: Decimal) -> Decimal | None:
        previous, self._previous = self._previous, value
        if previous is None:
            return None
        with localcontext(CONTEXT):
            change = value - previous
            gain, loss = (change, ZERO) if change > 0 else (ZERO, -change)
            self._changes += 1
            n = self.period
            if self._changes < n:
                self._gain += gain
                self._loss += loss
                return None
            if self._changes == n:
                self._gain = (self._gain + gain) / n
                self._loss = (self._loss + loss) / n
            else:
                self._gain = (self._gain * (n - 1) + gain) / n
                self._loss = (self._loss * (n - 1) + loss) / n
            total = self._gain + self._loss
            self.value = HUNDRED * self._gain / total if total else ZERO
            return self.value


@dataclass(frozen=True, slots=True)
class MacdValue:
    macd: Decimal  # the fast EMA minus the slow one
    signal: Decimal  # the EMA of the MACD line
    histogram: Decimal  # macd - signal


class Macd:
    """MACD(fast, slow, signal) as TA-Lib computes it. TA-Lib does not seed the fast EMA with
    the first `fast` closes: it starts it `slow - fast` closes late, so that both EMAs are
    seeded (with the SMA of their own last `fast` / `slow` closes) on the same close, the
    `slow`-th; the signal is the EMA of the MACD line from there (seeded with the SMA of its
    first `signal` values). The first value is on close slow + signal - 1."""

    __slots__ = ("_fast", "_signal", "_slow", "value")

    def __init__(self, fast: int, slow: int, signal: int) -> None:
        for name, period in (("fast", fast), ("slow", slow), ("signal", signal)):
            _check_period(name, period)
        if fast > slow:  # TA-Lib swaps them too
            fast, slow = slow, fast
        self._fast = Ema(fast, skip=slow - fast)
        self._slow = Ema(slow)
        self._signal = Ema(signal)
        self.value: MacdValue | None = None

    def update(self, value: Decimal) -> MacdValue | None:
        fast = self._fast.update(value)
        slow = self._slow.update(value)
        if fast is None or slow is None:
            return None
        with localcontext(CONTEXT):
            line = fast - slow
            signal = self._signal.update(line)
            if signal is None:
                return None
            self.value = MacdValue(line, signal, line - signal)
            return self.value


@dataclass(frozen=True, slots=True)
class Bands:
    upper: Decimal
    middle: Decimal  # the SMA
    lower: Decimal


class Bollinger:
    """Bollinger bands: the SMA of the last `period` closes ± `width` population standard
    deviations of them (TA-Lib's BBANDS with its SMA and its deviation). The sums are kept
    exactly, so the variance (n·Σx² - (Σx)²) / n² has no float's cancellation."""

    __slots__ = ("_sum", "_sum_squares", "_window", "period", "value", "width")

    def __init__(self, period: int, width: Decimal) -> None:
        _check_period("period", period)
        self.period = period
        self.width = width
        self._window: deque[Decimal] = deque()
        self._sum = ZERO
        self._sum_squares = ZERO
        self.value: Bands | None = None

    def update(self, value: Decimal) -> Bands | None:
        with localcontext(CONTEXT):
            self._window.append(value)
            self._sum += value
            self._sum_squares += value * value
            if len(self._window) > self.period:
                old = self._window.popleft()
                self._sum -= old
                self._sum_squares -= old * old
            elif len(self._window) < self.period:
                return None
            n = self.period
            variance = (n * self._sum_squares - self._sum * self._sum) / (n * n)
            deviation = self.width * variance.sqrt() if variance > 0 else ZERO
            middle = self._sum / n
            self.value = Bands(middle + deviation, middle, middle - deviation)
            return self.value


class VolumeAverage:
    """The mean volume of the last `period` closed candles (None until there are `period`)."""

    __slots__ = ("_sum", "_window", "period", "value")

    def __init__(self, period: int) -> None:
        _check_period("period", period)
        self.period = period
        self._window: deque[Decimal] = deque()
        self._sum = ZERO
        self.value: Decimal | None = None

    def update(self, value: Decimal) -> Decimal | None:
        with localcontext(CONTEXT):
            self._window.append(value)
            self._sum += value
            if len(self._window) > self.period:
                self._sum -= self._window.popleft()
            elif len(self._window) < self.period:
                return None
            self.value = self._sum / self.period
            return self.value


def run(state: Indicator[T], values: Iterable[Decimal]) -> list[T | None]:
    """The state's value after each of `values`, in order (None during the warm-up)."""
    return [state.update(value) for value in values]


def ema(closes: Iterable[Decimal], period: int) -> list[Decimal | None]:
    return run(Ema(period), closes)


def rsi(closes: Iterable[Decimal], period: int) -> list[Decimal | None]:
    return run(Rsi(period), closes)


def macd(
    closes: Iterable[Decimal], fast: int = 12, slow: int = 26, signal: int = 9
) -> list[MacdValue | None]:
    return run(Macd(fast, slow, signal), closes)


def bollinger(
    closes: Iterable[Decimal], period: int = 20, width: Decimal = Decimal(2)
) -> list[Bands | None]:
    return run(Bollinger(period, width), closes)


def volume_average(volumes: Iterable[Decimal], period: int = 20) -> list[Decimal | None]:
    return run(VolumeAverage(period), volumes)
