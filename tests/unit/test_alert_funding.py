"""Alerts on perpetuals, piece by piece: the grammar (a perpetual's key, mark price levels,
funding levels, what a perpetual refuses), the funding level's JSON and typed form, the index's
funding book, and the words of a funding alert."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.services.alert_index import AlertIndex
from chatbot.services.alert_kinds import (
    AlertKind,
    FundingLevel,
    PriceLevel,
    condition_from_json,
    leaning,
    to_json,
    typed_form,
)
from chatbot.services.alert_levels import mark_level
from chatbot.storage.alerts import AlertDirection, AlertRecord, AlertState
from handlers.alert_parsing import parse_alert
from handlers.alert_texts import condition_text, fired_text, funding_text
from handlers.parsing import CommandError

# -- the grammar -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "symbol", "condition"),
    [
        ("BTCUSDT.P > 70000", "BTCUSDT.P", PriceLevel(">", Decimal(70000))),
        ("btc.p < 60000", "BTCUSDT.P", PriceLevel("<", Decimal(60000))),
        ("BTC-PERP +5%", "BTCUSDT.P", PriceLevel("%", Decimal(5))),
        ("ethperp -2.5%", "ETHUSDT.P", PriceLevel("%", Decimal("-2.5"))),
        ("BTC.P funding > 0.05%", "BTCUSDT.P", FundingLevel(">", Decimal("0.0005"))),
        ("BTC.P funding > +0.05%", "BTCUSDT.P", FundingLevel(">", Decimal("0.0005"))),
        ("BTC.P funding<-0.01%", "BTCUSDT.P", FundingLevel("<", Decimal("-0.0001"))),
        ("sol.p FUNDING < 0%", "SOLUSDT.P", FundingLevel("<", Decimal(0))),
        ("ETHUSDC.P funding > 0.0125%", "ETHUSDC.P", FundingLevel(">", Decimal("0.000125"))),
    ],
)
def test_a_perpetual_takes_mark_price_and_funding_levels(
    text: str, symbol: str, condition: object
) -> None:
    spec = parse_alert(text.split())
    assert (spec.symbol, spec.condition) == (symbol, condition)


def test_expiry_note_and_repeat_follow_a_funding_level() -> None:
    spec = parse_alert(["BTC.P", "funding", ">", "0.05%", "for", "7d", "longs", "pay", "repeat"])
    assert spec.condition == FundingLevel(">", Decimal("0.0005"))
    assert (spec.expiry.lasts if spec.expiry else None, spec.note, spec.repeat) == (
        604_800,
        "longs pay",
        True,
    )


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("BTC funding > 0.05%", "Funding rates are for perpetuals: add .P"),
        ("BTC.P +3% 15m", "does not work on perpetuals"),
        ("BTC.P rsi 1h < 30", "does not work on perpetuals"),
        ("BTC.P volume 5m > 3x", "does not work on perpetuals"),
        ("BTC.P ema 20 x 50 4h", "does not work on perpetuals"),
        ("BTC.P funding > 0.05", "with the % sign"),
        ("BTC.P funding 0.05%", "Type > or < after funding"),
        ("BTC.P funding >", "Which funding rate"),
        ("BTC.P funding > 50%", "never happens"),
        ("BTC.P funding > 0,05%", "not a funding rate"),
        ("BTC.P funding > ０.05%", "digits I cannot read"),
        ("USDT.P > 1", "not a perpetual futures symbol"),
        ("BTC.P 5%", "Type a sign and a number"),
        ("BTC.P >", "Which price?"),
    ],
)
def test_what_a_perpetual_does_not_take_is_told_with_an_example(text: str, told: str) -> None:
    with pytest.raises(CommandError) as refused:
        parse_alert(text.split())
    assert told in refused.value.user_message
    assert "/alert" in refused.value.user_message or "perpetual" in refused.value.user_message


PERP_WORDS = st.sampled_from(
    ["funding", "FUNDING", ">", "<", "0.05%", "-0.01%", "+0.05%", "0.05", "50%", "+5%", "-5%",
     "15m", "rsi", "1h", "volume", "70000", "until", "for", "7d", "2026-12-31", "repeat", "note"]
)  # fmt: skip


@given(st.lists(PERP_WORDS, max_size=8))
def test_any_words_on_a_perpetual_parse_to_its_kinds_or_are_refused(words: list[str]) -> None:
    try:
        spec = parse_alert(["BTC.P", *words])
    except CommandError as exc:
        assert "/alert" in exc.user_message or "under 200" in exc.user_message
    else:
        assert spec.symbol == "BTCUSDT.P"
        assert isinstance(spec.condition, PriceLevel | FundingLevel)


# -- the condition ---------------------------------------------------------------------------

RATES = st.decimals(min_value=Decimal("-0.1"), max_value=Decimal("0.1"), places=8)


@given(st.sampled_from([">", "<"]), RATES)
def test_a_funding_level_round_trips_through_json_and_its_typed_form(
    operator: str, rate: Decimal
) -> None:
    level = FundingLevel(operator, rate)
    assert condition_from_json(AlertKind.FUNDING, to_json(level)) == level
    typed = parse_alert(["BTC.P", *typed_form(level).split()]).condition
    assert typed == level
    assert leaning(level) == (operator == ">", rate)


def test_a_damaged_funding_row_is_refused() -> None:
    with pytest.raises(ValueError):
        condition_from_json(AlertKind.FUNDING, '{"operator": "%", "rate": "0.1"}')
    with pytest.raises(ValueError):
        condition_from_json(AlertKind.FUNDING, '{"operator": ">"}')


def test_a_percentage_from_the_mark_rounds_to_the_tick_away_from_it() -> None:
    up = mark_level(PriceLevel("%", Decimal(5)), Decimal("60000.03"), Decimal("0.10"))
    down = mark_level(PriceLevel("%", Decimal(-5)), Decimal("60000.03"), Decimal("0.10"))
    assert up[:2] == (AlertDirection.ABOVE, Decimal("63000.10"))  # 63000.0315 up
    assert down[:2] == (AlertDirection.BELOW, Decimal("57000.00"))  # 57000.0285 down
    assert up[2] == "+5% (≥ 63000.1)"


# -- the index ---------------------------------------------------------------------------------


def record(alert_id: int, symbol: str, level: FundingLevel | None = None) -> AlertRecord:
    condition = level or FundingLevel(">", Decimal("0.0005"))
    up, threshold = leaning(condition)
    return AlertRecord(
        id=alert_id, user_id=1, chat_id=1, symbol=symbol,
        direction=AlertDirection.ABOVE if up else AlertDirection.BELOW, threshold=threshold,
        condition=typed_form(condition), note=None, repeat=False, cooldown=900.0,
        state=AlertState.ACTIVE, created_at=0.0, fired_at=None, fired_price=None, fire_count=0,
        kind=AlertKind.FUNDING.value, params=to_json(condition),
    )  # fmt: skip


def test_the_funding_book_fires_each_level_once_and_apart_from_prices() -> None:
    index = AlertIndex()
    index.add(record(1, "BTCUSDT.P"))
    index.add(record(2, "BTCUSDT.P", FundingLevel("<", Decimal("-0.0001"))))
    index.prices.add(3, "BTCUSDT.P", AlertDirection.ABOVE, Decimal("0.0001"))  # a mark level
    assert index.wants_trades("BTCUSDT.P") and index.symbol_of(2) == "BTCUSDT.P"
    assert sorted(index.ids("BTCUSDT.P")) == [1, 2, 3] and len(index) == 3
    assert index.on_funding("BTCUSDT.P", Decimal("0.0004"), 1.0) == []
    fired = index.on_funding("BTCUSDT.P", Decimal("0.0007"), 2.0)
    assert [(f.alert_id, f.price, f.measured) for f in fired] == [
        (1, Decimal("0.0007"), Decimal("0.0007"))
    ]
    assert index.on_funding("BTCUSDT.P", Decimal("0.0009"), 3.0) == []  # fired once
    assert [f.alert_id for f in index.on_funding("BTCUSDT.P", Decimal("-0.0002"), 4.0)] == [2]
    assert index.on_trade("BTCUSDT", Decimal(1), 0, 5.0) == []  # spot is another symbol
    assert index.remove(3) == "BTCUSDT.P" and not index.wants_trades("BTCUSDT.P")


# -- the words ---------------------------------------------------------------------------------


def test_a_funding_alert_is_worded_in_percent_with_four_decimals() -> None:
    level = FundingLevel(">", Decimal("0.0005"))
    assert funding_text(Decimal("-0.0001")) == "-0.0100%"
    assert condition_text(level) == "funding rate ≥ +0.0500%"
    assert condition_text(FundingLevel("<", Decimal("-0.0001"))) == "funding rate ≤ -0.0100%"
    assert fired_text("BTCUSDT.P", level, Decimal("0.000712"), Decimal("0.000712")) == (
        "<b>BTCUSDT.P</b> funding rate rose above +0.0500% (now +0.0712%)"
    )


def test_alerts_lists_a_perpetual_level_on_the_mark_and_a_fired_rate_in_percent() -> None:
    from dataclasses import replace

    from handlers.alert_messages import render_list

    funding = replace(
        record(1, "BTCUSDT.P"), state=AlertState.FIRED, fired_at=0.0,
        fired_price=Decimal("0.000712"), fire_count=1,
    )  # fmt: skip
    level = replace(
        record(2, "ETHUSDT.P"), kind=AlertKind.PRICE.value, params=None, condition="≥ 4000",
        threshold=Decimal(4000),
    )  # fmt: skip
    text = render_list([funding, level], None, 0.0)
    assert "#1 BTCUSDT.P funding rate ≥ +0.0500% · fired at +0.0712% on 01-01 00:00 UTC" in text
    assert "#2 ETHUSDT.P mark price ≥ 4000 · active" in text


def test_an_expired_perpetual_level_says_mark_price() -> None:
    from chatbot.storage.outbox import AlertEvent, FiredAlert
    from handlers.alert_messages import render_fired

    expired = FiredAlert(
        7, 1, "BTCUSDT.P", "≥ 70000", None, 1_796_000_000.0, event=AlertEvent.EXPIRED
    )
    text, count = render_fired([expired])
    assert count == 1 and "BTCUSDT.P</b> mark price ≥ 70000 expired on" in text, text
    spot = FiredAlert(8, 1, "BTCUSDT", "≥ 70000", None, 1_796_000_000.0, event=AlertEvent.EXPIRED)
    assert "BTCUSDT</b> ≥ 70000 expired on" in render_fired([spot])[0]
