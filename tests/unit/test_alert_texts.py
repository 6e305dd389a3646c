"""The words of every kind of alert, as the user reads them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chatbot.services.alert_kinds import (
    Band,
    Crossing,
    Expiry,
    Indicator,
    IndicatorCondition,
    Move,
    PriceLevel,
    VolumeSpike,
)
from handlers.alert_parsing import parse_alert
from handlers.alert_texts import (
    backtest_line,
    condition_text,
    expired_text,
    expires_in,
    expiry_text,
    fired_text,
    window_text,
)

D = Decimal


def typed(text: str):
    return parse_alert(["BTC", *text.split()]).condition


@pytest.mark.parametrize(
    ("typed_text", "shown"),
    [
        ("> 70000", "≥ 70000"),
        ("< 0.50", "≤ 0.5"),
        ("+5%", "+5% from the price when set"),
        ("+3% 15m", "+3% in 15m"),
        ("-5% 1h", "-5% in 1h"),
        ("+2% 90m", "+2% in 90m"),
        ("-10% 7d", "-10% in 7d"),
        ("rsi 1h < 30", "RSI(14) 1h < 30"),
        ("rsi 7 4h > 70.5", "RSI(7) 4h > 70.5"),
        ("ema 20 x 50 4h", "EMA 20 × 50 on 4h (either way)"),
        ("ema 9 x+ 21 15m", "EMA 9 × 21 on 15m (crossing up)"),
        ("ema 9 x- 21 1d", "EMA 9 × 21 on 1d (crossing down)"),
        ("macd 1h x signal", "MACD 1h crosses its signal"),
        ("macd 1h x+ signal", "MACD 1h crosses above its signal"),
        ("macd 4h x-", "MACD 4h crosses below its signal"),
        ("bb 1h > upper", "close above the upper Bollinger band (20, 2) on 1h"),
        ("bb 1h < lower", "close below the lower Bollinger band (20, 2) on 1h"),
        ("volume 5m > 3x", "5m volume ≥ 3× its 20-candle average"),
        ("volume 1h > 1.5x", "1h volume ≥ 1.5× its 20-candle average"),
    ],
)
def test_each_kind_reads_in_short(typed_text: str, shown: str) -> None:
    assert condition_text(typed(typed_text)) == shown


def test_a_percentage_shows_the_level_it_became() -> None:
    assert condition_text(PriceLevel("%", D(-10)), D("2700.000")) == "-10% (≤ 2700)"


def test_windows_read_as_typed() -> None:
    assert [window_text(s) for s in (60, 900, 3600, 5400, 86_400, 604_800)] == [
        "1m", "15m", "1h", "90m", "1d", "7d"
    ]  # fmt: skip


def test_expiry_reads_as_a_date_or_a_duration() -> None:
    today = date(2026, 12, 6)
    assert expiry_text(Expiry(until=date(2026, 12, 31)), today) == "until 31 Dec"
    assert expiry_text(Expiry(until=date(2027, 1, 5)), today) == "until 5 Jan 2027"
    assert expiry_text(Expiry(lasts=7 * 86_400)) == "expires in 7 d"
    assert expiry_text(Expiry(lasts=90 * 60)) == "expires in 1 h"
    assert expires_in(1000.0 + 6 * 86_400 + 5, 1000.0) == "expires in 6 d"
    assert expires_in(1000.0 + 12 * 60, 1000.0) == "expires in 12 min"
    assert expires_in(1030.0, 1000.0) == "expires in under a minute"


def test_a_fired_move_says_from_where_to_where() -> None:
    line = fired_text("BTCUSDT", Move(D(3), 900), D(69144), D("3.2"))
    assert line == "<b>BTCUSDT</b> +3.2% in 15m (from 67,000 to 69,144)"
    fall = fired_text("ETHUSDT", Move(D(-5), 3600), D("1900.5"), D("-5.0124"))
    assert fall == "<b>ETHUSDT</b> -5% in 1h (from 2,000.79 to 1,900.5)"


def test_a_fired_indicator_says_its_value_and_the_close() -> None:
    rsi = IndicatorCondition(Indicator.RSI, "1h", Crossing.BELOW, (14,), level=D(30))
    line = fired_text("BTCUSDT", rsi, D(67000), D("28.7123"))
    assert line == "<b>BTCUSDT</b> RSI(14) 1h at 28.7, below 30 · close 67,000"
    ema = IndicatorCondition(Indicator.EMA, "4h", Crossing.UP, (20, 50))
    assert "EMA 20 crossed above EMA 50 on 4h · close 3,100" in fired_text("E", ema, D(3100), None)
    macd = IndicatorCondition(Indicator.MACD, "1h", Crossing.EITHER, (12, 26, 9))
    assert "MACD 1h crossed its signal · close 150" in fired_text("S", macd, D(150), D("0.3"))
    bb = IndicatorCondition(Indicator.BB, "1h", Crossing.ABOVE, (20,), band=Band.UPPER)
    assert fired_text("B", bb, D(70100), D(70000)).endswith(
        "closed above the upper Bollinger band on 1h (band at 70,000) at 70,100"
    )


def test_a_fired_volume_spike_and_price_level() -> None:
    spike = fired_text("BTCUSDT", VolumeSpike("5m", D(3)), D(67000), D("3.42"))
    assert spike == "<b>BTCUSDT</b> 5m volume 3.4× its 20-candle average · price 67,000"
    level = fired_text("BTCUSDT", PriceLevel(">", D(61000)), D("61000.01"), None)
    assert level == "<b>BTCUSDT</b> ≥ 61000: crossed at 61,000.01"


def test_the_lines_are_html_safe() -> None:
    rsi = IndicatorCondition(Indicator.RSI, "1h", Crossing.BELOW, (14,), level=D(30))
    assert "1h &lt; 30" in expired_text(3, "BTCUSDT", rsi, date(2026, 12, 31))
    assert "<b>A&lt;B</b>" in fired_text("A<B", Move(D(1), 60), D(1), D(1))


def test_the_expiry_message() -> None:
    text = expired_text(12, "BTCUSDT", Move(D(3), 900), date(2026, 12, 31), note="a <b>")
    assert text == (
        "⌛ Alert #12 <b>BTCUSDT</b> +3% in 15m expired on 2026-12-31 without firing — a &lt;b&gt;"
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ((6, D("2.44"), 90), "Over the last 90 days it would have fired 6 times; "
                             "median move in the 24 h after: +2.4%"),
        ((1, D("-0.96"), 90), "Over the last 90 days it would have fired once; "
                              "median move in the 24 h after: -1%"),
        ((0, None, 90), "Over the last 90 days it would never have fired."),
        ((2, None, 90), "Over the last 90 days it would have fired 2 times; "
                        "no 24 h after any firing yet."),
        ((3, D("1.25"), 23), "Over the last 23 days (all the history read) it would have "
                             "fired 3 times; median move in the 24 h after: +1.3%"),
        ((0, None, 1), "Over the last 1 day (all the history read) it would never have fired."),
    ],
)  # fmt: skip
def test_the_backtest_line(args: tuple, line: str) -> None:
    assert backtest_line(*args) == line
