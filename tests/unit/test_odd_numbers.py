"""Odd numbers: whatever the grammar accepts, the filters round and judge without an arithmetic
error; what it refuses (too large, too many decimals) it says so with an example."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.exchange.filters import prepare_order
from chatbot.exchange.grid import format_decimal, round_price, round_quantity
from chatbot.exchange.reference_prices import ReferencePrices
from chatbot.exchange.rule_checks import OrderRuleViolation
from chatbot.exchange.symbol_rules import SymbolRules
from handlers.parsing import MAX_DECIMALS, MAX_NUMBER, CommandError, parse_amount, parse_order
from tests.unit.symbol_rules import BNBBTC, BTCUSDT, symbols

D = Decimal
SEVENTY = "1" + "0" * 69


def decimals_of_any_size() -> st.SearchStrategy[Decimal]:
    """Positive decimals from 10^-80 to 10^80, with up to 40 significant digits."""
    return st.builds(
        lambda digits, exponent: D(f"{digits}E{exponent}"),
        st.integers(1, 10**40),
        st.integers(-120, 80),
    )


def prepare(rules: SymbolRules, **order) -> str:
    """ "ok" or the filter that refused; anything else (InvalidOperation, ...) fails the test."""
    try:
        prepare_order(rules, **order)
    except OrderRuleViolation as refused:
        return refused.filter_name
    return "ok"


@given(
    symbols(),
    st.sampled_from(["BUY", "SELL"]),
    decimals_of_any_size(),
    decimals_of_any_size(),
    decimals_of_any_size(),
)
@settings(max_examples=300)
def test_numbers_of_any_size_are_accepted_or_refused_by_a_rule(symbol, side, qty, price, ref):
    rules = SymbolRules.from_exchange_info(symbol)
    references = ReferencePrices.same(ref)
    prepare(rules, side=side, order_type="LIMIT", quantity=qty, price=price, references=references)
    prepare(rules, side=side, order_type="MARKET", quantity=qty, references=references)
    prepare(
        rules,
        side=side,
        order_type="MARKET",
        quote_quantity=qty,
        references=references,
        best_price=price,
    )


@given(decimals_of_any_size())
def test_rounding_and_formatting_take_any_size(value: Decimal) -> None:
    assert round_quantity(BTCUSDT, value) <= value
    assert round_price(BNBBTC, value, "SELL") >= value
    assert "E" not in format_decimal(value, 8) and "E" not in format_decimal(value)


def test_a_seventy_digit_quantity_or_price_is_refused_by_the_rules() -> None:
    references = ReferencePrices.same(D("65000"))
    huge = D(SEVENTY)
    assert (
        prepare(BTCUSDT, side="BUY", order_type="MARKET", quantity=huge, references=references)
        == "MARKET_LOT_SIZE"
    )
    limit = {
        "side": "SELL",
        "order_type": "LIMIT",
        "quantity": D("0.001"),
        "references": references,
    }
    assert prepare(BTCUSDT, **limit, price=huge) == "PRICE_FILTER"
    tiny = D("0." + "0" * 69 + "1")
    assert prepare(BTCUSDT, **limit, price=tiny) == "NOTIONAL"  # a sell rounds up to 0.01
    assert prepare(BTCUSDT, **{**limit, "side": "BUY"}, price=tiny) == "PRICE_FILTER"  # to 0


# --- the grammar --------------------------------------------------------------------------------


def refusal(text: str) -> str:
    with pytest.raises(CommandError) as caught:
        parse_amount(text, "quantity", "/buy BTCUSDT 0.001")
    return caught.value.user_message


def test_a_seventy_digit_number_is_too_large_with_an_example() -> None:
    message = refusal(SEVENTY)
    assert "is too large: Binance takes a quantity of at most 92,233,720,368." in message
    assert message.endswith("Example: /buy BTCUSDT 0.001")
    assert SEVENTY not in message  # echoed clipped, not whole


def test_absurdly_many_decimals_are_refused_with_an_example() -> None:
    message = refusal("0." + "1" * 70)
    assert f"has too many decimals: at most {MAX_DECIMALS}," in message
    assert message.endswith("Example: /buy BTCUSDT 0.001")


def test_the_largest_and_finest_numbers_binance_takes_are_accepted() -> None:
    assert parse_amount(str(MAX_NUMBER), "quantity", "") == MAX_NUMBER
    assert parse_amount("0." + "0" * 17 + "1", "price", "") == D("1e-18")
    assert "too large" in refusal("92233720368.54775808")


def test_order_and_alert_grammar_apply_the_same_limits() -> None:
    from handlers.alert_parsing import parse_alert

    with pytest.raises(CommandError, match="too large: Binance takes a price of at most"):
        parse_order("BUY", ["BTC", "1", "@", SEVENTY])
    with pytest.raises(CommandError, match="too many decimals"):
        parse_alert(["BTC", "+0." + "5" * 40 + "%"])


@given(st.from_regex(r"\A[0-9]{1,30}(\.[0-9]{1,30})?\Z"))
@settings(max_examples=300)
def test_whatever_the_grammar_accepts_the_filters_handle(text: str) -> None:
    try:
        value = parse_amount(text, "quantity", "/buy BTCUSDT 0.001")
    except CommandError as refused:
        assert "Example: /buy BTCUSDT 0.001" in refused.user_message
        return
    references = ReferencePrices.same(D("65000"))
    for rules in (BTCUSDT, BNBBTC):
        prepare(
            rules,
            side="BUY",
            order_type="LIMIT",
            quantity=value,
            price=value,
            references=references,
        )
        prepare(rules, side="SELL", order_type="MARKET", quantity=value, references=references)
        prepare(
            rules,
            side="BUY",
            order_type="MARKET",
            quote_quantity=value,
            references=references,
            best_price=D("65000"),
        )


def test_the_price_range_is_the_price_filter_never_below_a_tick() -> None:
    from chatbot.exchange.grid import FINEST, LARGEST, price_range

    lowest, highest = price_range(BTCUSDT)
    assert lowest >= BTCUSDT.price_filter.tick_size and lowest >= FINEST
    assert highest <= LARGEST
