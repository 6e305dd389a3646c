"""Order lists on the wire: the exact parameters an OCO / OTOCO is sent with, and the parsing
of Binance's documented answers and events (tests/data/binance_order_lists.json holds the
examples of Binance's docs)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from chatbot.exchange.errors import (
    OrderListNotFound,
    OrderNotFound,
    RateLimited,
    error_from_payload,
)
from chatbot.exchange.events import ExecutionReport, ListStatus
from chatbot.exchange.models import Order
from chatbot.exchange.order_lists import ListLeg, OcoRequest, OrderList, OtocoRequest
from chatbot.exchange.order_pacer import OrderPacer
from chatbot.exchange.request_types import OrderRequest
from chatbot.exchange.signing import encode_params
from chatbot.exchange.user_stream.delivery import parse_user_event
from chatbot.exchange.weights import rest_weight

D = Decimal
DATA = Path(__file__).resolve().parent.parent / "data" / "binance_order_lists.json"
DOCS = json.loads(DATA.read_text(encoding="utf-8"))
ORDER_UPDATE = DOCS["executionReport"]


def test_a_stop_limit_order_is_sent_with_its_trigger_and_gtc() -> None:
    request = OrderRequest(
        "BTCUSDT", "SELL", "STOP_LOSS_LIMIT", D("0.01"), price=D("63900"), stop_price=D("64000")
    )
    assert encode_params(request.params("id1")) == (
        "symbol=BTCUSDT&side=SELL&type=STOP_LOSS_LIMIT&timeInForce=GTC&quantity=0.01"
        "&price=63900&stopPrice=64000&newClientOrderId=id1&newOrderRespType=FULL"
    )


def test_a_trailing_stop_market_order_carries_its_delta_in_basis_points() -> None:
    request = OrderRequest("BTCUSDT", "SELL", "STOP_LOSS", D("0.01"), trailing_delta=150)
    assert encode_params(request.params("id2")) == (
        "symbol=BTCUSDT&side=SELL&type=STOP_LOSS&quantity=0.01&trailingDelta=150"
        "&newClientOrderId=id2&newOrderRespType=FULL"
    )


def test_a_plain_limit_order_is_sent_as_before() -> None:
    request = OrderRequest("BTCUSDT", "BUY", "LIMIT", D("0.01"), price=D("1E+4"))
    assert encode_params(request.params("id3")) == (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.01&price=10000"
        "&newClientOrderId=id3&newOrderRespType=FULL"
    )


def test_an_oco_is_sent_with_binances_above_and_below_parameters() -> None:
    request = OcoRequest(
        symbol="BTCUSDT",
        side="SELL",
        quantity=D("0.01"),
        above=ListLeg("LIMIT_MAKER", price=D("70000"), client_order_id="tp1"),
        below=ListLeg("STOP_LOSS_LIMIT", price=D("63900"), stop_price=D("64000")),
        list_client_order_id="list1",
    )
    assert encode_params(request.params()) == (
        "symbol=BTCUSDT&listClientOrderId=list1&side=SELL&quantity=0.01"
        "&aboveType=LIMIT_MAKER&aboveClientOrderId=tp1&abovePrice=70000"
        "&belowType=STOP_LOSS_LIMIT&belowPrice=63900&belowStopPrice=64000&belowTimeInForce=GTC"
        "&newOrderRespType=FULL"
    )


def test_a_trailing_oco_leg_sends_its_delta() -> None:
    request = OcoRequest(
        "ETHUSDT",
        "SELL",
        D("1.5"),
        above=ListLeg("TAKE_PROFIT", stop_price=D("3600"), trailing_delta=200),
        below=ListLeg("STOP_LOSS", stop_price=D("2500")),
        list_client_order_id="list2",
    )
    assert encode_params(request.params()) == (
        "symbol=ETHUSDT&listClientOrderId=list2&side=SELL&quantity=1.5"
        "&aboveType=TAKE_PROFIT&aboveStopPrice=3600&aboveTrailingDelta=200"
        "&belowType=STOP_LOSS&belowStopPrice=2500&newOrderRespType=FULL"
    )


def test_an_otoco_is_sent_with_working_and_pending_parameters() -> None:
    request = OtocoRequest(
        symbol="BTCUSDT",
        working_type="LIMIT",
        working_side="BUY",
        working_price=D("66000"),
        working_quantity=D("0.01"),
        working_time_in_force=None,
        pending_side="SELL",
        pending_quantity=D("0.01"),
        pending_above=ListLeg("LIMIT_MAKER", price=D("70000")),
        pending_below=ListLeg("STOP_LOSS", stop_price=D("64000")),
        list_client_order_id="list3",
        working_client_order_id="entry3",
    )
    assert encode_params(request.params()) == (
        "symbol=BTCUSDT&listClientOrderId=list3&workingType=LIMIT&workingSide=BUY"
        "&workingClientOrderId=entry3&workingPrice=66000&workingQuantity=0.01"
        "&workingTimeInForce=GTC&pendingSide=SELL&pendingQuantity=0.01"
        "&pendingAboveType=LIMIT_MAKER&pendingAbovePrice=70000"
        "&pendingBelowType=STOP_LOSS&pendingBelowStopPrice=64000&newOrderRespType=FULL"
    )


def test_a_placed_oco_parses_with_both_legs() -> None:
    placed = OrderList.from_json(DOCS["oco"])
    assert (placed.order_list_id, placed.contingency_type, placed.symbol) == (1, "OCO", "LTCBTC")
    assert (placed.list_status_type, placed.list_order_status) == ("EXEC_STARTED", "EXECUTING")
    assert placed.list_client_order_id == "lH1YDkuQKWiXVXHPSKYEIp"
    assert placed.transaction_time == 1710485608839 and placed.is_open
    assert [o.order_id for o in placed.orders] == [10, 11]
    stop, limit = placed.reports
    assert (stop.type, stop.stop_price, stop.price) == ("STOP_LOSS_LIMIT", D(1), D(1))
    assert stop.order_list_id == 1 and stop.is_working is False  # workingTime -1
    assert (limit.type, limit.stop_price, limit.is_working) == ("LIMIT_MAKER", None, True)


def test_a_placed_otoco_has_a_working_leg_and_two_pending_ones() -> None:
    placed = OrderList.from_json(DOCS["otoco"])
    assert placed.contingency_type == "OTO" and len(placed.orders) == 3
    working, stop, limit = placed.reports
    assert (working.type, working.status, working.is_working) == ("LIMIT", "NEW", True)
    assert (stop.status, stop.stop_price, stop.is_working) == ("PENDING_NEW", D(6), False)
    assert (limit.type, limit.is_working) == ("LIMIT_MAKER", False)


def test_a_queried_list_has_its_orders_but_no_reports() -> None:
    found = OrderList.from_json(DOCS["query"])
    assert found.order_list_id == 27 and found.reports == []
    assert [(o.symbol, o.order_id, o.client_order_id) for o in found.orders] == [
        ("LTCBTC", 4, "qD1gy3kc3Gx0rihm9Y3xwS"),
        ("LTCBTC", 5, "ARzZ9I00CPM8i3NhmU9Ega"),
    ]


def test_open_lists_parse_one_by_one() -> None:
    (only,) = [OrderList.from_json(item) for item in DOCS["open"]]
    assert (only.order_list_id, only.list_client_order_id) == (31, "wuB13fmulKj3YjdqWEcsnp")


def test_a_cancelled_list_reports_both_legs_cancelled() -> None:
    cancelled = OrderList.from_json(DOCS["cancel"])
    assert cancelled.order_list_id == 0  # Binance's first list id is 0, not "no list"
    assert cancelled.list_order_status == "ALL_DONE" and not cancelled.is_open
    assert [r.status for r in cancelled.reports] == ["CANCELED", "CANCELED"]
    assert [r.order_list_id for r in cancelled.reports] == [0, 0]
    assert cancelled.reports[0].orig_client_order_id == "pO9ufTiFGg3nw2fOdgeOXa"


def test_a_single_order_belongs_to_no_list() -> None:
    order = Order.from_json(
        {"symbol": "LTCBTC", "orderId": 1, "orderListId": -1, "clientOrderId": "a",
         "stopPrice": "0.0", "isWorking": True}
    )  # fmt: skip
    assert (order.order_list_id, order.stop_price, order.trailing_delta) == (None, None, None)
    assert order.is_working


def test_a_plain_execution_report_has_no_list_no_stop() -> None:
    report = ExecutionReport.from_json(ORDER_UPDATE)
    assert (report.order_list_id, report.stop_price, report.trailing_delta) == (None, None, None)
    assert report.is_working and report.expiry_reason is None


def test_a_legs_execution_report_carries_its_list_trigger_and_trail() -> None:
    leg = {**ORDER_UPDATE, "o": "STOP_LOSS", "S": "SELL", "g": 2, "P": "64000.00", "d": 150}
    leg |= {"w": False, "x": "EXPIRED", "X": "EXPIRED", "eR": "OCO_TRIGGER"}
    report = ExecutionReport.from_json(leg)
    assert (report.order_list_id, report.stop_price, report.trailing_delta) == (2, D(64000), 150)
    assert report.is_working is False and report.expiry_reason == "OCO_TRIGGER"


def test_a_list_status_event_parses_and_reaches_the_streams_listeners() -> None:
    event = parse_user_event(DOCS["listStatus"])
    assert isinstance(event, ListStatus)
    assert (event.symbol, event.order_list_id, event.contingency_type) == ("ETHBTC", 2, "OCO")
    assert (event.list_status_type, event.list_order_status) == ("EXEC_STARTED", "EXECUTING")
    assert (event.reject_reason, event.list_client_order_id) == ("NONE", "F4QN4G8DlFATFlIUQ0cjdD")
    assert (event.transaction_time, event.event_time) == (1564035303625, 1564035303637)
    assert [o.order_id for o in event.orders] == [17, 18] and not event.is_final


def test_an_all_done_list_status_is_final() -> None:
    done = ListStatus.from_json({**DOCS["listStatus"], "l": "ALL_DONE", "L": "ALL_DONE"})
    assert done.is_final


def test_order_list_endpoints_cost_binances_weights() -> None:
    assert rest_weight("POST", "/api/v3/orderList/oco", {}) == 1
    assert rest_weight("POST", "/api/v3/orderList/otoco", {}) == 1
    assert rest_weight("GET", "/api/v3/orderList", {"orderListId": 1}) == 4
    assert rest_weight("GET", "/api/v3/openOrderList", {}) == 6
    assert rest_weight("DELETE", "/api/v3/orderList", {"symbol": "BTCUSDT"}) == 1


def test_a_missing_order_list_is_an_order_not_found() -> None:
    error = error_from_payload(-2018, "Order list does not exist.", status=400)
    assert isinstance(error, OrderListNotFound) and isinstance(error, OrderNotFound)
    assert error.user_message == "Binance has no such order list."


async def test_an_otoco_counts_three_orders_against_the_order_limit() -> None:
    pacer = OrderPacer(share=1.0, user_wait=0.0, server_time=lambda: 1001.0, limits={10: 5})
    await pacer.acquire("alice", 3)
    await pacer.acquire("alice", 2)  # 5 of 5 in this window
    with pytest.raises(RateLimited, match="only so many new orders"):
        await pacer.acquire("alice", 1)
