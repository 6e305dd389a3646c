"""The words of every kind of alert: its condition as /alerts and "Alert #n set" show it, the
line when it fires, the message when it expires, and the backtest line under a new alert.

Pure functions of typed values (`chatbot/services/alert_kinds.py`); the services never word an
alert. `condition_text` and `expiry_text` are plain text (a record keeps them; the caller
escapes them into HTML like any stored text); the whole lines (`fired_text`, `expired_text`,
`backtest_line`) are HTML, their dynamic parts escaped.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chatbot.services.alert_kinds import (
    BB_WIDTH,
    DEFAULT_PERIODS,
    Band,
    Condition,
    Crossing,
    Expiry,
    FundingLevel,
    Indicator,
    IndicatorCondition,
    Move,
    PriceLevel,
    VolumeSpike,
    window_text,
)
from handlers.common import esc, num

HUNDRED = Decimal(100)
_DURATION_UNITS = ((604_800, "w"), (86_400, "d"), (3600, "h"), (60, "m"))
_WAY = {Crossing.UP: "above", Crossing.DOWN: "below", Crossing.ABOVE: "above",
        Crossing.BELOW: "below"}  # fmt: skip


def condition_text(condition: Condition, level: Decimal | None = None) -> str:
    """The short form: "≥ 70000", "+5% (≥ 63000)" (with the `level` a percentage became),
    "+3% in 15m", "RSI(14) 1h < 30", "EMA 20 × 50 on 4h (either way)", "MACD 1h crosses its
    signal", "close above the upper Bollinger band (20, 2) on 1h", "5m volume ≥ 3× its
    20-candle average"."""
    if isinstance(condition, PriceLevel):
        return _price_text(condition, level)
    if isinstance(condition, Move):
        return f"{_pct(condition.pct)} in {window_text(condition.window)}"
    if isinstance(condition, FundingLevel):
        arrow = "≥" if condition.operator == ">" else "≤"
        return f"funding rate {arrow} {funding_text(condition.rate)}"
    if isinstance(condition, VolumeSpike):
        return (
            f"{condition.interval} volume ≥ {num(condition.factor)}× its "
            f"{condition.period}-candle average"
        )
    return _indicator_text(condition)


def _price_text(condition: PriceLevel, level: Decimal | None) -> str:
    if condition.operator == ">":
        return f"≥ {condition.value.normalize():f}"
    if condition.operator == "<":
        return f"≤ {condition.value.normalize():f}"
    if level is None:
        return f"{_pct(condition.value)} from the price when set"
    arrow = "≥" if condition.value > 0 else "≤"
    shown = level.quantize(Decimal("0.00000001")).normalize()
    return f"{_pct(condition.value)} ({arrow} {shown:f})"


def _indicator_text(condition: IndicatorCondition) -> str:
    interval, periods = condition.interval, condition.periods
    if condition.indicator is Indicator.RSI:
        return f"RSI({periods[0]}) {interval} {condition.crossing.value} {num(condition.level)}"
    if condition.indicator is Indicator.EMA:
        how = {Crossing.UP: "crossing up", Crossing.DOWN: "crossing down"}
        return (
            f"EMA {periods[0]} × {periods[1]} on {interval} "
            f"({how.get(condition.crossing, 'either way')})"
        )
    if condition.indicator is Indicator.MACD:
        way = _WAY.get(condition.crossing)
        params = "" if periods == DEFAULT_PERIODS[Indicator.MACD] else f"({_periods(periods)}) "
        return f"MACD {params}{interval} crosses {way + ' ' if way else ''}its signal"
    band = condition.band or Band.MIDDLE
    return (
        f"close {_WAY.get(condition.crossing, 'across')} the {band.value} Bollinger band "
        f"({periods[0]}, {num(BB_WIDTH)}) on {interval}"
    )


def expiry_text(expiry: Expiry, today: date | None = None) -> str:
    """ "until 31 Dec" (the year added when it is not `today`'s), "expires in 7 d"."""
    if expiry.until is not None:
        year = "" if today is not None and expiry.until.year == today.year else " %Y"
        return f"until {expiry.until.day} {expiry.until.strftime('%b' + year)}"
    return f"expires in {_span(expiry.lasts or 0)}"


def expires_in(expires_at: float, now: float) -> str:
    """For /alerts, as time passes: "expires in 6 d", "in 5 h", "in 12 min"."""
    left = int(expires_at - now)
    return "expires in under a minute" if left < 60 else f"expires in {_span(left)}"


def _span(seconds: int) -> str:
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


# -- the lines of a message ----------------------------------------------------------------------


def fired_text(symbol: str, condition: Condition, price: Decimal, measured: Decimal | None) -> str:
    """What happened, in HTML: "BTCUSDT +3.2% in 15m (from 67,000 to 69,144)", "BTCUSDT RSI(14)
    1h at 28.7, below 30 · close 67,000". `price` is the trade's (or the candle's close),
    `measured` the book's (a move's %, an indicator's value, the volume's multiple)."""
    name = f"<b>{esc(symbol)}</b>"
    if isinstance(condition, PriceLevel):
        return f"{name} {esc(condition_text(condition))}: crossed at {num(price)}"
    if isinstance(condition, Move):
        return f"{name} {esc(_move_fired(condition, price, measured))}"
    if isinstance(condition, FundingLevel):
        way = "rose above" if condition.operator == ">" else "fell below"
        now = measured if measured is not None else price
        return f"{name} funding rate {way} {funding_text(condition.rate)} (now {funding_text(now)})"
    if isinstance(condition, VolumeSpike):
        times = f"{num(measured, 1)}×" if measured is not None else f"≥ {num(condition.factor)}×"
        return (
            f"{name} {condition.interval} volume {times} its {condition.period}-candle average "
            f"· price {num(price)}"
        )
    return f"{name} {esc(_indicator_fired(condition, price, measured))}"


def _move_fired(condition: Move, price: Decimal, measured: Decimal | None) -> str:
    window = window_text(condition.window)
    if measured is None or measured <= -HUNDRED:
        return f"{_pct(condition.pct)} in {window} (now {num(price)})"
    reference = price * HUNDRED / (HUNDRED + measured)
    places = max(2, -price.normalize().as_tuple().exponent)
    return f"{_pct(measured, 1)} in {window} (from {num(reference, places)} to {num(price)})"


def _indicator_fired(
    condition: IndicatorCondition, price: Decimal, measured: Decimal | None
) -> str:
    close = f" · close {num(price)}"
    interval, periods = condition.interval, condition.periods
    way = _WAY.get(condition.crossing)
    if condition.indicator is Indicator.RSI:
        value = f" at {num(measured, 1)}" if measured is not None else ""
        return f"RSI({periods[0]}) {interval}{value}, {way} {num(condition.level)}{close}"
    if condition.indicator is Indicator.EMA:
        crossed = f"crossed {way}" if way else "crossed"
        return f"EMA {periods[0]} {crossed} EMA {periods[1]} on {interval}{close}"
    if condition.indicator is Indicator.MACD:
        crossed = f"crossed {way}" if way else "crossed"
        return f"MACD {interval} {crossed} its signal{close}"
    band = (condition.band or Band.MIDDLE).value
    at = f" (band at {num(measured)})" if measured is not None else ""
    return f"closed {way or 'across'} the {band} Bollinger band on {interval}{at} at {num(price)}"


def expired_text(
    alert_id: int, symbol: str, condition: Condition, expired_on: date, note: str | None = None
) -> str:
    """ "⌛ Alert #12 BTCUSDT +3% in 15m expired on 2026-12-31 without firing", in HTML."""
    tail = f" — {esc(note)}" if note else ""
    return (
        f"⌛ Alert #{alert_id} <b>{esc(symbol)}</b> {esc(condition_text(condition))} expired on "
        f"{expired_on.isoformat()} without firing{tail}"
    )


def backtest_line(fired: int, median_move: Decimal | None, days: int, full_days: int = 90) -> str:
    """The line under a new alert: how often it would have fired over the history looked at
    (`days`, fewer than `full_days` when the symbol has no more), and the median move in the
    24 h after each firing (None when no firing has 24 h after it yet)."""
    span = (
        f"Over the last {full_days} days"
        if days >= full_days
        else f"Over the last {days} day{'s' if days != 1 else ''} (all the history read)"
    )
    if fired == 0:
        return f"{span} it would never have fired."
    times = "once" if fired == 1 else f"{fired} times"
    if median_move is None:
        return f"{span} it would have fired {times}; no 24 h after any firing yet."
    return (
        f"{span} it would have fired {times}; median move in the 24 h after: {_pct(median_move, 1)}"
    )


def funding_text(rate: Decimal) -> str:
    """A funding rate (Binance's fraction) as a signed percentage with 4 decimals:
    Decimal("0.0005") -> "+0.0500%", Decimal("-0.0001") -> "-0.0100%"."""
    return f"{rate * HUNDRED:+.4f}%"


def _pct(value: Decimal, places: int | None = None) -> str:
    """ "+3%", "-5%", "+3.2%": always signed (0 reads "0%")."""
    text = num(value, places)
    return f"{'+' if value > 0 and text != '0' else ''}{text}%"


def _periods(periods: tuple[int, ...]) -> str:
    return ", ".join(str(p) for p in periods)
