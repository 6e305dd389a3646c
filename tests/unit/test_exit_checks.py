"""The exit rules (stop-loss, take-profit, trailing, OCO), each with the sentence it says, on
the testnet's real BTCUSDT rules and on hand-built symbols."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from chatbot.exchange.exit_checks import (
    check_exit_counts,
    check_list_allowed,
    check_oco_prices,
    check_order_type,
    check_trailing_delta,
    check_trigger_side,
    prepare_leg,
    trailing_bounds,
)
from chatbot.exchange.models import ExchangeInfo, Order
from chatbot.exchange.order_limits import OpenOrder, OpenOrderCounts
from chatbot.exchange.reference_prices import ReferencePrices
from chatbot.exchange.rule_checks import OrderRuleViolation
from chatbot.exchange.symbol_rules import (
    ExchangeFilters,
    MaxNumAlgoOrders,
    MaxNumOrderLists,
    MaxNumOrders,
    SymbolRules,
    TrailingDelta,
)
from tests.unit.symbol_rules import TESTNET, symbol_json

D = Decimal
BTCUSDT = SymbolRules.from_exchange_info(TESTNET["BTCUSDT"])
TEST_COIN = SymbolRules.from_exchange_info(TESTNET["这是测试币456"])
LAST = D(66000)
AT_LAST = ReferencePrices.same(LAST)


def refused(call, *args, **kwargs) -> OrderRuleViolation:
    with pytest.raises(OrderRuleViolation) as caught:
        call(*args, **kwargs)
    return caught.value


# -- exchangeInfo ------------------------------------------------------------------------------


def test_exit_rules_come_from_the_testnets_exchange_info() -> None:
    assert BTCUSDT.trailing_delta == TrailingDelta(10, 2000, 10, 2000)
    assert BTCUSDT.max_num_order_lists == MaxNumOrderLists(20)
    assert BTCUSDT.oco_allowed and BTCUSDT.oto_allowed and BTCUSDT.allow_trailing_stop
    assert "STOP_LOSS_LIMIT" in BTCUSDT.order_types
    assert not (TEST_COIN.oco_allowed or TEST_COIN.oto_allowed or TEST_COIN.allow_trailing_stop)


def test_the_exchange_wide_list_limit_is_read() -> None:
    raw = [{"filterType": "EXCHANGE_MAX_NUM_ORDER_LISTS", "maxNumOrderLists": 20}]
    info = ExchangeInfo.from_json({"symbols": [], "rateLimits": [], "exchangeFilters": raw})
    assert info.exchange_filters == ExchangeFilters(max_num_order_lists=MaxNumOrderLists(20))
    assert not info.exchange_filters.any  # a single order is not judged by it


# -- types -------------------------------------------------------------------------------------


def test_an_order_type_the_symbol_lacks_is_refused() -> None:
    plain = SymbolRules.from_exchange_info(symbol_json())
    error = refused(check_order_type, plain, "STOP_LOSS")
    assert (error.filter_name, str(error)) == (
        "ORDER_TYPE",
        "ABCXYZ does not accept STOP_LOSS orders",
    )
    check_order_type(BTCUSDT, "TAKE_PROFIT_LIMIT")


def test_lists_are_refused_where_the_symbol_forbids_them() -> None:
    assert str(refused(check_list_allowed, TEST_COIN, "OCO")) == (
        "这是测试币456 does not accept OCO orders"
    )
    assert str(refused(check_list_allowed, TEST_COIN, "OTO")) == (
        "这是测试币456 does not accept an entry with its exits in one order"
    )
    check_list_allowed(BTCUSDT, "OCO")


def test_a_trailing_stop_is_refused_where_the_symbol_forbids_it() -> None:
    error = refused(
        prepare_leg, TEST_COIN, order_type="STOP_LOSS", side="SELL", quantity=D(1),
        trailing_delta=100, last_price=LAST, references=AT_LAST,
    )  # fmt: skip
    assert str(error) == (
        "这是测试币456 does not accept trailing stops; give a fixed trigger price instead"
    )


# -- trailing delta ----------------------------------------------------------------------------


ASYMMETRIC = dataclasses.replace(BTCUSDT, trailing_delta=TrailingDelta(10, 500, 20, 2000))


@pytest.mark.parametrize(
    ("order_type", "side", "bounds"),
    [
        ("STOP_LOSS", "BUY", (10, 500)),
        ("STOP_LOSS_LIMIT", "BUY", (10, 500)),
        ("TAKE_PROFIT", "SELL", (10, 500)),
        ("TAKE_PROFIT_LIMIT", "SELL", (10, 500)),
        ("STOP_LOSS", "SELL", (20, 2000)),
        ("STOP_LOSS_LIMIT", "SELL", (20, 2000)),
        ("TAKE_PROFIT", "BUY", (20, 2000)),
        ("TAKE_PROFIT_LIMIT", "BUY", (20, 2000)),
    ],
)
def test_each_order_takes_the_trailing_bounds_binance_documents(order_type, side, bounds):
    assert trailing_bounds(ASYMMETRIC, order_type, side) == bounds


def test_a_trail_too_wide_names_the_range_in_percent() -> None:
    error = refused(check_trailing_delta, BTCUSDT, "STOP_LOSS", "SELL", 2500)
    assert error.filter_name == "TRAILING_DELTA"
    assert str(error) == "a trailing stop must trail by 0.1% to 20% on BTCUSDT; you asked 25%"


def test_a_trail_too_tight_uses_the_sides_own_bounds() -> None:
    error = refused(check_trailing_delta, ASYMMETRIC, "STOP_LOSS", "SELL", 15)
    assert str(error) == "a trailing stop must trail by 0.2% to 20% on BTCUSDT; you asked 0.15%"
    check_trailing_delta(ASYMMETRIC, "TAKE_PROFIT", "SELL", 15)


def test_a_trailing_delta_is_whole_basis_points() -> None:
    with pytest.raises(TypeError):
        check_trailing_delta(BTCUSDT, "STOP_LOSS", "SELL", D("1.5"))


# -- triggers ----------------------------------------------------------------------------------


def test_a_sell_stop_above_the_price_would_trigger_at_once() -> None:
    error = refused(check_trigger_side, "STOP_LOSS_LIMIT", "SELL", D(67000), LAST)
    assert error.filter_name == "STOP_PRICE"
    assert str(error) == (
        "a stop-loss to sell must be below the last price (66,000); 67,000 would trigger at once"
    )


@pytest.mark.parametrize(
    ("order_type", "side", "good", "bad", "where"),
    [
        ("STOP_LOSS", "SELL", "64000", "66000", "below"),
        ("TAKE_PROFIT", "SELL", "70000", "65000", "above"),
        ("STOP_LOSS", "BUY", "68000", "65000", "above"),
        ("TAKE_PROFIT_LIMIT", "BUY", "60000", "66000", "below"),
    ],
)
def test_each_trigger_sits_where_binance_fires_it(order_type, side, good, bad, where):
    check_trigger_side(order_type, side, D(good), LAST)
    error = refused(check_trigger_side, order_type, side, D(bad), LAST)
    assert f"must be {where} the last price (66,000)" in str(error)


# -- OCO ---------------------------------------------------------------------------------------


def test_a_sell_oco_takes_profit_above_and_stops_below() -> None:
    check_oco_prices("SELL", "LIMIT_MAKER", D(70000), D(64000), LAST)
    error = refused(check_oco_prices, "SELL", "LIMIT_MAKER", D(65000), D(64000), LAST)
    assert error.filter_name == "OCO_PRICES"
    assert str(error) == (
        "in an OCO to sell, the limit order must be above the last price (66,000); 65,000 is not"
    )
    assert str(refused(check_oco_prices, "SELL", "TAKE_PROFIT", D(70000), D(66500), LAST)) == (
        "in an OCO to sell, the stop-loss must be below the last price (66,000); 66,500 is not"
    )


def test_a_buy_oco_is_mirrored() -> None:
    check_oco_prices("BUY", "STOP_LOSS_LIMIT", D(68000), D(62000), LAST, below_type="LIMIT_MAKER")
    error = refused(check_oco_prices, "BUY", "STOP_LOSS", D(65000), D(62000), LAST)
    assert str(error) == (
        "in an OCO to buy, the stop-loss must be above the last price (66,000); 65,000 is not"
    )


def test_an_oco_leg_of_the_wrong_kind_is_refused() -> None:
    error = refused(check_oco_prices, "SELL", "STOP_LOSS", D(70000), D(64000), LAST)
    assert str(error) == (
        "in an OCO to sell, the order above the price must be a limit order or take-profit, "
        "not a stop-loss"
    )


# -- counts ------------------------------------------------------------------------------------


def listed(order_type: str, list_id: int | None, symbol: str = "BTCUSDT") -> OpenOrder:
    return OpenOrder(symbol, "SELL", order_type, D("0.01"), list_id)


def test_open_lists_are_counted_once_per_list() -> None:
    orders = [
        listed("LIMIT_MAKER", 7),
        listed("STOP_LOSS_LIMIT", 7),
        listed("STOP_LOSS", 9),
        listed("LIMIT", None),
        listed("TAKE_PROFIT", 3, "ETHUSDT"),
    ]
    counts = OpenOrderCounts.count("BTCUSDT", orders, all_symbols=True)
    assert (counts.on_symbol, counts.algo_on_symbol, counts.lists_on_symbol) == (4, 2, 2)
    assert (counts.total, counts.algo_total, counts.lists_total) == (5, 3, 3)


def test_an_open_order_from_binance_keeps_its_list() -> None:
    order = Order.from_json(
        {"symbol": "BTCUSDT", "orderId": 5, "clientOrderId": "c", "side": "SELL",
         "type": "STOP_LOSS_LIMIT", "origQty": "0.01", "executedQty": "0", "orderListId": 4}
    )  # fmt: skip
    assert OpenOrder.from_order(order) == listed("STOP_LOSS_LIMIT", 4)


def test_an_oco_past_the_algo_limit_is_refused() -> None:
    counts = OpenOrderCounts(on_symbol=4, algo_on_symbol=5, lists_on_symbol=1)
    error = refused(check_exit_counts, BTCUSDT, ExchangeFilters(), counts, 2, 1, 1)
    assert error.filter_name == "MAX_NUM_ALGO_ORDERS"
    assert str(error) == (
        "an account may have at most 5 open stop and take-profit orders on BTCUSDT "
        "(MAX_NUM_ALGO_ORDERS); you have 5 and this would add 1. Cancel one first: /orders BTCUSDT"
    )


def test_a_limit_maker_leg_is_not_an_algo_order() -> None:
    counts = OpenOrderCounts(on_symbol=4, algo_on_symbol=5, lists_on_symbol=1)
    check_exit_counts(BTCUSDT, ExchangeFilters(), counts, 1, 0, 0)


def test_the_list_limits_bind_per_symbol_and_per_account() -> None:
    counts = OpenOrderCounts(2, 0, 2, 0, lists_on_symbol=20, lists_total=20)
    assert refused(check_exit_counts, BTCUSDT, ExchangeFilters(), counts, 2, 1, 1).filter_name == (
        "MAX_NUM_ORDER_LISTS"
    )
    few = OpenOrderCounts(2, 0, 40, 0, lists_on_symbol=1, lists_total=3)
    exchange = ExchangeFilters(MaxNumOrders(1000), MaxNumAlgoOrders(200), MaxNumOrderLists(3))
    error = refused(check_exit_counts, BTCUSDT, exchange, few, 2, 1, 1)
    assert error.filter_name == "EXCHANGE_MAX_NUM_ORDER_LISTS"
    assert "at most 3 open OCO lists (EXCHANGE_MAX_NUM_ORDER_LISTS); you have 3" in str(error)


def test_an_otoco_counts_three_orders_against_max_num_orders() -> None:
    counts = OpenOrderCounts(on_symbol=198, algo_on_symbol=0)
    error = refused(check_exit_counts, BTCUSDT, ExchangeFilters(), counts, 3, 1, 1)
    assert error.filter_name == "MAX_NUM_ORDERS"
    check_exit_counts(BTCUSDT, ExchangeFilters(), counts, 2, 1, 1)


# -- preparing a leg ---------------------------------------------------------------------------


def test_a_stop_limit_leg_rounds_to_the_grid() -> None:
    leg = prepare_leg(
        BTCUSDT, order_type="STOP_LOSS_LIMIT", side="SELL", quantity=D("0.0123456"),
        price=D("63900.004"), stop_price=D("64000.001"), last_price=LAST, references=AT_LAST,
    )  # fmt: skip
    assert (leg.quantity, leg.price, leg.stop_price) == (D("0.01234"), D("63900.01"), D("64000.01"))
    assert leg.rounded and leg.is_algo


def test_a_sell_stop_limit_may_have_its_limit_above_its_trigger() -> None:
    leg = prepare_leg(
        BTCUSDT, order_type="STOP_LOSS_LIMIT", side="SELL", quantity=D("0.01"),
        price=D(64100), stop_price=D(64000), last_price=LAST, references=AT_LAST,
    )  # fmt: skip
    assert not leg.rounded  # Binance refuses neither side, so neither is refused here


def test_a_trigger_past_the_price_filter_is_refused() -> None:
    error = refused(
        prepare_leg, BTCUSDT, order_type="TAKE_PROFIT", side="SELL", quantity=D("0.01"),
        stop_price=D(2000000), last_price=LAST, references=AT_LAST,
    )  # fmt: skip
    assert error.filter_name == "PRICE_FILTER"
    assert str(error) == "maximum trigger price is 1,000,000 USDT; this one is 2,000,000 USDT"


def test_a_stop_limit_price_far_from_the_average_is_refused() -> None:
    error = refused(
        prepare_leg, BTCUSDT, order_type="STOP_LOSS_LIMIT", side="SELL", quantity=D("0.01"),
        price=D(30000), stop_price=D(64000), last_price=LAST, references=AT_LAST,
    )  # fmt: skip
    assert error.filter_name == "PERCENT_PRICE_BY_SIDE"
    assert str(error).startswith("price must be between 33,000 and 132,000 USDT for a sell now")


def test_a_stop_market_leg_under_the_notional_minimum_is_refused() -> None:
    error = refused(
        prepare_leg, BTCUSDT, order_type="STOP_LOSS", side="SELL", quantity=D("0.00005"),
        stop_price=D(64000), last_price=LAST, references=AT_LAST,
    )  # fmt: skip
    assert error.filter_name == "NOTIONAL"
    assert str(error) == "minimum order is 5 USDT; this one is 3.3 USDT at the average price"


def test_a_trailing_take_profit_needs_no_trigger() -> None:
    leg = prepare_leg(
        BTCUSDT, order_type="TAKE_PROFIT", side="SELL", quantity=D("0.01"), trailing_delta=150,
        last_price=LAST, references=AT_LAST,
    )  # fmt: skip
    assert (leg.stop_price, leg.trailing_delta) == (None, 150)


def test_a_stop_leg_without_trigger_or_trail_is_a_caller_mistake() -> None:
    with pytest.raises(ValueError, match="needs a stop price or a trailing delta"):
        prepare_leg(
            BTCUSDT, order_type="STOP_LOSS", side="SELL", quantity=D("0.01"),
            last_price=LAST, references=AT_LAST,
        )  # fmt: skip
