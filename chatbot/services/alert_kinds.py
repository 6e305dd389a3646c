"""What an alert waits for, typed: a price level, a move over a window, an indicator on
candles or a volume spike, and how long the alert lasts.

The grammar (`handlers/alert_parsing.py`) builds these from what the user typed; the books
evaluate them (`alert_book.py` price levels, `move_book.py` moves, `candle_book.py` indicators
and volume); the database keeps a condition as JSON in `alerts.params` (`to_json` /
`condition_from_json`). Nothing here is chat text: the handlers word a condition.

Time is in seconds (windows) and Binance's kline intervals (candles). Indicator values are
Decimals like prices, so a level a user typed compares exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any


class AlertKind(StrEnum):
    """The `alerts.kind` column's values."""

    PRICE = "price"  # a level, or a percentage from the price when set (`> 70000`, `+5%`)
    MOVE = "move"  # a change over a window (`+3% 15m`)
    INDICATOR = "indicator"  # rsi, ema cross, macd cross, bollinger band, on closed candles
    VOLUME = "volume"  # a candle's volume against the average of the ones before
    FUNDING = "funding"  # a perpetual's funding rate beyond a level (`funding > 0.05%`)


# Binance's kline intervals an indicator or volume alert may use, with their length.
INTERVAL_SECONDS: dict[str, int] = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14_400,
    "6h": 21_600,
    "8h": 28_800,
    "12h": 43_200,
    "1d": 86_400,
    "3d": 259_200,
    "1w": 604_800,
}
MIN_WINDOW = 60  # seconds: a move's shortest window (1m)
MAX_WINDOW = 7 * 86_400  # a move's longest (7d)
MAX_LASTS = 366 * 86_400  # seconds: an alert lasts a year at most (`for`, `until`)


@dataclass(frozen=True)
class PriceLevel:
    """`> 70000`, `< 0.5` (operator ">"/"<", value a price) or `+5%` (operator "%", value a
    signed percentage, turned into a level from the price when the alert is set)."""

    operator: str  # ">" | "<" | "%"
    value: Decimal

    kind = AlertKind.PRICE


@dataclass(frozen=True)
class Move:
    """`+3% 15m`: the last trade against the price `window` seconds before it, by at least
    `pct` percent in its sign's direction (`-5% 1h`: a fall of 5% or more)."""

    pct: Decimal  # signed, not 0
    window: int  # seconds, MIN_WINDOW..MAX_WINDOW

    kind = AlertKind.MOVE


class Indicator(StrEnum):
    RSI = "rsi"  # Wilder's RSI of the closes; periods (14,)
    EMA = "ema"  # a fast EMA of the closes against a slow one; periods (fast, slow)
    MACD = "macd"  # the MACD line against its signal line; periods (12, 26, 9)
    BB = "bb"  # the close against Bollinger bands; periods (20,), width 2 standard deviations


class Crossing(StrEnum):
    """How an indicator condition is met. Every indicator alert fires on the closed candle
    where its condition becomes true, having been false at the close before (an edge, so an
    RSI that stays below 30 fires once, not at every close)."""

    ABOVE = ">"  # the value (rsi) or the close (bb) goes above the level (or band)
    BELOW = "<"
    UP = "x+"  # the first line (fast EMA, MACD) crosses the second upwards
    DOWN = "x-"  # ... downwards
    EITHER = "x"  # either way


class Band(StrEnum):
    UPPER = "upper"
    MIDDLE = "middle"
    LOWER = "lower"


DEFAULT_PERIODS: dict[Indicator, tuple[int, ...]] = {
    Indicator.RSI: (14,),
    Indicator.EMA: (20, 50),
    Indicator.MACD: (12, 26, 9),
    Indicator.BB: (20,),
}
BB_WIDTH = Decimal(2)  # standard deviations from the middle band


@dataclass(frozen=True)
class IndicatorCondition:
    """`rsi 1h < 30` (level 30, BELOW), `ema 20 x 50 4h` (periods (20, 50), EITHER),
    `macd 1h x signal` (periods (12, 26, 9), EITHER), `bb 1h > upper` (band UPPER, ABOVE).

    `series_key` names the computation every alert on the same symbol shares: one RSI(14) of
    BTCUSDT's 1h closes, however many users watch it."""

    indicator: Indicator
    interval: str  # a key of INTERVAL_SECONDS
    crossing: Crossing
    periods: tuple[int, ...]
    level: Decimal | None = None  # rsi's level
    band: Band | None = None  # bb's band

    kind = AlertKind.INDICATOR

    def series_key(self) -> tuple[str, str, tuple[int, ...]]:
        return self.indicator.value, self.interval, self.periods


@dataclass(frozen=True)
class VolumeSpike:
    """`volume 5m > 3x`: the volume of the candle being formed reaches `factor` times the
    average volume of the `period` closed candles before it (at most one firing per candle)."""

    interval: str
    factor: Decimal
    period: int = 20

    kind = AlertKind.VOLUME


@dataclass(frozen=True)
class FundingLevel:
    """`funding > 0.05%` on a perpetual (`BTCUSDT.P`): its funding rate, as Binance sends it
    on the mark price stream, at or beyond `rate`. `rate` is a FRACTION like Binance's
    (0.05% is Decimal("0.0005")); the chat shows it as a percentage."""

    operator: str  # ">" | "<"
    rate: Decimal

    kind = AlertKind.FUNDING


Condition = PriceLevel | Move | IndicatorCondition | VolumeSpike | FundingLevel


@dataclass(frozen=True)
class Expiry:
    """`until 2026-12-31` (the end of that day in the user's time zone) or `for 7d` (seconds
    from when the alert is set); the service turns it into an instant."""

    until: date | None = None
    lasts: int | None = None  # seconds


def to_json(condition: Condition) -> str:
    """The `alerts.params` column's text for a condition."""
    if isinstance(condition, PriceLevel):
        body: dict[str, Any] = {"operator": condition.operator, "value": str(condition.value)}
    elif isinstance(condition, Move):
        body = {"pct": str(condition.pct), "window": condition.window}
    elif isinstance(condition, FundingLevel):
        body = {"operator": condition.operator, "rate": str(condition.rate)}
    elif isinstance(condition, IndicatorCondition):
        body = {
            "indicator": condition.indicator.value,
            "interval": condition.interval,
            "crossing": condition.crossing.value,
            "periods": list(condition.periods),
            "level": None if condition.level is None else str(condition.level),
            "band": None if condition.band is None else condition.band.value,
        }
    else:
        body = {
            "interval": condition.interval,
            "factor": str(condition.factor),
            "period": condition.period,
        }
    return json.dumps(body, sort_keys=True)


def condition_from_json(kind: AlertKind, text: str) -> Condition:
    """The condition `to_json` wrote; raises ValueError for text that is not one."""
    try:
        data = json.loads(text)
        if kind is AlertKind.PRICE:
            return PriceLevel(str(data["operator"]), Decimal(data["value"]))
        if kind is AlertKind.MOVE:
            return Move(Decimal(data["pct"]), int(data["window"]))
        if kind is AlertKind.FUNDING:
            operator = str(data["operator"])
            if operator not in {">", "<"}:
                raise ValueError(f"operator {operator!r}")
            return FundingLevel(operator, Decimal(data["rate"]))
        if kind is AlertKind.INDICATOR:
            return IndicatorCondition(
                Indicator(data["indicator"]),
                str(data["interval"]),
                Crossing(data["crossing"]),
                tuple(int(p) for p in data["periods"]),
                None if data.get("level") is None else Decimal(data["level"]),
                None if data.get("band") is None else Band(data["band"]),
            )
        return VolumeSpike(str(data["interval"]), Decimal(data["factor"]), int(data["period"]))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"not a {kind} condition: {exc!r}") from None


@dataclass(frozen=True)
class AlertSpec:
    """What the user typed: `/alert BTCUSDT > 70000 take profit repeat`, `/alert ETH -5% 1h for
    7d`, `/alert BTC rsi 1h < 30`."""

    symbol: str
    condition: Condition
    note: str | None = None
    repeat: bool = False
    expiry: Expiry | None = None


@dataclass(frozen=True)
class Firing:
    """One alert a book found met: the price then (the trade, or the candle's close), and
    what was measured (a move's percentage, the indicator's value, the volume's multiple of
    its average; None for a price level)."""

    alert_id: int
    price: Decimal
    measured: Decimal | None = None


def funding_pct(rate: Decimal) -> str:
    """A funding rate (a fraction) as the grammar takes it, a percentage without a needless
    zero: Decimal("0.0005") -> "0.05", Decimal("-0.0001") -> "-0.01"."""
    return f"{(rate * 100).normalize():f}"


def window_text(seconds: int) -> str:
    """A window or a duration as the grammar takes it: 900 -> "15m", 5400 -> "90m", 604800 ->
    "7d" (a week reads as 7d, the longest window)."""
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def typed_form(condition: Condition) -> str:
    """The condition as the /alert grammar takes it (`alerts.condition` for the kinds after
    price levels): what the user could type to set the same alert again."""
    if isinstance(condition, PriceLevel):
        sign = "+" if condition.operator == "%" and condition.value > 0 else ""
        if condition.operator == "%":
            return f"{sign}{condition.value.normalize():f}%"
        return f"{condition.operator} {condition.value.normalize():f}"
    if isinstance(condition, Move):
        sign = "+" if condition.pct > 0 else ""
        return f"{sign}{condition.pct.normalize():f}% {window_text(condition.window)}"
    if isinstance(condition, VolumeSpike):
        return f"volume {condition.interval} > {condition.factor.normalize():f}x"
    if isinstance(condition, FundingLevel):
        return f"funding {condition.operator} {funding_pct(condition.rate)}%"
    interval, crossing = condition.interval, condition.crossing
    if condition.indicator is Indicator.RSI:
        level = condition.level if condition.level is not None else Decimal(0)
        return f"rsi {condition.periods[0]} {interval} {crossing.value} {level.normalize():f}"
    if condition.indicator is Indicator.EMA:
        fast, slow = condition.periods
        return f"ema {fast} {crossing.value} {slow} {interval}"
    if condition.indicator is Indicator.MACD:
        return f"macd {interval} {crossing.value} signal"
    band = condition.band.value if condition.band is not None else Band.UPPER.value
    return f"bb {interval} {crossing.value} {band}"


def leaning(condition: Condition) -> tuple[bool, Decimal]:
    """Whether the condition waits for a rise (True) or a fall, and the number it is set
    at: what the `direction` and `threshold` columns hold for the kinds after price levels
    (the "Trade" button under a fired alert buys after a fall and sells after a rise)."""
    if isinstance(condition, Move):
        return condition.pct > 0, condition.pct
    if isinstance(condition, VolumeSpike):
        return True, condition.factor
    if isinstance(condition, FundingLevel):
        return condition.operator == ">", condition.rate
    if isinstance(condition, IndicatorCondition):
        up = condition.crossing in (Crossing.ABOVE, Crossing.UP, Crossing.EITHER)
        return up, condition.level if condition.level is not None else Decimal(0)
    raise ValueError("a price level's direction comes from its level and the price")
