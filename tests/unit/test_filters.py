"""The symbol's trading rules: parsing exchangeInfo, rounding, and the checks an order must pass."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from chatbot.exchange.filters import PreparedOrder, estimate_quantity, prepare_order
from chatbot.exchange.grid import (
    format_decimal,
    price_places,
    quantity_places,
    round_price,
    round_quantity,
)
from chatbot.exchange.reference_prices import ReferencePrices
from chatbot.exchange.rule_checks import OrderRuleViolation, check_order
from chatbot.exchange.symbol_rules import LotSize, MaxNumOrders, SymbolRules
from tests.unit.symbol_rules import (
    BNBBTC,
    BTCUSDT,
    TESTNET,
    by_side,
    lot,
    min_notional,
    notional,
    percent_price,
    price_filter,
    rules_of,
    symbols,
)

D = Decimal
NO_QUOTE_MARKET = SymbolRules.from_exchange_info(TESTNET["这是测试币456"])
AVG = D("65000")


# --- orders against synthetic symbols (tests/unit/symbol_rules.py) ---------------------------


def limit(qty: str, price: str, side: str = "BUY", ref: str = "65000") -> dict[str, Any]:
    return {
        "side": side,
        "order_type": "LIMIT",
        "quantity": D(qty),
        "price": D(price),
        "references": ReferencePrices.same(D(ref)),
    }


def market(qty: str, side: str = "BUY", ref: str = "65000") -> dict[str, Any]:
    return {
        "side": side,
        "order_type": "MARKET",
        "quantity": D(qty),
        "references": ReferencePrices.same(D(ref)),
    }


def violation(rules: SymbolRules, **order: Any) -> OrderRuleViolation:
    with pytest.raises(OrderRuleViolation) as caught:
        check_order(rules, **order)
    return caught.value


def refusal(rules: SymbolRules, **order: Any) -> OrderRuleViolation:
    with pytest.raises(OrderRuleViolation) as caught:
        prepare_order(rules, **order)
    return caught.value


def floats_in(value: Any) -> list[Any]:
    if isinstance(value, float):
        return [value]
    if dataclasses.is_dataclass(value):
        items = [getattr(value, field.name) for field in dataclasses.fields(value)]
        return [f for item in items for f in floats_in(item)]
    if isinstance(value, tuple | list):
        return [f for item in value for f in floats_in(item)]
    return []


# --- parsing ---------------------------------------------------------------------------------


def test_parses_the_real_testnet_btcusdt_rules() -> None:
    assert (BTCUSDT.symbol, BTCUSDT.status, BTCUSDT.base_asset, BTCUSDT.quote_asset) == (
        "BTCUSDT",
        "TRADING",
        "BTC",
        "USDT",
    )
    assert BTCUSDT.price_filter.tick_size == D("0.01")
    assert BTCUSDT.lot_size == LotSize(D("0.00001"), D("9000"), D("0.00001"))
    assert BTCUSDT.market_lot_size == LotSize(D("0"), D("165.02219723"), D("0"))
    assert BTCUSDT.notional.min_notional == D("5")
    assert BTCUSDT.notional.apply_min_to_market and not BTCUSDT.notional.apply_max_to_market
    assert BTCUSDT.percent_price_by_side.bid_multiplier_up == D("2")
    assert BTCUSDT.percent_price_by_side.ask_multiplier_down == D("0.5")
    assert BTCUSDT.max_num_orders == MaxNumOrders(200)
    assert BTCUSDT.quote_order_qty_market_allowed
    assert not NO_QUOTE_MARKET.quote_order_qty_market_allowed
    assert "LIMIT_MAKER" in BTCUSDT.order_types


def test_absent_filters_are_none_and_unknown_ones_are_ignored() -> None:
    assert BTCUSDT.min_notional is None and BTCUSDT.percent_price is None
    rules = rules_of({"filterType": "SOMETHING_NEW", "x": "1"}, lot())
    assert rules.lot_size is not None and rules.price_filter is None


def test_parses_legacy_min_notional_and_percent_price() -> None:
    rules = rules_of(min_notional("0.001", to_market=False), percent_price())
    assert rules.min_notional.min_notional == D("0.001")
    assert not rules.min_notional.apply_to_market
    assert rules.percent_price.multiplier_up == D("1.3")
    assert rules.percent_price.multiplier_down == D("0.7")


def test_no_float_survives_parsing() -> None:
    for raw in TESTNET.values():
        assert floats_in(SymbolRules.from_exchange_info(raw)) == []


def test_the_rules_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        BTCUSDT.status = "HALT"  # type: ignore[misc]


# --- formatting and places -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (D("1000000.00000000"), None, "1,000,000"),
        (D("0.00001000"), None, "0.00001"),
        (D("165.02219723"), None, "165.02219723"),
        (D("1E+3"), None, "1,000"),
        (D("1E-9"), None, "0.000000001"),
        (D("-0.000"), None, "0"),
        (D("-1234.5"), None, "-1,234.5"),
        (D("65000.019"), 2, "65,000.02"),
        (D("1.005"), 2, "1.01"),
        (D("0.5"), 0, "1"),
    ],
)
def test_format_decimal(value: Decimal, places: int | None, text: str) -> None:
    assert format_decimal(value, places) == text


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12))
@settings(max_examples=150)
def test_format_decimal_keeps_the_value_and_never_writes_an_exponent(value: Decimal) -> None:
    text = format_decimal(value)
    assert "e" not in text.lower()
    assert not ("." in text and text.endswith("0"))
    assert D(text.replace(",", "")) == value


def test_places_come_from_tick_and_step() -> None:
    assert (price_places(BTCUSDT), quantity_places(BTCUSDT)) == (2, 5)
    assert (price_places(BNBBTC), quantity_places(BNBBTC)) == (6, 3)
    no_filters = rules_of()
    assert (price_places(no_filters), quantity_places(no_filters)) == (8, 8)  # the precisions
    assert quantity_places(rules_of(lot(step="10"))) == 0


# --- rounding --------------------------------------------------------------------------------


def test_quantity_rounds_down_to_the_step_with_its_exponent() -> None:
    rounded = round_quantity(BTCUSDT, D("0.0012345"))
    assert rounded == D("0.00123") and str(rounded) == "0.00123"
    assert str(round_quantity(BNBBTC, D("12.3456"))) == "12.345"
    assert str(round_quantity(rules_of(lot(step="1.00000000")), D("12.7"))) == "12"
    assert round_quantity(BTCUSDT, D("-1")) == 0


def test_market_quantity_uses_the_market_step_only_when_it_is_set() -> None:
    assert round_quantity(BTCUSDT, D("0.0012345"), market=True) == D("0.00123")  # step 0
    rules = rules_of(lot(step="0.001"), lot("0", "10", "0.01", kind="MARKET_LOT_SIZE"))
    assert round_quantity(rules, D("1.239"), market=True) == D("1.23")
    assert round_quantity(rules, D("1.239")) == D("1.239")


def test_buy_price_rounds_down_and_sell_price_rounds_up() -> None:
    assert round_price(BTCUSDT, D("65000.019"), "BUY") == D("65000.01")
    assert round_price(BTCUSDT, D("65000.011"), "SELL") == D("65000.02")
    assert str(round_price(BTCUSDT, D("65000"), "SELL")) == "65000.00"
    assert round_price(rules_of(price_filter(tick="0.5")), D("10.7"), "SELL") == D("11")


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        round_quantity(BTCUSDT, 0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        check_order(BTCUSDT, **{**market("1"), "references": ReferencePrices.same(65000.0)})


# --- check_order, one rule at a time ---------------------------------------------------------


def test_a_symbol_that_is_not_trading_refuses_orders() -> None:
    err = violation(rules_of(status="HALT"), **market("1"))
    assert (err.filter_name, err.message) == ("SYMBOL_STATUS", "ABCXYZ is halted right now")


def test_an_order_type_the_symbol_does_not_list_is_refused() -> None:
    err = violation(rules_of(orderTypes=["LIMIT"]), **market("1"))
    assert (err.filter_name, str(err)) == ("ORDER_TYPE", "ABCXYZ does not accept MARKET orders")


def test_zero_quantity_is_refused() -> None:
    err = violation(BTCUSDT, **limit("0", "65000"))
    assert (err.filter_name, err.message) == ("LOT_SIZE", "quantity must be more than 0 BTC")


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0.000001", "minimum quantity is 0.00001 BTC; this one is 0.000001 BTC"),
        ("9001", "maximum quantity is 9,000 BTC; this one is 9,001 BTC"),
        ("0.000015", "quantity must be a multiple of 0.00001 BTC; this one is 0.000015 BTC"),
    ],
)
def test_lot_size(quantity: str, message: str) -> None:
    err = violation(BTCUSDT, **limit(quantity, "65000"))
    assert (err.filter_name, err.message) == ("LOT_SIZE", message)


def test_market_lot_size_caps_a_market_order_but_not_a_limit_one() -> None:
    err = violation(BTCUSDT, **market("200", "SELL"))
    assert err.filter_name == "MARKET_LOT_SIZE"
    assert err.message.startswith("maximum quantity for a market order is 165.02219723 BTC")
    check_order(BTCUSDT, **limit("200", "40000", "SELL", ref="40000"))  # 8,000,000 USDT


def test_a_market_order_is_held_to_the_lot_step_when_the_market_step_is_zero() -> None:
    assert violation(BTCUSDT, **market("0.000155")).filter_name == "LOT_SIZE"


def test_a_market_order_must_fit_both_steps() -> None:
    rules = rules_of(lot("0", "1000", "0.25"), lot("0", "10", "0.1", kind="MARKET_LOT_SIZE"))
    assert violation(rules, **market("0.3")).filter_name == "LOT_SIZE"
    check_order(rules, **market("0.5"))


def test_market_lot_size_step_and_minimum() -> None:
    rules = rules_of(lot(step="0.001"), lot("0.1", "10", "0.01", kind="MARKET_LOT_SIZE"))
    err = violation(rules, **market("0.05"))
    assert err.message == "minimum quantity for a market order is 0.1 ABC; this one is 0.05 ABC"
    err = violation(rules, **market("1.005"))
    assert (err.filter_name, err.message) == (
        "MARKET_LOT_SIZE",
        "quantity must be a multiple of 0.01 ABC; this one is 1.005 ABC",
    )


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("0.001", "minimum price is 0.01 USDT; this one is 0.001 USDT"),
        ("1000000.01", "maximum price is 1,000,000 USDT; this one is 1,000,000.01 USDT"),
        ("65000.005", "price must be a multiple of 0.01 USDT; this one is 65,000.005 USDT"),
    ],
)
def test_price_filter(price: str, message: str) -> None:
    err = violation(BTCUSDT, **limit("0.001", price))
    assert (err.filter_name, err.message) == ("PRICE_FILTER", message)


def test_a_zero_in_the_price_filter_disables_that_rule() -> None:
    rules = rules_of(price_filter(low="0", high="0", tick="0.01"))
    check_order(rules, **limit("1", "0.01"))
    check_order(rules, **limit("1", "1000000000"))


def test_notional_minimum_for_a_limit_order() -> None:
    err = violation(BTCUSDT, **limit("0.00001", "67000"))
    assert (err.filter_name, err.message) == (
        "NOTIONAL",
        "minimum order is 5 USDT; this one is 0.67 USDT",
    )


def test_notional_minimum_for_a_market_order_uses_the_average_price() -> None:
    err = violation(BTCUSDT, **market("0.00007", ref="65432.1"))
    assert err.message == "minimum order is 5 USDT; this one is 4.58 USDT at the average price"


def test_an_order_value_just_under_the_minimum_never_reads_as_the_minimum() -> None:
    err = violation(BTCUSDT, **limit("0.00009", "55555.55"))  # 4.9999995 USDT
    assert err.message == "minimum order is 5 USDT; this one is 4.99 USDT"


def test_notional_maximum_applies_to_a_limit_order_but_here_not_to_a_market_one() -> None:
    err = violation(BTCUSDT, **limit("9000", "1001", ref="1001"))
    assert (err.filter_name, err.message) == (
        "NOTIONAL",
        "maximum order is 9,000,000 USDT; this one is 9,009,000 USDT",
    )
    check_order(BTCUSDT, **market("165", ref="100000"))  # 16,500,000 USDT


def test_notional_limits_follow_their_apply_to_market_flags() -> None:
    rules = rules_of(notional("10", "100", min_to_market=False, max_to_market=True))
    check_order(rules, **market("0.001", ref="1"))
    err = violation(rules, **market("2", ref="60"))
    assert err.message == "maximum order is 100 XYZ; this one is 120 XYZ at the average price"


def test_legacy_min_notional() -> None:
    rules = rules_of(min_notional("10", to_market=False))
    err = violation(rules, **limit("1", "9.5", "SELL", ref="10"))
    assert (err.filter_name, err.message) == (
        "MIN_NOTIONAL",
        "minimum order is 10 XYZ; this one is 9.5 XYZ",
    )
    check_order(rules, **market("1", "SELL", ref="9.5"))
    strict = rules_of(min_notional("10", to_market=True))
    assert violation(strict, **market("1", "SELL", ref="9.5")).filter_name == "MIN_NOTIONAL"


def test_percent_price_by_side_for_a_buy() -> None:
    err = violation(BTCUSDT, **limit("0.001", "140000"))
    assert err.filter_name == "PERCENT_PRICE_BY_SIDE"
    assert err.message == (
        "price must be between 32,500 and 130,000 USDT for a buy now (2x / 0.5x the average price);"
        " this one is 140,000 USDT"
    )


def test_percent_price_by_side_uses_the_ask_multipliers_for_a_sell() -> None:
    rules = rules_of(by_side(bid_up="1.2", bid_down="0.2", ask_up="5", ask_down="0.8"))
    check_order(rules, **limit("1", "70", "BUY", ref="100"))
    err = violation(rules, **limit("1", "70", "SELL", ref="100"))
    assert err.message.startswith("price must be between 80 and 500 XYZ for a sell now (5x / 0.8x")
    check_order(rules, **limit("1", "450", "SELL", ref="100"))
    assert violation(rules, **limit("1", "121", "BUY", ref="100"))


def test_percent_price_bounds_are_shown_inside_the_band_and_on_the_tick() -> None:
    err = violation(BTCUSDT, **limit("1", "10", "SELL", ref="65432.123"))
    assert "between 32,716.07 and 130,864.24 USDT for a sell" in err.message


def test_percent_price() -> None:
    rules = rules_of(percent_price("1.3", "0.7"))
    err = violation(rules, **limit("1", "69.99", ref="100"))
    assert (err.filter_name, err.message) == (
        "PERCENT_PRICE",
        "price must be between 70 and 130 XYZ now (1.3x / 0.7x the average price);"
        " this one is 69.99 XYZ",
    )
    check_order(rules, **limit("1", "70", ref="100"))


def test_a_disabled_side_of_the_band_is_not_shown() -> None:
    err = violation(rules_of(percent_price("0", "0.7")), **limit("1", "69", ref="100"))
    assert err.message.startswith("price must be at least 70 XYZ now (0.7x the average price)")


def test_market_orders_are_not_held_to_the_percent_price_band() -> None:
    check_order(BTCUSDT, **market("0.001"))


def test_the_first_broken_rule_is_reported() -> None:
    assert violation(BTCUSDT, **limit("0.000001", "0.001")).filter_name == "LOT_SIZE"


@pytest.mark.parametrize(
    "order",
    [
        {**market("1"), "order_type": "LIMIT"},  # a limit order without a price
        {**market("1"), "price": AVG},
        {**market("1"), "side": "buy"},
        market("1", ref="0"),
    ],
)
def test_caller_mistakes_are_plain_value_errors(order: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as caught:
        check_order(BTCUSDT, **order)
    assert not isinstance(caught.value, OrderRuleViolation)


def test_a_rule_violation_is_a_value_error_carrying_its_filter() -> None:
    err = OrderRuleViolation("LOT_SIZE", "too small")
    assert isinstance(err, ValueError)
    assert (err.filter_name, err.message, str(err)) == ("LOT_SIZE", "too small", "too small")


# --- prepare_order ---------------------------------------------------------------------------


def test_prepare_rounds_and_says_so() -> None:
    order = prepare_order(BTCUSDT, **limit("0.0012345", "65000.019"))
    assert order == PreparedOrder(
        side="BUY",
        order_type="LIMIT",
        quantity=D("0.00123"),
        price=D("65000.01"),
        quote_quantity=None,
        quantity_rounded=True,
        price_rounded=True,
        notional=D("0.00123") * D("65000.01"),
    )
    preview = f"rounded from {format_decimal(D('0.0012345'))} to {format_decimal(order.quantity)}"
    assert preview == "rounded from 0.0012345 to 0.00123"


def test_prepare_leaves_values_on_the_grid_alone() -> None:
    order = prepare_order(BNBBTC, **limit("1.5", "0.0091", "SELL", ref="0.009"))
    assert (order.quantity, order.price) == (D("1.5"), D("0.0091"))
    assert not order.quantity_rounded and not order.price_rounded


def test_prepare_rounds_a_sell_price_up() -> None:
    assert prepare_order(BTCUSDT, **limit("0.001", "65000.001", "SELL")).price == D("65000.01")


def test_prepare_values_a_market_order_at_the_average_price() -> None:
    order = prepare_order(BTCUSDT, **market("0.001"))
    assert (order.price, order.notional, order.price_rounded) == (None, D("65"), False)


def test_prepare_names_the_minimum_when_the_quantity_rounds_to_zero() -> None:
    err = refusal(BTCUSDT, **limit("0.000001", "65000"))
    assert err.message == "minimum quantity is 0.00001 BTC; this one is 0.000001 BTC"


def test_prepare_checks_the_symbol_before_the_quantity() -> None:
    rules = rules_of(lot(), status="BREAK")
    assert refusal(rules, **market("0.0000001")).filter_name == "SYMBOL_STATUS"


def quote_order(
    amount: str, ref: str = "65000", order_type: str = "MARKET", best: str | None = None
) -> dict[str, Any]:
    return {
        "side": "BUY",
        "order_type": order_type,
        "quote_quantity": D(amount),
        "references": ReferencePrices.same(D(ref)),
        "best_price": D(best or ref),
    }


def test_prepare_a_market_order_by_quote_amount_keeps_the_amount() -> None:
    order = prepare_order(BTCUSDT, **quote_order("100"))
    assert (order.quantity, order.quote_quantity, order.notional) == (None, D("100"), D("100"))
    assert not order.quantity_rounded
    assert estimate_quantity(BTCUSDT, D("100"), AVG) == D("0.00153")


def test_prepare_a_quote_amount_below_the_minimum() -> None:
    err = refusal(BTCUSDT, **quote_order("1"))
    assert err.message == (
        "minimum order is 5 USDT; this one is 0.65 USDT at the average price"
        " (0.00001 BTC for 1 USDT at the best ask); the smallest amount that works now is 5.2 USDT"
    )


def test_prepare_a_quote_amount_that_buys_less_than_the_minimum_once_rounded() -> None:
    err = refusal(BTCUSDT, **quote_order("5", ref="65432.1"))
    assert err.message == (
        "minimum order is 5 USDT; this one is 4.58 USDT at the average price"
        " (0.00007 BTC for 5 USDT at the best ask); the smallest amount that works now is 5.24 USDT"
    )


def test_prepare_a_quote_amount_too_small_for_one_step() -> None:
    err = refusal(rules_of(lot("0.01", "100", "0.01")), **quote_order("5", ref="1000"))
    assert err.message == (
        "5 XYZ is less than one step (0.01 ABC) at the best ask;"
        " the smallest amount that works now is 10 XYZ"
    )


def test_prepare_a_quote_amount_where_the_symbol_does_not_allow_it() -> None:
    assert refusal(NO_QUOTE_MARKET, **quote_order("100", ref="1")).filter_name == "ORDER_TYPE"


@pytest.mark.parametrize(
    "order",
    [
        {**quote_order("100", order_type="LIMIT"), "price": AVG},
        {**quote_order("100"), "quantity": D("1")},
        {"side": "BUY", "order_type": "MARKET", "references": ReferencePrices.same(AVG)},
        {**quote_order("100"), "best_price": None},
    ],
)
def test_prepare_takes_a_quote_amount_for_market_orders_only_and_alone(order) -> None:
    with pytest.raises(ValueError) as caught:
        prepare_order(BTCUSDT, **order)
    assert not isinstance(caught.value, OrderRuleViolation)


# --- properties: random symbols and orders against an independent oracle ---------------------


def magnitudes(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Mantissa x power of ten, so every magnitude is tried, not mostly the tiny ones."""
    mantissas, exponents = st.integers(1, 9999), st.sampled_from(range(low, high + 1))
    return st.builds(lambda m, e: D(m).scaleb(e), mantissas, exponents)


amounts = st.one_of(
    magnitudes(-5, 0), magnitudes(-9, 1), st.decimals(min_value=0, max_value=20000, places=7)
)
prices = magnitudes(-6, 2)
multipliers = st.one_of(
    st.decimals(min_value=D("0.9"), max_value=D("1.1"), places=3),
    st.decimals(min_value=D("0.1"), max_value=D("6"), places=3),
)
sides = st.sampled_from(["BUY", "SELL"])


def step_of(raw: str) -> Decimal:
    """A step of 0 is disabled, but Binance still refuses more than 8 decimals."""
    return D(raw) if D(raw) > 0 else D("0.00000001")


def quantity_step(filters: dict[str, dict[str, Any]], is_market: bool) -> Decimal:
    mlot = filters.get("MARKET_LOT_SIZE")
    if is_market and mlot and D(mlot["stepSize"]) > 0:
        return D(mlot["stepSize"])
    return step_of(filters["LOT_SIZE"]["stepSize"])


def below(value: Decimal, limit: Any) -> bool:
    return D(limit) > 0 and value < D(limit)  # a limit of 0 is off


def above(value: Decimal, limit: Any) -> bool:
    return D(limit) > 0 and value > D(limit)


def oracle_failures(symbol, side, order_type, qty, price, ref) -> list[str]:
    """The rules, written straight from Binance's filters.md, that the order breaks."""
    f = {x["filterType"]: x for x in symbol["filters"]}
    is_market = order_type == "MARKET"
    lots = [f["LOT_SIZE"]] + (
        [f["MARKET_LOT_SIZE"]] if is_market and "MARKET_LOT_SIZE" in f else []
    )
    checks = {
        "quantity <= 0": qty <= 0,
        "quantity step": qty % quantity_step(f, is_market) != 0,
        "lot step": qty % quantity_step(f, is_market=False) != 0,  # LOT_SIZE binds MARKET too
        "quantity min": any(below(qty, lot["minQty"]) for lot in lots),
        "quantity max": any(above(qty, lot["maxQty"]) for lot in lots),
    }
    if not is_market:
        checks |= price_failures(f, side, price, ref)
    checks |= notional_failures(f, is_market, qty * (ref if is_market else price))
    return [name for name, broken in checks.items() if broken]


def price_failures(f, side, price, ref) -> dict[str, bool]:
    pf, bands = f["PRICE_FILTER"], []
    if pp := f.get("PERCENT_PRICE"):
        bands.append((pp["multiplierUp"], pp["multiplierDown"]))
    if ps := f.get("PERCENT_PRICE_BY_SIDE"):
        key = "bid" if side == "BUY" else "ask"
        bands.append((ps[f"{key}MultiplierUp"], ps[f"{key}MultiplierDown"]))
    return {
        "price <= 0": price <= 0,
        "price tick": price % step_of(pf["tickSize"]) != 0,
        "price min": below(price, pf["minPrice"]),
        "price max": above(price, pf["maxPrice"]),
        "band up": any(D(up) > 0 and price > ref * D(up) for up, _ in bands),
        "band down": any(D(down) > 0 and price < ref * D(down) for _, down in bands),
    }


def notional_failures(f, is_market, value) -> dict[str, bool]:
    n = f.get("NOTIONAL", notional("0", "0"))
    m = f.get("MIN_NOTIONAL", min_notional("0"))
    return {
        "notional min": (not is_market or n["applyMinToMarket"]) and below(value, n["minNotional"]),
        "notional max": (not is_market or n["applyMaxToMarket"]) and above(value, n["maxNotional"]),
        "min notional": (not is_market or m["applyToMarket"]) and below(value, m["minNotional"]),
    }


def on_grid(symbol, side, kind, qty, price):
    """The order as a careful person would round it: quantity down, BUY down, SELL up."""
    f = {x["filterType"]: x for x in symbol["filters"]}
    step = quantity_step(f, is_market=kind == "MARKET")
    qty = (qty // step) * step
    if price is not None:
        tick = step_of(f["PRICE_FILTER"]["tickSize"])
        down = (price // tick) * tick
        price = down if side == "BUY" or down == price else down + tick
    return qty, price


@given(symbols(), amounts)
@settings(max_examples=150)
def test_quantity_rounding_never_increases_lands_on_the_step_and_is_idempotent(symbol, qty):
    rules = SymbolRules.from_exchange_info(symbol)
    for is_market in (False, True):
        rounded = round_quantity(rules, qty, market=is_market)
        assert isinstance(rounded, Decimal) and 0 <= rounded <= qty
        assert rounded == on_grid(symbol, "BUY", "MARKET" if is_market else "LIMIT", qty, None)[0]
        assert round_quantity(rules, rounded, market=is_market) == rounded


@given(symbols(), prices, sides)
@settings(max_examples=150)
def test_price_rounding_favours_the_user_lands_on_the_tick_and_is_idempotent(symbol, price, side):
    rules = SymbolRules.from_exchange_info(symbol)
    rounded = round_price(rules, price, side)
    assert isinstance(rounded, Decimal)
    assert rounded <= price if side == "BUY" else rounded >= price
    assert rounded == on_grid(symbol, side, "LIMIT", D(0), price)[1]
    assert round_price(rules, rounded, side) == rounded


@given(symbols(), sides, st.sampled_from(["LIMIT", "MARKET"]), amounts, prices, multipliers)
@settings(max_examples=300)
def test_prepare_order_accepts_exactly_what_every_rule_allows(symbol, side, kind, qty, ref, x):
    rules = SymbolRules.from_exchange_info(symbol)
    price = None if kind == "MARKET" else (ref * x).quantize(D("0.000001"))
    broken = oracle_failures(symbol, side, kind, *on_grid(symbol, side, kind, qty, price), ref)
    try:
        order = prepare_order(
            rules,
            side=side,
            order_type=kind,
            quantity=qty,
            price=price,
            references=ReferencePrices.same(ref),
        )
    except OrderRuleViolation as refused:
        event(f"refused: {refused.filter_name}")
        assert broken, "refused an order that every rule allows"
        return
    event("accepted")
    assert floats_in(order) == []
    assert oracle_failures(symbol, side, kind, order.quantity, order.price, ref) == []
    assert order.quantity <= qty
    if price is not None:
        assert order.price <= price if side == "BUY" else order.price >= price


@given(symbols(), sides, amounts, prices)
@settings(max_examples=150)
def test_prepare_quote_order_returns_only_what_every_rule_allows(symbol, side, amount, ref):
    rules = SymbolRules.from_exchange_info(symbol)
    try:
        order = prepare_order(
            rules,
            side=side,
            order_type="MARKET",
            quote_quantity=amount,
            references=ReferencePrices.same(ref),
            best_price=ref,
        )
    except OrderRuleViolation as refused:
        event(f"refused: {refused.filter_name}")
        return
    event("accepted")
    assert symbol["quoteOrderQtyMarketAllowed"]
    bought = order.expected_quantity
    assert oracle_failures(symbol, side, "MARKET", bought, None, ref) == []
    assert bought * ref <= order.quote_quantity  # rounded down: never more than the amount
    assert order.quantity is None and order.quote_quantity <= amount
    assert floats_in(order) == []
