"""The simulator's own implementation of Binance's symbol filters."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.sandbox.exchange.filters import OrderShape, on_grid, validate_order
from chatbot.sandbox.exchange.symbols import Catalog, SymbolSpec
from chatbot.sandbox.exchange.wire import ApiError

CATALOG = Catalog("mainnet")
BTC = CATALOG.get("BTCUSDT")  # tick 0.01, step 0.00001, min notional 5, 0.5x-2x of average
AVG = Decimal(65000)


def limit(qty: str, price: str, side: str = "BUY") -> OrderShape:
    return OrderShape(side, "LIMIT", Decimal(qty), Decimal(price), AVG)


def market(qty: str, quote: str | None = None) -> OrderShape:
    return OrderShape("BUY", "MARKET", Decimal(qty), None, AVG, Decimal(quote) if quote else None)


def failure(spec: SymbolSpec, order: OrderShape, open_orders: int = 0) -> str | None:
    try:
        validate_order(spec, order, open_orders)
    except ApiError as error:
        assert error.code == -1013
        return error.msg
    return None


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (limit("0.001", "65000.00"), None),
        (limit("0.001", "65000.001"), "Filter failure: PRICE_FILTER"),
        (limit("0.001", "1000000.01"), "Filter failure: PRICE_FILTER"),
        (limit("0.000015", "65000"), "Filter failure: LOT_SIZE"),
        (limit("9000.00001", "65000"), "Filter failure: LOT_SIZE"),
        (limit("0.00007", "65000"), "Filter failure: NOTIONAL"),
        (limit("0.001", "130000.01"), "Filter failure: PERCENT_PRICE_BY_SIDE"),
        (limit("0.001", "32499.99", side="SELL"), "Filter failure: PERCENT_PRICE_BY_SIDE"),
        (limit("0", "65000"), "Invalid quantity."),
        (market("165.02219"), None),
        (market("165.0222"), "Filter failure: MARKET_LOT_SIZE"),
        (market("0.00007"), "Filter failure: NOTIONAL"),
        (market("0.0001", quote="4.99"), "Filter failure: NOTIONAL"),
    ],
)
def test_each_filter_reports_its_own_name(order: OrderShape, expected: str | None) -> None:
    assert failure(BTC, order) == expected


def test_max_num_orders_counts_the_open_orders_on_the_symbol() -> None:
    assert failure(BTC, limit("0.001", "65000"), open_orders=199) is None
    assert (
        failure(BTC, limit("0.001", "65000"), open_orders=200) == "Filter failure: MAX_NUM_ORDERS"
    )


def test_grid_rule_is_relative_to_the_minimum_and_zero_disables_it() -> None:
    assert on_grid(Decimal("0.30"), Decimal("0.10"), Decimal("0.20"))
    assert not on_grid(Decimal("0.20"), Decimal("0.10"), Decimal("0.20"))
    assert on_grid(Decimal("1.234567"), Decimal(0), Decimal(0))


def test_every_symbol_accepts_its_own_minimum_order_at_the_start_price() -> None:
    for spec in CATALOG:
        assert spec.lot is not None and spec.notional is not None
        price = spec.start_price
        qty = max(spec.lot.min_qty, spec.notional.min_notional / price)
        steps = ((qty - spec.lot.min_qty) / spec.lot.step_size).to_integral_value(ROUND_CEILING)
        qty = spec.lot.min_qty + steps * spec.lot.step_size
        order = OrderShape("BUY", "LIMIT", qty, price, price)
        assert failure(spec, order) is None, spec.name


@given(
    steps=st.integers(min_value=0, max_value=10**8),
    ticks=st.integers(min_value=-(10**6), max_value=10**6),
    side=st.sampled_from(["BUY", "SELL"]),
)
def test_orders_on_the_grids_within_bounds_pass(steps: int, ticks: int, side: str) -> None:
    assert BTC.lot is not None and BTC.price is not None
    qty = BTC.lot.min_qty + steps * BTC.lot.step_size
    price = AVG + ticks * BTC.price.tick_size
    order = OrderShape(side, "LIMIT", qty, price, AVG)
    assert failure(BTC, order) in (None, "Filter failure: NOTIONAL")
    if 5 <= qty * price <= 9_000_000:
        assert failure(BTC, order) is None


@given(offset=st.integers(min_value=1, max_value=999))
def test_quantities_off_the_step_fail_lot_size(offset: int) -> None:
    qty = Decimal("0.001") + Decimal(offset) * Decimal("0.00000001")
    assert failure(BTC, limit(f"{qty}", "65000")) == "Filter failure: LOT_SIZE"
