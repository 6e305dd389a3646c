"""The /alert grammar for every kind: what each example becomes, and what each mistake is told.
(The price kinds' own cases stay in test_parsing.py, unchanged.)"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.services.alert_kinds import (
    AlertSpec,
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
from handlers.parsing import CommandError

D = Decimal
RSI, EMA, MACD, BB = Indicator.RSI, Indicator.EMA, Indicator.MACD, Indicator.BB


def parse(text: str, today: date | None = None) -> AlertSpec:
    return parse_alert(text.split(), today=today)


def refusal(text: str, today: date | None = None) -> str:
    with pytest.raises(CommandError) as excinfo:
        parse(text, today)
    return excinfo.value.user_message


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ("BTC > 70000", PriceLevel(">", D(70000))),
        ("BTC +5%", PriceLevel("%", D(5))),
        ("BTC +3% 15m", Move(D(3), 900)),
        ("ETH -5% 1h", Move(D(-5), 3600)),
        ("BTC +1.5% 1m", Move(D("1.5"), 60)),
        ("BTC -10% 7d", Move(D(-10), 7 * 86_400)),
        ("BTC +10% 1w", Move(D(10), 7 * 86_400)),
        ("BTC +2% 90m", Move(D(2), 5400)),
        ("BTC rsi 1h < 30", IndicatorCondition(RSI, "1h", Crossing.BELOW, (14,), level=D(30))),
        ("BTC rsi 14 1h < 30", IndicatorCondition(RSI, "1h", Crossing.BELOW, (14,), level=D(30))),
        ("BTC RSI 7 4H >70.5",
         IndicatorCondition(RSI, "4h", Crossing.ABOVE, (7,), level=D("70.5"))),
        ("ETH ema 20 x 50 4h", IndicatorCondition(EMA, "4h", Crossing.EITHER, (20, 50))),
        ("ETH ema 9 x+ 21 15m", IndicatorCondition(EMA, "15m", Crossing.UP, (9, 21))),
        ("ETH ema 9 xup 21 15m", IndicatorCondition(EMA, "15m", Crossing.UP, (9, 21))),
        ("ETH ema 9 x- 21 1d", IndicatorCondition(EMA, "1d", Crossing.DOWN, (9, 21))),
        ("ETH ema 9 xdown 21 1d", IndicatorCondition(EMA, "1d", Crossing.DOWN, (9, 21))),
        ("ETH ema 20x50 4h", IndicatorCondition(EMA, "4h", Crossing.EITHER, (20, 50))),
        ("SOL macd 1h x signal", IndicatorCondition(MACD, "1h", Crossing.EITHER, (12, 26, 9))),
        ("SOL macd 1h x+ signal", IndicatorCondition(MACD, "1h", Crossing.UP, (12, 26, 9))),
        ("SOL macd 4h x-", IndicatorCondition(MACD, "4h", Crossing.DOWN, (12, 26, 9))),
        ("BTC bb 1h > upper", IndicatorCondition(BB, "1h", Crossing.ABOVE, (20,), band=Band.UPPER)),
        ("BTC bb 1h < lower", IndicatorCondition(BB, "1h", Crossing.BELOW, (20,), band=Band.LOWER)),
        ("BTC bb 50 1d > middle",
         IndicatorCondition(BB, "1d", Crossing.ABOVE, (50,), band=Band.MIDDLE)),
        ("BTC volume 5m > 3x", VolumeSpike("5m", D(3))),
        ("BTC vol 1h > 1.5x", VolumeSpike("1h", D("1.5"))),
        ("BTC volume 5m > 3 x", VolumeSpike("5m", D(3))),
        ("BTC volume 5m >2", VolumeSpike("5m", D(2))),
    ],
)  # fmt: skip
def test_each_kind_of_the_issue_becomes_its_condition(text: str, condition: object) -> None:
    spec = parse(text)
    assert spec.condition == condition
    assert (spec.note, spec.repeat, spec.expiry) == (None, False, None)


def test_expiry_then_note_then_repeat_follow_any_condition() -> None:
    spec = parse("btc/usdt rsi 1h < 30 until 2026-12-31 oversold, look repeat")
    assert spec == AlertSpec(
        "BTCUSDT",
        IndicatorCondition(RSI, "1h", Crossing.BELOW, (14,), level=D(30)),
        "oversold, look",
        True,
        Expiry(until=date(2026, 12, 31)),
    )
    assert parse("ETH -5% 1h for 7d").expiry == Expiry(lasts=7 * 86_400)
    assert parse("ETH > 3000 for 12h").expiry == Expiry(lasts=12 * 3600)
    assert parse("ETH volume 5m > 3x for 2w whales").note == "whales"
    assert parse("BTC +5% for 90m repeat").expiry == Expiry(lasts=5400)


def test_for_and_until_without_a_number_after_them_are_the_note() -> None:
    spec = parse("BTC > 70000 for my wife")
    assert (spec.note, spec.expiry) == ("for my wife", None)
    assert parse("BTC > 70000 until then").note == "until then"
    assert parse("BTC > 70000 for 2nd target").note == "for 2nd target"
    assert "“2” is not a duration" in refusal("BTC > 70000 for 2 weeks")


def test_a_percentage_then_no_time_unit_keeps_its_note() -> None:
    spec = parse("BTC +5% 2x leverage")
    assert (spec.condition, spec.note) == (PriceLevel("%", D(5)), "2x leverage")
    assert "“1y” is not a window" in refusal("BTC +5% 1y")


def test_the_price_kinds_are_as_they_were() -> None:
    spec = parse("btc <65000.5 buy the dip")
    assert spec == AlertSpec("BTC", PriceLevel("<", D("65000.5")), "buy the dip", False, None)
    assert parse("ETH -2.5% repeat") == AlertSpec("ETH", PriceLevel("%", D("-2.5")), None, True)
    assert parse("ETH +5% then sell").note == "then sell"


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("BTC sma 1h < 30", "“sma” is not an alert I know: a price, a move, or rsi, ema"),
        ("BTC rsi 2m < 30", "“2m” is not a candle interval: 1m 3m 5m 15m 30m 1h"),
        ("BTC rsi 1M < 30", "(1M, a month, is not offered)"),
        ("BTC rsi", "Which candles? Add an interval like 1h"),
        ("BTC rsi 1h = 30", "Type > or < there, not “=”"),
        ("BTC rsi 1h <", "Which RSI level, 0 to 100?"),
        ("BTC rsi 1h < 130", "An RSI level is between 0 and 100, not “130”"),
        ("BTC rsi 1h < 0", "An RSI level is between 0 and 100"),
        ("BTC rsi 1 1h < 30", "“1” is not a period: a whole number of candles, 2 to 200"),
        ("BTC rsi 1h < ３０", "has digits I cannot read"),
        ("ETH ema 50 x 20 4h", "The fast EMA comes first and is shorter: 50 x 20 should be 20 x"),
        ("ETH ema 20 x 20 4h", "The fast EMA comes first and is shorter"),
        ("ETH ema 20 50 4h", "Type x (either way), x+ (up) or x- (down) there, not “50”"),
        ("ETH ema 4h", "Type two periods and x between them"),
        ("ETH ema 20 x 50", "Which candles? Add an interval like 1h"),
        ("ETH ema 20 x 50 5h", "“5h” is not a candle interval"),
        ("SOL macd 1h > signal", "Type x (either way), x+ (up) or x- (down) there, not “>”"),
        ("SOL macd x signal", "“x” is not a candle interval"),
        ("BTC bb 1h > top", "Which band: upper, middle or lower, not “top”?"),
        ("BTC bb 1h >", "Which band: upper, middle or lower, not nothing?"),
        ("BTC volume 5m > 1x", "above 1 (like 1.5x or 3x)"),
        ("BTC volume 5m > 0.5x", "above 1 (like 1.5x or 3x)"),
        ("BTC volume 5m > 5000x", "at most 1000x"),
        ("BTC volume 5m < 3x", "Volume alerts are for spikes: type > and a factor"),
        ("BTC volume 5m > lots", "is not a valid factor"),
        ("BTC +3% 30s", "“30s” is not a window: a number and m (minutes), h, d or w"),
        ("BTC +3% 8d", "A move's window is 1m to 7d, not 8d"),
        ("BTC +3% 0m", "A move's window is 1m to 7d, not 0m"),
        ("BTC +3% 2M", "“2M” is not a window"),
        ("BTC +0% 15m", "A move of 0% is no alert"),
        ("BTC > 70000 until 2026-13-01", "“2026-13-01” is not a date: type it as year-month-day"),
        ("BTC > 70000 until 31/12/2026", "is not a date: type it as year-month-day"),
        ("BTC > 70000 for 7y", "“7y” is not a duration: a number and m (minutes), h, d or w"),
        ("BTC > 70000 for 53w", "An alert lasts 1m to a year, not 53w"),
        ("BTC > 70000 for 400d", "An alert lasts 1m to a year"),
    ],
)  # fmt: skip
def test_each_mistake_is_told_what_was_wrong_with_an_example(text: str, told: str) -> None:
    message = refusal(text)
    assert told in message
    assert "/alert" in message


def test_an_until_date_already_past_or_beyond_a_year_is_refused_when_today_is_known() -> None:
    today = date(2026, 12, 6)
    assert parse("BTC > 1 until 2026-12-06", today).expiry == Expiry(until=today)
    assert "2026-12-05 is already past" in refusal("BTC > 1 until 2026-12-05", today)
    assert "at most a year" in refusal("BTC > 1 until 2028-01-01", today)
    assert parse("BTC > 1 until 2020-01-01").expiry == Expiry(until=date(2020, 1, 1))


def test_a_long_note_is_refused() -> None:
    assert "under 200 characters" in refusal("BTC rsi 1h < 30 " + "x" * 201)


WORDS = st.sampled_from(
    ["BTC", "rsi", "ema", "macd", "bb", "volume", "x", "x+", "signal", "upper", "1h", "15m",
     "1M", "14", "20", "50", "3x", ">", "<", "+3%", "-5%", "until", "for", "7d", "2026-12-31",
     "repeat", "note", "0", "100"]
)  # fmt: skip


@given(st.lists(WORDS, max_size=9))
def test_any_words_parse_or_are_refused_with_an_example(words: list[str]) -> None:
    try:
        spec = parse_alert(["BTC", *words])
    except CommandError as exc:
        assert "/alert" in exc.user_message or "under 200" in exc.user_message
    else:
        assert spec.symbol == "BTC"


def test_every_alert_example_in_the_readme_and_help_parses() -> None:
    import html
    import re
    from pathlib import Path

    from handlers.commands import HELP

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    examples = [e for e in re.findall(r"`(/alert [^`]+)`", readme) if "SYMBOL" not in e]
    examples += re.findall(r"/alert [^—·;]+", html.unescape(re.sub(r"<[^>]+>", "", HELP)))
    assert len(examples) > 20
    for example in examples:
        parse_alert(example.split()[1:])
