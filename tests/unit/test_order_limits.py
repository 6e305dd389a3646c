"""The filters that judge an order by the account (open-order counts, MAX_POSITION), the
symbol's status, and the exchangeInfo parts they come from, on hand-built symbols."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chatbot.exchange.models import ExchangeInfo
from chatbot.exchange.order_limits import (
    OpenOrder,
    OpenOrderCounts,
    check_open_orders,
    check_position,
    position,
)
from chatbot.exchange.rule_checks import OrderRuleViolation, check_status
from chatbot.exchange.symbol_rules import (
    ExchangeFilters,
    MaxNumAlgoOrders,
    MaxNumOrders,
    MaxPosition,
    SymbolRules,
)

D = Decimal


def symbol(name: str = "FETUSDT", status: str = "TRADING", *filters: dict[str, Any]) -> dict:
    return {
        "symbol": name,
        "status": status,
        "baseAsset": name.removesuffix("USDT"),
        "baseAssetPrecision": 8,
        "quoteAsset": "USDT",
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT"],
        "quoteOrderQtyMarketAllowed": True,
        "filters": [
            {"filterType": "LOT_SIZE", "minQty": "0.1", "maxQty": "90000", "stepSize": "0.1"},
            *filters,
        ],
    }


# The simulator's coming FETUSDT, as exchangeInfo will list it.
FET = SymbolRules.from_exchange_info(
    symbol(
        "FETUSDT",
        "TRADING",
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 2},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 1},
        {"filterType": "MAX_POSITION", "maxPosition": "1000.00000000"},
    )
)
EXCHANGE_INFO = {
    "timezone": "UTC",
    "serverTime": 1781506395799,
    "rateLimits": [],
    "exchangeFilters": [
        {"filterType": "EXCHANGE_MAX_NUM_ORDERS", "maxNumOrders": 1000},
        {"filterType": "EXCHANGE_MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 200},
        {"filterType": "EXCHANGE_MAX_NUM_ICEBERG_ORDERS", "maxNumIcebergOrders": 10000},
    ],
    "symbols": [symbol("FETUSDT"), symbol("LUNAUSDT", "BREAK")],
}
NO_EXCHANGE_FILTERS = ExchangeFilters()


def refused(check, *args: Any) -> OrderRuleViolation:
    with pytest.raises(OrderRuleViolation) as caught:
        check(*args)
    return caught.value


# --- parsing -----------------------------------------------------------------------------------


def test_parses_the_algo_order_and_position_limits() -> None:
    assert FET.max_num_orders == MaxNumOrders(2)
    assert FET.max_num_algo_orders == MaxNumAlgoOrders(1)
    assert FET.max_position == MaxPosition(D("1000"))
    assert isinstance(FET.max_position.max_position, Decimal)


def test_exchange_filters_are_parsed_into_exchange_info() -> None:
    info = ExchangeInfo.from_json(EXCHANGE_INFO)
    assert info.exchange_filters == ExchangeFilters(MaxNumOrders(1000), MaxNumAlgoOrders(200))
    assert info.exchange_filters.any
    assert info.symbols["LUNAUSDT"].status == "BREAK"


def test_no_exchange_filters_means_none_to_check() -> None:
    info = ExchangeInfo.from_json({**EXCHANGE_INFO, "exchangeFilters": []})
    assert info.exchange_filters == NO_EXCHANGE_FILTERS and not info.exchange_filters.any
    assert ExchangeInfo.from_json({"symbols": []}).exchange_filters == NO_EXCHANGE_FILTERS


# --- status ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text"),
    [
        ("BREAK", "LUNAUSDT is on a break right now"),
        ("HALT", "LUNAUSDT is halted right now"),
        ("END_OF_DAY", "LUNAUSDT is closed for the day right now"),
        ("CANCEL_ONLY", "LUNAUSDT is only accepting cancellations right now"),
        ("AUCTION_MATCH", "LUNAUSDT is not trading (AUCTION_MATCH) right now"),
    ],
)
def test_a_symbol_not_trading_is_refused_with_the_reason(status: str, text: str) -> None:
    rules = SymbolRules.from_exchange_info(symbol("LUNAUSDT", status))
    err = refused(check_status, rules)
    assert (err.filter_name, err.message) == ("SYMBOL_STATUS", text)
    check_status(SymbolRules.from_exchange_info(symbol("LUNAUSDT")))


# --- open-order counts -------------------------------------------------------------------------


def open_order(symbol: str = "FETUSDT", kind: str = "LIMIT", side: str = "BUY", left="1"):
    return OpenOrder(symbol, side, kind, D(left))


def test_counts_split_the_symbol_from_all_and_algo_from_plain() -> None:
    orders = [
        open_order(),
        open_order(kind="STOP_LOSS_LIMIT"),
        open_order("BTCUSDT", "TAKE_PROFIT"),
        open_order("BTCUSDT"),
    ]
    counted = OpenOrderCounts.count("FETUSDT", orders, all_symbols=True)
    assert counted == OpenOrderCounts(2, 1, 4, 2, lists_total=0)
    assert OpenOrderCounts.count("FETUSDT", orders[:2], all_symbols=False) == OpenOrderCounts(
        2, 1, None, None
    )


def test_max_num_orders_refuses_the_order_past_the_limit_and_names_it() -> None:
    check_open_orders(FET, NO_EXCHANGE_FILTERS, "LIMIT", OpenOrderCounts(1, 0))
    err = refused(check_open_orders, FET, NO_EXCHANGE_FILTERS, "MARKET", OpenOrderCounts(2, 0))
    assert err.filter_name == "MAX_NUM_ORDERS"
    assert err.message == (
        "an account may have at most 2 open orders on FETUSDT (MAX_NUM_ORDERS); you have 2. "
        "Cancel one first: /orders FETUSDT"
    )


def test_max_num_algo_orders_counts_only_for_algo_order_types() -> None:
    one_stop = OpenOrderCounts(1, 1)
    check_open_orders(FET, NO_EXCHANGE_FILTERS, "LIMIT", one_stop)
    err = refused(check_open_orders, FET, NO_EXCHANGE_FILTERS, "STOP_LOSS_LIMIT", one_stop)
    assert err.filter_name == "MAX_NUM_ALGO_ORDERS"
    assert "at most 1 open stop and take-profit orders on FETUSDT" in err.message


def test_exchange_limits_count_every_symbol_when_they_exist() -> None:
    exchange = ExchangeFilters(MaxNumOrders(1000), MaxNumAlgoOrders(200))
    check_open_orders(FET, exchange, "LIMIT", OpenOrderCounts(0, 0, 999, 0))
    err = refused(check_open_orders, FET, exchange, "LIMIT", OpenOrderCounts(0, 0, 1000, 0))
    assert err.filter_name == "EXCHANGE_MAX_NUM_ORDERS"
    assert "at most 1000 open orders (EXCHANGE_MAX_NUM_ORDERS); you have 1000" in err.message
    err = refused(check_open_orders, FET, exchange, "TAKE_PROFIT", OpenOrderCounts(0, 0, 5, 200))
    assert err.filter_name == "EXCHANGE_MAX_NUM_ALGO_ORDERS"
    # Not fetched (None) or not listed: nothing to check.
    check_open_orders(FET, NO_EXCHANGE_FILTERS, "LIMIT", OpenOrderCounts(0, 0, 5000, 5000))


# --- MAX_POSITION --------------------------------------------------------------------------------


def test_position_is_free_locked_and_open_buys_on_the_symbol() -> None:
    orders = [
        open_order(left="100"),
        open_order(side="SELL", left="50"),  # a sell does not add
        open_order("BTCUSDT", left="7"),  # another symbol does not add
        open_order(kind="STOP_LOSS_LIMIT", left="25.5"),
    ]
    assert position(FET, D("600"), D("50"), orders) == D("775.5")


def test_max_position_holds_a_buy_to_what_is_left() -> None:
    check_position(FET, "BUY", D("225"), D("775"))  # exactly 1000
    err = refused(check_position, FET, "BUY", D("225.1"), D("775"))
    assert err.filter_name == "MAX_POSITION"
    assert err.message == (
        "FETUSDT allows a position of at most 1,000 FET (MAX_POSITION); with this order yours "
        "would be 1,000.1 FET (held and being bought: 775), so buy at most 225 FET"
    )


def test_max_position_never_refuses_a_sell_and_says_when_nothing_fits() -> None:
    check_position(FET, "SELL", D("5000"), D("1000"))
    err = refused(check_position, FET, "BUY", D("0.1"), D("1000"))
    assert err.message.endswith("so no more fits")
    check_position(SymbolRules.from_exchange_info(symbol()), "BUY", D("1e9"), D("1e9"))
