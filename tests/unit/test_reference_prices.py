"""Each filter's own reference price, Binance's rule for orders by quote amount, and the
order value shown in a refusal, on hand-built symbols."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.exchange.filters import estimate_quantity, prepare_order, smallest_quote_amount
from chatbot.exchange.reference_prices import ReferencePrices, reference_minutes
from chatbot.exchange.rule_checks import OrderRuleViolation, check_order
from chatbot.exchange.symbol_rules import SymbolRules
from tests.unit.symbol_rules import BTCUSDT, lot, price_filter, rules_of

D = Decimal


def notional(low: str, mins: int, to_market: bool = True) -> dict[str, Any]:
    return {
        "filterType": "NOTIONAL",
        "minNotional": low,
        "applyMinToMarket": to_market,
        "maxNotional": "0",
        "applyMaxToMarket": False,
        "avgPriceMins": mins,
    }


def by_side(mins: int) -> dict[str, Any]:
    return {
        "filterType": "PERCENT_PRICE_BY_SIDE",
        "bidMultiplierUp": "2",
        "bidMultiplierDown": "0.5",
        "askMultiplierUp": "2",
        "askMultiplierDown": "0.5",
        "avgPriceMins": mins,
    }


# Like the simulator's coming XRPTRY: the legacy MIN_NOTIONAL over 1 minute, and PERCENT_PRICE
# against the last price.
XRPTRY = SymbolRules.from_exchange_info(
    {
        "symbol": "XRPTRY",
        "status": "TRADING",
        "baseAsset": "XRP",
        "baseAssetPrecision": 8,
        "quoteAsset": "TRY",
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"],
        "quoteOrderQtyMarketAllowed": True,
        "filters": [
            price_filter("0.01", "10000", "0.01"),
            lot("1", "9000000", "1"),
            {
                "filterType": "MIN_NOTIONAL",
                "minNotional": "100",
                "applyToMarket": True,
                "avgPriceMins": 1,
            },
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.1",
                "multiplierDown": "0.9",
                "avgPriceMins": 0,
            },
        ],
    }
)
# NOTIONAL over 5 minutes, the price band over 1 minute: two different reference prices.
TWO_WINDOWS = rules_of(price_filter(), lot("0.01", "1000", "0.01"), notional("10", 5), by_side(1))


def refs(**prices: str) -> ReferencePrices:
    return ReferencePrices({name: D(value) for name, value in prices.items()})


def refused(**order: Any) -> OrderRuleViolation:
    with pytest.raises(OrderRuleViolation) as caught:
        prepare_order(**order)
    return caught.value


# --- which filter needs which price ------------------------------------------------------------


def test_only_the_filters_that_judge_the_order_need_a_reference_price() -> None:
    assert reference_minutes(BTCUSDT, "MARKET") == {"NOTIONAL": 5}
    assert reference_minutes(BTCUSDT, "LIMIT") == {"PERCENT_PRICE_BY_SIDE": 5}
    assert reference_minutes(XRPTRY, "MARKET") == {"MIN_NOTIONAL": 1}
    assert reference_minutes(XRPTRY, "LIMIT") == {"PERCENT_PRICE": 0}
    assert reference_minutes(rules_of(notional("5", 5, to_market=False)), "MARKET") == {}


def test_reference_prices_are_assembled_from_prices_by_minutes() -> None:
    needed = reference_minutes(TWO_WINDOWS, "LIMIT") | reference_minutes(TWO_WINDOWS, "MARKET")
    got = ReferencePrices.from_minutes(needed, {5: D("100"), 1: D("50")})
    assert (got.of("NOTIONAL"), got.of("PERCENT_PRICE_BY_SIDE")) == (D("100"), D("50"))
    with pytest.raises(ValueError, match="no reference price for MIN_NOTIONAL"):
        got.of("MIN_NOTIONAL")


def test_a_market_order_is_valued_at_its_notional_filters_own_reference() -> None:
    order = {"side": "BUY", "order_type": "MARKET", "quantity": D("0.11")}
    check_order(TWO_WINDOWS, **order, references=refs(NOTIONAL="100", PERCENT_PRICE_BY_SIDE="1"))
    with pytest.raises(OrderRuleViolation) as caught:
        check_order(
            TWO_WINDOWS, **order, references=refs(NOTIONAL="90", PERCENT_PRICE_BY_SIDE="1000")
        )
    assert (
        caught.value.message == "minimum order is 10 XYZ; this one is 9.9 XYZ at the average price"
    )


def test_a_limit_price_is_banded_by_its_percent_filters_own_reference() -> None:
    order = {"side": "BUY", "order_type": "LIMIT", "quantity": D("1"), "price": D("110")}
    check_order(TWO_WINDOWS, **order, references=refs(PERCENT_PRICE_BY_SIDE="60", NOTIONAL="1"))
    with pytest.raises(OrderRuleViolation) as caught:
        check_order(
            TWO_WINDOWS, **order, references=refs(PERCENT_PRICE_BY_SIDE="50", NOTIONAL="1e6")
        )
    assert caught.value.filter_name == "PERCENT_PRICE_BY_SIDE"
    assert "between 25 and 100 XYZ for a buy now (2x / 0.5x the average price)" in str(caught.value)


def test_legacy_min_notional_and_a_band_against_the_last_price() -> None:
    market = {"side": "SELL", "order_type": "MARKET", "quantity": D("99")}
    with pytest.raises(OrderRuleViolation) as caught:
        check_order(XRPTRY, **market, references=refs(MIN_NOTIONAL="1.01"))
    assert caught.value.filter_name == "MIN_NOTIONAL"
    assert caught.value.message == (
        "minimum order is 100 TRY; this one is 99.99 TRY at the average price"
    )
    check_order(XRPTRY, **market, references=refs(MIN_NOTIONAL="1.02"))
    limit = {"side": "BUY", "order_type": "LIMIT", "quantity": D("100"), "price": D("23")}
    with pytest.raises(OrderRuleViolation) as caught:
        check_order(XRPTRY, **limit, references=refs(PERCENT_PRICE="20"))
    assert caught.value.message == (
        "price must be between 18 and 22 TRY now (1.1x / 0.9x the last price); this one is 23 TRY"
    )


# --- the value a refusal shows ------------------------------------------------------------------


def test_a_tiny_limit_order_shows_its_real_value_not_zero() -> None:
    err = refused(
        rules=BTCUSDT,
        side="BUY",
        order_type="LIMIT",
        quantity=D("0.001"),
        price=D("1"),
        references=ReferencePrices.same(D("65000")),
    )
    assert err.message == "minimum order is 5 USDT; this one is 0.001 USDT"


@pytest.mark.parametrize(
    ("quantity", "price", "shown"),
    [
        ("0.00001", "0.01", "0.0000001"),
        ("0.00123", "0.01", "0.000012"),
        ("0.00009", "55555.55", "4.99"),
    ],
)
def test_the_value_shown_keeps_two_significant_digits_and_stays_under_the_minimum(
    quantity: str, price: str, shown: str
) -> None:
    err = refused(
        rules=BTCUSDT,
        side="BUY",
        order_type="LIMIT",
        quantity=D(quantity),
        price=D(price),
        references=ReferencePrices.same(D(price)),
    )
    assert err.message == f"minimum order is 5 USDT; this one is {shown} USDT"


# --- orders by quote amount: quoteOrderQty / best price, rounded down, at the reference ----------


def buy_for(amount: str, ask: str = "65000", average: str = "62450", rules=BTCUSDT) -> dict:
    return {
        "rules": rules,
        "side": "BUY",
        "order_type": "MARKET",
        "quote_quantity": D(amount),
        "references": refs(NOTIONAL=average),
        "best_price": D(ask),
    }


def test_the_quantity_is_the_amount_over_the_best_price_rounded_down() -> None:
    assert estimate_quantity(BTCUSDT, D("5.2"), D("65000")) == D("0.00008")
    assert estimate_quantity(BTCUSDT, D("5.19999"), D("65000")) == D("0.00007")
    order = prepare_order(**buy_for("100", average="64000"))
    assert (order.quantity, order.quote_quantity, order.expected_quantity) == (
        None,
        D("100"),
        D("0.00153"),
    )


def test_a_quote_amount_whose_quantity_is_worth_just_under_the_minimum_is_refused() -> None:
    # 5.20 USDT at the ask of 65,000 buys 0.00008 BTC, worth 4.996 USDT at the average 62,450.
    err = refused(**buy_for("5.20"))
    assert err.filter_name == "NOTIONAL"
    assert err.message == (
        "minimum order is 5 USDT; this one is 4.99 USDT at the average price"
        " (0.00008 BTC for 5.2 USDT at the best ask); the smallest amount that works now is"
        " 5.85 USDT"
    )


def test_the_smallest_amount_named_works_and_one_cent_less_does_not() -> None:
    assert smallest_quote_amount(BTCUSDT, "BUY", D("65000"), refs(NOTIONAL="62450")) == D("5.85")
    order = prepare_order(**buy_for("5.85"))
    assert order.expected_quantity == D("0.00009") and D("0.00009") * D("62450") >= 5
    assert "the smallest amount that works now is 5.85 USDT" in refused(**buy_for("5.84")).message


def test_a_sell_by_quote_amount_divides_by_the_best_bid() -> None:
    order = prepare_order(**{**buy_for("10", ask="50000", average="50000"), "side": "SELL"})
    assert order.expected_quantity == D("0.0002")
    err = refused(**{**buy_for("5", ask="50001", average="50000"), "side": "SELL"})
    assert "(0.00009 BTC for 5 USDT at the best bid)" in err.message


@given(
    ask=st.decimals(min_value=D("0.0001"), max_value=D(200000), places=4),
    drift=st.decimals(min_value=D("0.8"), max_value=D("1.2"), places=3),
    step=st.sampled_from(["0.00001", "0.001", "0.1", "1", "10"]),
    minimum=st.sampled_from(["5", "10", "0.0001", "100"]),
)
@settings(max_examples=200)
def test_the_smallest_quote_amount_is_exactly_the_boundary(ask, drift, step, minimum) -> None:
    rules = rules_of(price_filter("0", "0", "0.0001"), lot("0", "0", step), notional(minimum, 5))
    references = refs(NOTIONAL=str(ask * drift))
    smallest = smallest_quote_amount(rules, "BUY", ask, references)
    assert smallest is not None
    order = {
        "rules": rules,
        "side": "BUY",
        "order_type": "MARKET",
        "references": references,
        "best_price": ask,
    }
    prepare_order(**order, quote_quantity=smallest)
    below = smallest - D("0.0001")
    if below > 0:
        with pytest.raises(OrderRuleViolation):
            prepare_order(**order, quote_quantity=below)
