"""The /alert grammar: every kind of alert, typed into an `AlertSpec` or refused with a
`CommandError` that says what was wrong and what to type instead.

    /alert SYMBOL CONDITION [until YYYY-MM-DD | for DURATION] [note] [repeat]

    > 70000, < 0.5, +5%            a price level, or a move from the price now (as ever)
    +3% 15m, -5% 1h                a move over a window, 1m to 7d (units m h d w)
    rsi [14] 1h < 30               RSI of the closes crossing a level, 0 to 100
    ema 20 x 50 4h                 a fast EMA crossing a slow one (x either way, x+ up, x- down)
    macd 1h x signal               MACD (12, 26, 9) crossing its signal line (x, x+, x-)
    bb [20] 1h > upper             the close crossing a Bollinger band (upper, middle, lower)
    volume 5m > 3x                 the candle's volume against its 20-candle average
    funding > 0.05%                on a perpetual (BTCUSDT.P, BTC.P, BTC-PERP): its funding rate

A perpetual takes price levels, met on its mark price, and funding levels only (see
alert_funding_parsing.py); its symbol becomes its key, `BTCUSDT.P`.

Candle intervals are Binance's kline intervals (`INTERVAL_SECONDS`: 1m to 1w; 1M, a month,
is not offered). Parsing checks the shape only: whether the symbol exists, or the expiry is
still ahead in the user's time zone, is the service's business (`today`, when given, refuses
a date already past).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from chatbot.services.alert_kinds import (
    DEFAULT_PERIODS,
    INTERVAL_SECONDS,
    MAX_LASTS,
    MAX_WINDOW,
    MIN_WINDOW,
    AlertSpec,
    Band,
    Condition,
    Crossing,
    Expiry,
    Indicator,
    IndicatorCondition,
    Move,
    PriceLevel,
    VolumeSpike,
)
from chatbot.services.futures_market import futures_key
from handlers.alert_funding_parsing import FUNDING_ON_SPOT, funding_level, refuse_on_perpetual
from handlers.parsing import (
    MAX_MOVE,
    CommandError,
    _clip,
    _refuse_foreign_digits,
    _refuse_many_decimals,
    names_perpetual,
    normalize_futures_symbol,
    normalize_symbol,
    parse_amount,
)

ALERT_EXAMPLE = "/alert BTCUSDT > 70000, /alert ETH < 2500 buy the dip, /alert BTC +5% repeat"
MOVE_EXAMPLE = "/alert BTC +3% 15m"
RSI_EXAMPLE = "/alert BTC rsi 1h < 30"
EMA_EXAMPLE = "/alert ETH ema 20 x 50 4h"
MACD_EXAMPLE = "/alert SOL macd 1h x signal"
BB_EXAMPLE = "/alert BTC bb 1h > upper"
VOLUME_EXAMPLE = "/alert BTC volume 5m > 3x"
EXPIRY_EXAMPLE = "/alert BTC > 70000 until 2026-12-31, or /alert BTC > 70000 for 7d"
MAX_NOTE = 200
MAX_PERIOD = 200  # candles: history for more costs more weight than an alert is worth
MAX_FACTOR = Decimal(1000)

_UNITS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION_RE = re.compile(r"([0-9]{1,6})([a-zA-Z])")
# What reads as a try at a window or a duration (a time unit, or none after `for`), so a wrong
# one is refused rather than taken for the note: `+5% 2x leverage` keeps its note.
_WINDOW_TRY_RE = re.compile(r"[0-9]+[smhdwMy]")
_DURATION_TRY_RE = re.compile(r"[0-9]+[smhdwMy]?")
_CROSSINGS = {
    "x": Crossing.EITHER,
    "x+": Crossing.UP,
    "xup": Crossing.UP,
    "x-": Crossing.DOWN,
    "xdown": Crossing.DOWN,
}
_EMA_GLUED_RE = re.compile(r"([0-9]+)(xup|xdown|x\+|x-|x)([0-9]+)", re.IGNORECASE)
_INDICATOR_WORDS = {"rsi", "ema", "macd", "bb", "volume", "vol"}
_KNOWN = "rsi, ema, macd, bb or volume"


def parse_alert(args: list[str], *, today: date | None = None) -> AlertSpec:
    """`/alert`'s arguments (see the module docstring); `today` refuses an `until` date before
    it (pass the user's local date)."""
    tokens = " ".join(args).replace(">", " > ").replace("<", " < ").split()
    if len(tokens) < 2:
        raise CommandError(f"Type it like {ALERT_EXAMPLE}")
    if names_perpetual(tokens[0]):
        contract = normalize_futures_symbol(tokens[0], "/alert BTC.P > 70000", suffix_required=True)
        symbol = futures_key(contract)
        condition, rest = _perpetual_condition(tokens[1:])
    else:
        symbol = normalize_symbol(tokens[0], "/alert BTCUSDT > 70000")
        if tokens[1].lower() == "funding":
            raise CommandError(FUNDING_ON_SPOT)
        condition, rest = _condition(tokens[1:])
    expiry, rest = _expiry(rest, today)
    repeat = bool(rest) and rest[-1].lower() == "repeat"
    note = " ".join(rest[:-1] if repeat else rest).strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise CommandError(f"Keep the note under {MAX_NOTE} characters.")
    return AlertSpec(symbol, condition, note, repeat, expiry)


def _condition(rest: list[str]) -> tuple[Condition, list[str]]:
    """The condition at the head of `rest`, and what follows it."""
    head = rest[0]
    if head in {">", "<"}:
        if len(rest) < 2:
            raise CommandError(f"Which price? Type it like {ALERT_EXAMPLE}")
        value = parse_amount(rest[1], "price", "/alert BTCUSDT > 70000")
        return PriceLevel(head, value), rest[2:]
    if head.endswith("%"):
        pct = _parse_move(head)
        if len(rest) > 1 and _looks_like_window(rest[1]):
            return Move(pct, _window(rest[1])), rest[2:]
        return PriceLevel("%", pct), rest[1:]
    word = head.lower()
    if word == "rsi":
        return _rsi(rest[1:])
    if word == "ema":
        return _ema(rest[1:])
    if word == "macd":
        return _macd(rest[1:])
    if word == "bb":
        return _bb(rest[1:])
    if word in {"volume", "vol"}:
        return _volume(rest[1:])
    if head[:1].isalpha():
        raise CommandError(
            f"“{_clip(head)}” is not an alert I know: a price, a move, or {_KNOWN}. "
            f"Examples: {ALERT_EXAMPLE}, {RSI_EXAMPLE}"
        )
    raise CommandError(f"“{_clip(head)}” is not a condition. Type it like {ALERT_EXAMPLE}")


def _perpetual_condition(rest: list[str]) -> tuple[Condition, list[str]]:
    """A perpetual's condition: a price level on its mark price, or `funding > 0.05%`."""
    head = rest[0]
    if head.lower() == "funding":
        return funding_level(rest[1:])
    if head in {">", "<"} or head.endswith("%"):
        condition, after = _condition(rest)  # a mistake in it is told as on spot
        if isinstance(condition, PriceLevel):
            return condition, after
        raise refuse_on_perpetual(" ".join(rest[:2]))  # a move over a window
    raise refuse_on_perpetual(head)


def _parse_move(text: str) -> Decimal:
    """`+5%`, `-2.5%`: a signed percentage, not 0, no larger than any price could move."""
    example = "/alert BTC +5%"
    _refuse_foreign_digits(text, example)
    match = re.fullmatch(r"([+-])([0-9]+(?:\.[0-9]+)?)%", text)
    if match is None:
        raise CommandError(f"“{_clip(text)}” is not a move. Type a sign and a number: {example}")
    value = Decimal(match.group(1) + match.group(2))
    if abs(value) > MAX_MOVE:
        raise CommandError(
            f"“{_clip(text)}” is more than any price on Binance can move. Example: {example}"
        )
    _refuse_many_decimals(value, text, example)
    if value == 0:
        raise CommandError(f"A move of 0% is no alert. Example: {example}")
    return value


# -- windows, intervals, periods -----------------------------------------------------------------


def _looks_like_window(text: str) -> bool:
    """A number and a time unit (`15m`, `1h`, `30s`, `1y`): meant as a window."""
    return _WINDOW_TRY_RE.fullmatch(text) is not None


def _seconds(text: str, what: str, example: str) -> int:
    """`15m`, `1h`, `7d`, `2w` in seconds (`M`, a month, refused as too vague)."""
    match = _DURATION_RE.fullmatch(text)
    unit = match.group(2) if match else ""
    if match is None or unit == "M" or unit.lower() not in _UNITS:
        raise CommandError(
            f"“{_clip(text)}” is not a {what}: a number and m (minutes), h, d or w. "
            f"Example: {example}"
        )
    return int(match.group(1)) * _UNITS[unit.lower()]


def _window(text: str) -> int:
    seconds = _seconds(text, "window", MOVE_EXAMPLE)
    if not MIN_WINDOW <= seconds <= MAX_WINDOW:
        raise CommandError(
            f"A move's window is 1m to 7d, not {_clip(text)}. Example: {MOVE_EXAMPLE}"
        )
    return seconds


def _interval(rest: list[str], example: str) -> tuple[str, list[str]]:
    """A kline interval at the head of `rest` (`1h`; `1H` too; `1M` refused)."""
    if not rest:
        raise CommandError(f"Which candles? Add an interval like 1h: {example}")
    text = rest[0]
    name = text if text.endswith("M") else text.lower()
    if name not in INTERVAL_SECONDS:
        month = " (1M, a month, is not offered)" if name == "1M" else ""
        raise CommandError(
            f"“{_clip(text)}” is not a candle interval{month}: "
            f"{' '.join(INTERVAL_SECONDS)}. Example: {example}"
        )
    return name, rest[1:]


def _period(text: str, example: str) -> int:
    _refuse_foreign_digits(text, example)
    if not text.isdigit() or not 2 <= int(text) <= MAX_PERIOD:
        raise CommandError(
            f"“{_clip(text)}” is not a period: a whole number of candles, 2 to {MAX_PERIOD}. "
            f"Example: {example}"
        )
    return int(text)


def _optional_period(rest: list[str], default: int, example: str) -> tuple[int, list[str]]:
    """`14 1h ...` or `1h ...`: a period before the interval, when there is one."""
    if rest and rest[0].isdigit():
        return _period(rest[0], example), rest[1:]
    return default, rest


def _operator(rest: list[str], example: str) -> tuple[Crossing, list[str]]:
    if not rest or rest[0] not in {">", "<"}:
        got = f"“{_clip(rest[0])}”" if rest else "nothing"
        raise CommandError(f"Type > or < there, not {got}. Example: {example}")
    return (Crossing.ABOVE if rest[0] == ">" else Crossing.BELOW), rest[1:]


def _crossing(rest: list[str], example: str) -> tuple[Crossing, list[str]]:
    word = rest[0].lower() if rest else ""
    if word not in _CROSSINGS:
        got = f"“{_clip(rest[0])}”" if rest else "nothing"
        raise CommandError(
            f"Type x (either way), x+ (up) or x- (down) there, not {got}. Example: {example}"
        )
    return _CROSSINGS[word], rest[1:]


# -- the indicators ------------------------------------------------------------------------------


def _rsi(rest: list[str]) -> tuple[Condition, list[str]]:
    """`[14] 1h < 30`."""
    (default,) = DEFAULT_PERIODS[Indicator.RSI]
    period, rest = _optional_period(rest, default, "/alert BTC rsi 14 1h < 30")
    interval, rest = _interval(rest, RSI_EXAMPLE)
    crossing, rest = _operator(rest, RSI_EXAMPLE)
    if not rest:
        raise CommandError(f"Which RSI level, 0 to 100? Example: {RSI_EXAMPLE}")
    _refuse_foreign_digits(rest[0], RSI_EXAMPLE)
    if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,2})?", rest[0]) or not (0 < Decimal(rest[0]) < 100):
        raise CommandError(
            f"An RSI level is between 0 and 100, not “{_clip(rest[0])}”. Example: {RSI_EXAMPLE}"
        )
    level = Decimal(rest[0])
    return IndicatorCondition(Indicator.RSI, interval, crossing, (period,), level=level), rest[1:]


def _ema(rest: list[str]) -> tuple[Condition, list[str]]:
    """`20 x 50 4h` (also `20x50 4h`); the fast period first."""
    if rest and (glued := _EMA_GLUED_RE.fullmatch(rest[0])):
        rest = [glued.group(1), glued.group(2), glued.group(3), *rest[1:]]
    if len(rest) < 3 or not rest[0].isdigit():
        raise CommandError(f"Type two periods and x between them: {EMA_EXAMPLE}")
    fast = _period(rest[0], EMA_EXAMPLE)
    crossing, rest = _crossing(rest[1:], EMA_EXAMPLE)
    slow = _period(rest[0], EMA_EXAMPLE)
    if fast >= slow:
        raise CommandError(
            f"The fast EMA comes first and is shorter: {fast} x {slow} should be "
            f"{min(fast, slow)} x {max(fast, slow)}. Example: {EMA_EXAMPLE}"
        )
    interval, rest = _interval(rest[1:], EMA_EXAMPLE)
    return IndicatorCondition(Indicator.EMA, interval, crossing, (fast, slow)), rest


def _macd(rest: list[str]) -> tuple[Condition, list[str]]:
    """`1h x signal` (`signal` may be left out); MACD (12, 26, 9)."""
    interval, rest = _interval(rest, MACD_EXAMPLE)
    crossing, rest = _crossing(rest, MACD_EXAMPLE)
    if rest and rest[0].lower() == "signal":
        rest = rest[1:]
    periods = DEFAULT_PERIODS[Indicator.MACD]
    return IndicatorCondition(Indicator.MACD, interval, crossing, periods), rest


def _bb(rest: list[str]) -> tuple[Condition, list[str]]:
    """`[20] 1h > upper`, `< lower`, `> middle`."""
    (default,) = DEFAULT_PERIODS[Indicator.BB]
    period, rest = _optional_period(rest, default, "/alert BTC bb 20 1h > upper")
    interval, rest = _interval(rest, BB_EXAMPLE)
    crossing, rest = _operator(rest, BB_EXAMPLE)
    word = rest[0].lower() if rest else ""
    if word not in {band.value for band in Band}:
        got = f"“{_clip(rest[0])}”" if rest else "nothing"
        raise CommandError(
            f"Which band: upper, middle or lower, not {got}? Example: {BB_EXAMPLE}, "
            "/alert BTC bb 1h < lower"
        )
    condition = IndicatorCondition(Indicator.BB, interval, crossing, (period,), band=Band(word))
    return condition, rest[1:]


def _volume(rest: list[str]) -> tuple[Condition, list[str]]:
    """`5m > 3x` (or `> 3`): a factor above 1 of the average volume."""
    interval, rest = _interval(rest, VOLUME_EXAMPLE)
    if not rest or rest[0] != ">":
        raise CommandError(f"Volume alerts are for spikes: type > and a factor: {VOLUME_EXAMPLE}")
    rest = rest[1:]
    if len(rest) > 1 and rest[1].lower() == "x":
        rest = [rest[0] + "x", *rest[2:]]
    text = rest[0] if rest else ""
    factor = parse_amount(text.lower().removesuffix("x"), "factor", VOLUME_EXAMPLE)
    if not 1 < factor <= MAX_FACTOR:
        raise CommandError(
            f"The factor is how many times the average volume: above 1 (like 1.5x or 3x) "
            f"and at most {MAX_FACTOR}x, not {_clip(text)}. Example: {VOLUME_EXAMPLE}"
        )
    return VolumeSpike(interval, factor), rest[1:]


# -- expiry --------------------------------------------------------------------------------------


def _expiry(rest: list[str], today: date | None) -> tuple[Expiry | None, list[str]]:
    """`until 2026-12-31` or `for 7d` right after the condition. `for`/`until` followed by
    what is no try at a duration or date (`for my wife`, `for 2nd target`) is the note's
    start, not an expiry."""
    if len(rest) < 2 or rest[0].lower() not in {"until", "for"} or not rest[1][:1].isdigit():
        return None, rest
    if rest[0].lower() == "for":
        if not _DURATION_TRY_RE.fullmatch(rest[1]):
            return None, rest
        lasts = _seconds(rest[1], "duration", EXPIRY_EXAMPLE)
        if not MIN_WINDOW <= lasts <= MAX_LASTS:
            raise CommandError(
                f"An alert lasts 1m to a year, not {_clip(rest[1])}. Example: {EXPIRY_EXAMPLE}"
            )
        return Expiry(lasts=lasts), rest[2:]
    return Expiry(until=_date(rest[1], today)), rest[2:]


def _date(text: str, today: date | None) -> date:
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise ValueError(text)
        until = date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"“{_clip(text)}” is not a date: type it as year-month-day. Example: {EXPIRY_EXAMPLE}"
        ) from None
    if today is not None and until < today:
        raise CommandError(f"{text} is already past. Example: {EXPIRY_EXAMPLE}")
    if today is not None and until > today + timedelta(days=366):
        raise CommandError(
            f"An alert lasts at most a year, not until {text}. Example: {EXPIRY_EXAMPLE}"
        )
    return until
