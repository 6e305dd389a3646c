"""The simulator's own implementation of Binance's symbol and exchange filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.sandbox.exchange.accounts import Balance
from chatbot.sandbox.exchange.filters import OrderShape, TapeReference, on_grid, validate_order
from chatbot.sandbox.exchange.market import Market
from chatbot.sandbox.exchange.symbols import Catalog, SymbolSpec
from chatbot.sandbox.exchange.wire import ApiError, Clock

CATALOG = Catalog("mainnet")
BTC = CATALOG.get("BTCUSDT")  # tick 0.01, step 0.00001, min notional 5, 0.5x-2x of average
FET = CATALOG.get("FETUSDT")  # MAX_NUM_ORDERS 2, MAX_NUM_ALGO_ORDERS 1, MAX_POSITION 1000
AVG = Decimal(65000)


@dataclass
class Resting:
    """An open order as the counting filters see it."""

    symbol: str
    side: str = "BUY"
    type: str = "LIMIT"
    orig_qty: Decimal = Decimal(1)
    executed_qty: Decimal = Decimal(0)


def limit(qty: str, price: str, side: str = "BUY", avg: Decimal = AVG) -> OrderShape:
    return OrderShape(side, "LIMIT", Decimal(qty), Decimal(price), avg)


def market(qty: str, quote: str | None = None, avg: Decimal = AVG) -> OrderShape:
    return OrderShape("BUY", "MARKET", Decimal(qty), None, avg, Decimal(quote) if quote else None)


def failure(
    spec: SymbolSpec,
    order: OrderShape,
    open_orders: int | list[Resting] = 0,
    balances: dict[str, Balance] | None = None,
    prices: Callable[[int], Decimal] | None = None,
) -> str | None:
    """The error message validate_order raises, or None; `open_orders` may be a count of
    plain open orders on the order's symbol."""
    if isinstance(open_orders, int):
        open_orders = [Resting(spec.name) for _ in range(open_orders)]
    try:
        validate_order(spec, order, open_orders, balances, prices=prices)
    except ApiError as error:
        assert error.code == (-2010 if error.msg == "Market is closed." else -1013)
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
    ],
)
def test_each_filter_reports_its_own_name(order: OrderShape, expected: str | None) -> None:
    assert failure(BTC, order) == expected


def test_a_quote_amount_order_is_judged_by_its_computed_quantity_not_its_quote_amount() -> None:
    """5.20 USDT bought 0.00007 BTC once rounded down to the step: 0.00007 × 65000 = 4.55."""
    assert failure(BTC, market("0.00007", quote="5.20")) == "Filter failure: NOTIONAL"
    assert failure(BTC, market("0.00008", quote="5.20")) is None  # 5.20 exactly


def test_max_num_orders_counts_the_open_orders_on_the_symbol_only() -> None:
    assert failure(BTC, limit("0.001", "65000"), open_orders=199) is None
    assert (
        failure(BTC, limit("0.001", "65000"), open_orders=200) == "Filter failure: MAX_NUM_ORDERS"
    )
    elsewhere = [Resting("ETHUSDT") for _ in range(300)]
    assert failure(BTC, limit("0.001", "65000"), elsewhere) is None


def fet(order_type: str = "LIMIT", qty: str = "10", side: str = "BUY") -> OrderShape:
    return OrderShape(side, order_type, Decimal(qty), Decimal("1.234"), Decimal("1.234"))


def test_max_num_algo_orders_counts_stop_and_take_profit_orders_only() -> None:
    one_stop = [Resting("FETUSDT", type="STOP_LOSS_LIMIT")]
    assert failure(FET, fet("TAKE_PROFIT_LIMIT"), one_stop) == "Filter failure: MAX_NUM_ALGO_ORDERS"
    assert failure(FET, fet("LIMIT"), one_stop) is None
    assert failure(FET, fet("STOP_LOSS_LIMIT"), [Resting("FETUSDT")]) is None
    assert failure(FET, fet(), [Resting("FETUSDT"), *one_stop]) == "Filter failure: MAX_NUM_ORDERS"


def test_max_position_adds_balances_open_buys_and_the_order() -> None:
    balances = {"FET": Balance(free=Decimal(800), locked=Decimal(50))}
    buying = [Resting("FETUSDT", orig_qty=Decimal(100), executed_qty=Decimal(30))]  # 70 left
    selling = [Resting("FETUSDT", side="SELL", orig_qty=Decimal(500))]
    assert failure(FET, fet(qty="80"), buying, balances) is None  # 800 + 50 + 70 + 80 = 1000
    assert failure(FET, fet(qty="80.1"), buying, balances) == "Filter failure: MAX_POSITION"
    assert failure(FET, fet(qty="150"), selling, balances) is None  # open SELLs don't count
    assert failure(FET, fet(qty="5000", side="SELL"), [], balances) is None  # SELLs never fail


def test_exchange_filters_count_every_symbol_and_can_be_lowered() -> None:
    catalog = Catalog("mainnet")
    btc = catalog.get("BTCUSDT")
    three = [Resting("ETHUSDT"), Resting("SOLUSDT"), Resting("ETHBTC", type="STOP_LOSS")]
    assert failure(btc, limit("0.001", "65000"), three) is None  # 1000 by default
    catalog.set_exchange_filter("EXCHANGE_MAX_NUM_ORDERS", maxNumOrders=3)
    catalog.set_exchange_filter("EXCHANGE_MAX_NUM_ALGO_ORDERS", maxNumAlgoOrders=1)
    assert failure(btc, limit("0.001", "65000"), three) == "Filter failure: EXCHANGE_MAX_NUM_ORDERS"
    assert failure(btc, limit("0.001", "65000"), three[:2]) is None
    algo = OrderShape("BUY", "STOP_LOSS", Decimal("0.001"), None, AVG)
    assert failure(btc, algo, three[1:]) == "Filter failure: EXCHANGE_MAX_NUM_ALGO_ORDERS"
    shown = catalog.exchange_info(0)["exchangeFilters"]
    assert shown == [
        {"filterType": "EXCHANGE_MAX_NUM_ORDERS", "maxNumOrders": 3},
        {"filterType": "EXCHANGE_MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 1},
    ]
    assert CATALOG.exchange_rules.max_num_orders == 1000  # another catalog is untouched


@pytest.mark.parametrize(
    ("filter_type", "values"),
    [
        ("EXCHANGE_MAX_NUM_ICEBERG_ORDERS", {"maxNumIcebergOrders": 1}),
        ("EXCHANGE_MAX_NUM_ORDERS", {"maxNumAlgoOrders": 1}),
        ("EXCHANGE_MAX_NUM_ORDERS", {"maxNumOrders": "3"}),
        ("EXCHANGE_MAX_NUM_ORDERS", {"maxNumOrders": -1}),
    ],
)
def test_an_unknown_exchange_filter_or_field_is_refused(
    filter_type: str, values: dict[str, int]
) -> None:
    with pytest.raises(ValueError):
        Catalog("mainnet").set_exchange_filter(filter_type, **values)


def test_a_symbol_not_trading_refuses_valid_orders_after_the_filters() -> None:
    luna = CATALOG.get("LUNAUSDT")
    assert luna.status == "BREAK"
    price = Decimal("0.3512")
    assert failure(luna, limit("100", "0.3512", avg=price)) == "Market is closed."
    assert failure(luna, limit("100.05", "0.3512", avg=price)) == "Filter failure: LOT_SIZE"
    catalog = Catalog("mainnet")
    catalog.set_status("BTCUSDT", "HALT")
    assert failure(catalog.get("BTCUSDT"), limit("0.001", "65000")) == "Market is closed."
    assert catalog.exchange_info(0, ["BTCUSDT"])["symbols"][0]["status"] == "HALT"
    with pytest.raises(ValueError):
        catalog.set_status("BTCUSDT", "CLOSED")


def test_each_filter_uses_its_own_average_price_window() -> None:
    """XRPTRY: PERCENT_PRICE compares with the last price (avgPriceMins 0), MIN_NOTIONAL
    with the one-minute average (avgPriceMins 1)."""
    xrp = CATALOG.get("XRPTRY")
    windows = {0: Decimal(400), 1: Decimal(87), 5: Decimal(90)}
    asked: list[int] = []

    def prices(mins: int) -> Decimal:
        asked.append(mins)
        return windows[mins]

    assert failure(xrp, limit("1", "1500"), prices=prices) is None  # 400 × 5 = 2000
    assert failure(xrp, limit("1", "2000.01"), prices=prices) == "Filter failure: PERCENT_PRICE"
    assert failure(xrp, limit("1", "79.99"), prices=prices) == "Filter failure: PERCENT_PRICE"
    assert failure(xrp, market("0.1"), prices=prices) == "Filter failure: MIN_NOTIONAL"  # 8.7
    assert failure(xrp, market("0.2"), prices=prices) is None  # 17.4
    assert set(asked) == {0, 1}


def test_the_edge_case_symbols_are_listed_on_both_networks() -> None:
    edge_cases = {"BNBIDR", "XRPTRY", "LUNAUSDT", "FETUSDT"}
    assert edge_cases <= set(CATALOG.names()) and edge_cases <= set(Catalog("testnet").names())
    assert len(CATALOG.names()) == 30 and len(Catalog("testnet").names()) == 31


def test_bnbidr_has_a_tick_of_ten_and_whole_lots() -> None:
    bnb = CATALOG.get("BNBIDR")
    avg = Decimal(9876540)
    assert failure(bnb, limit("1", "9876540", avg=avg)) is None
    assert failure(bnb, limit("1", "9876545", avg=avg)) == "Filter failure: PRICE_FILTER"
    assert failure(bnb, limit("1.5", "9876540", avg=avg)) == "Filter failure: LOT_SIZE"
    assert failure(bnb, market("1", avg=Decimal(19990))) == "Filter failure: NOTIONAL"
    assert failure(bnb, market("2", avg=Decimal(10000))) is None  # 20000, the minimum


def test_reference_prices_are_windowed_vwaps_of_the_tape() -> None:
    clock = Clock()
    tape_market = Market(CATALOG, clock, seed=1)
    reference = TapeReference(tape_market, "BTCUSDT")
    clock.skew_ms = 3_600_000  # an hour later: the opening trades are out of every window
    assert reference(5) == reference(0) == tape_market.price("BTCUSDT")
    tape_market.set_price("BTCUSDT", Decimal(60000), Decimal(1))
    clock.skew_ms += 180_000
    tape_market.set_price("BTCUSDT", Decimal(63000), Decimal(2))
    assert reference(0) == reference(1) == Decimal(63000)
    assert reference(5) == Decimal(62000)  # (60000 × 1 + 63000 × 2) / 3
    clock.skew_ms += 180_000
    assert reference(5) == Decimal(63000) and reference(1) == Decimal(63000)  # nothing: last


def test_grid_rule_is_relative_to_the_minimum_and_zero_disables_it() -> None:
    assert on_grid(Decimal("0.30"), Decimal("0.10"), Decimal("0.20"))
    assert not on_grid(Decimal("0.20"), Decimal("0.10"), Decimal("0.20"))
    assert on_grid(Decimal("1.234567"), Decimal(0), Decimal(0))


def test_every_trading_symbol_accepts_its_own_minimum_order_at_the_start_price() -> None:
    for spec in CATALOG:
        assert spec.lot is not None and spec.notional is not None
        price = spec.start_price
        qty = max(spec.lot.min_qty, spec.notional.min_notional / price)
        steps = ((qty - spec.lot.min_qty) / spec.lot.step_size).to_integral_value(ROUND_CEILING)
        qty = spec.lot.min_qty + steps * spec.lot.step_size
        order = OrderShape("BUY", "LIMIT", qty, price, price)
        expected = None if spec.status == "TRADING" else "Market is closed."
        assert failure(spec, order) == expected, spec.name


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
