"""The simulator's stop orders and order lists over real sockets, requests built by hand
(tests/e2e/binance_wire.py), shapes compared with Binance's documented examples
(tests/data/binance_order_lists.json, copied from the documentation's Response examples)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.binance_wire import (
    DOC_KEY,
    Binance,
    call,
    error_of,
    next_json,
    signed_params,
    until_event,
)

DOCS = json.loads((Path(__file__).parent.parent / "data" / "binance_order_lists.json").read_text())


def sell_oco(**extra: Any) -> dict[str, Any]:
    """A SELL OCO of 0.1 BTC at 65 000: take-profit maker at 70 000, stop-limit at 64 000."""
    return {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "quantity": "0.1",
        "aboveType": "LIMIT_MAKER",
        "abovePrice": "70000",
        "belowType": "STOP_LOSS_LIMIT",
        "belowStopPrice": "64000",
        "belowPrice": "63900",
        "belowTimeInForce": "GTC",
        **extra,
    }


async def test_a_stop_limit_order_over_rest_waits_then_triggers_on_a_print(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    """POST /api/v3/order STOP_LOSS_LIMIT answers ACK by default (reference 2.3); the query
    shows stopPrice, isWorking false and workingTime -1 until the print at the stop."""
    exchange.set_price("BTCUSDT", Decimal(65000))
    placed = await trader.order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_LOSS_LIMIT",
        timeInForce="GTC",
        quantity="0.1",
        price="63900",
        stopPrice="64000",
    )
    assert placed.status == 200 and set(placed.body) == {
        "symbol",
        "orderId",
        "orderListId",
        "clientOrderId",
        "transactTime",
    }
    lookup = {"symbol": "BTCUSDT", "orderId": placed.body["orderId"]}
    waiting = (await trader.signed("GET", "/api/v3/order", lookup)).body
    assert (waiting["stopPrice"], waiting["isWorking"], waiting["workingTime"]) == (
        "64000.00000000",
        False,
        -1,
    )
    exchange.set_price("BTCUSDT", Decimal(63950))
    filled = (await trader.signed("GET", "/api/v3/order", lookup)).body
    assert (filled["status"], filled["isWorking"], filled["executedQty"]) == (
        "FILLED",
        True,
        "0.10000000",
    )


async def test_stop_parameters_are_required_and_refused_as_binance_does(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal(65000))
    missing = await trader.order(symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity="0.1")
    extra = await trader.order(
        symbol="BTCUSDT",
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.1",
        price="66000",
        stopPrice="64000",
    )
    wrong_side = await trader.order(
        symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity="0.1", stopPrice="66000"
    )
    assert error_of(missing) == (
        -1102,
        "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!",
    )
    assert error_of(extra) == (-1106, "Parameter 'stopPrice' sent when not required.")
    assert error_of(wrong_side) == (-2010, "Order would trigger immediately.")


async def test_an_oco_answers_in_the_documented_shape_and_counts_two_orders(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    """The response has the keys of the documentation's OCO example (the example's iceberg
    leg aside), the stop leg first, and adds 2 to the unfilled order count."""
    exchange.set_price("BTCUSDT", Decimal(65000))
    reply = await trader.signed("POST", "/api/v3/orderList/oco", sell_oco())
    body, example = reply.body, DOCS["New Order list - OCO (TRADE)"]
    assert reply.status == 200 and list(body) == list(example)
    assert (body["contingencyType"], body["listStatusType"], body["listOrderStatus"]) == (
        "OCO",
        "EXEC_STARTED",
        "EXECUTING",
    )
    stop, maker = body["orderReports"]
    assert set(stop) == set(example["orderReports"][0]) - {"icebergQty"}
    assert set(maker) == set(example["orderReports"][1])
    assert (stop["type"], stop["workingTime"], maker["type"]) == (
        "STOP_LOSS_LIMIT",
        -1,
        "LIMIT_MAKER",
    )
    assert reply.headers["X-MBX-ORDER-COUNT-10S"] == "2"
    assert exchange.balances(DOC_KEY)["BTC"].locked == Decimal("0.1")


async def test_oco_rules_are_refused_with_binances_codes(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal(65000))
    prices = await trader.signed("POST", "/api/v3/orderList/oco", sell_oco(abovePrice="64500"))
    swapped = await trader.signed(
        "POST",
        "/api/v3/orderList/oco",
        sell_oco(aboveType="STOP_LOSS", belowType="LIMIT_MAKER"),
    )
    two_makers = {
        k: v for k, v in sell_oco(belowType="LIMIT_MAKER").items() if "belowTime" not in k
    }
    two_makers.pop("belowStopPrice")
    both = await trader.signed("POST", "/api/v3/orderList/oco", two_makers)
    assert error_of(prices) == (
        -2010,
        "The relationship of the prices for the orders is not correct.",
    )
    assert error_of(swapped) == (-1166, "A limit order in a sell OCO must be above.")
    assert error_of(both) == (-1167, "At least one OCO order must be contingent.")
    assert exchange.balances(DOC_KEY)["BTC"].locked == 0


async def test_cancelling_one_leg_cancels_the_list_and_answers_with_it(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    """ "Canceling an individual order from an order list will cancel the entire order list":
    DELETE /api/v3/order on a leg answers in the shape of Cancel Order list."""
    exchange.set_price("BTCUSDT", Decimal(65000))
    placed = (await trader.signed("POST", "/api/v3/orderList/oco", sell_oco())).body
    leg_id = placed["orders"][1]["orderId"]
    reply = await trader.signed("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": leg_id})
    body, example = reply.body, DOCS["Cancel Order list (TRADE)"]
    assert list(body) == list(example)
    assert (body["listStatusType"], body["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
    assert [r["status"] for r in body["orderReports"]] == ["CANCELED", "CANCELED"]
    assert set(body["orderReports"][1]) == set(example["orderReports"][1])
    assert exchange.balances(DOC_KEY)["BTC"].locked == 0
    again = await trader.signed(
        "DELETE", "/api/v3/orderList", {"symbol": "BTCUSDT", "orderListId": placed["orderListId"]}
    )
    assert error_of(again) == (-2011, "Order list does not exist.")


async def test_order_lists_are_queried_by_id_client_id_and_open(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal(65000))
    placed = (
        await trader.signed("POST", "/api/v3/orderList/oco", sell_oco(listClientOrderId="exit-1"))
    ).body
    by_id = await trader.signed("GET", "/api/v3/orderList", {"orderListId": placed["orderListId"]})
    by_client = await trader.signed("GET", "/api/v3/orderList", {"origClientOrderId": "exit-1"})
    open_lists = await trader.signed("GET", "/api/v3/openOrderList")
    assert list(by_id.body) == list(DOCS["Query Order list (USER_DATA)"])
    assert by_id.body == by_client.body and by_id.body["listClientOrderId"] == "exit-1"
    assert open_lists.body == [by_id.body]
    assert list(open_lists.body[0]) == list(DOCS["Query Open Order lists (USER_DATA)"][0])
    missing = await trader.signed("GET", "/api/v3/orderList", {"orderListId": 999})
    assert error_of(missing) == (-2013, "Order list does not exist.")
    await trader.signed(
        "DELETE", "/api/v3/orderList", {"symbol": "BTCUSDT", "listClientOrderId": "exit-1"}
    )
    assert (await trader.signed("GET", "/api/v3/openOrderList")).body == []


async def test_an_otoco_answers_like_the_documentation_and_counts_three(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    """OTOCO: contingencyType OTO, the working order NEW, the pending pair PENDING_NEW."""
    exchange.set_price("BTCUSDT", Decimal(65000))
    reply = await trader.signed(
        "POST",
        "/api/v3/orderList/otoco",
        {
            "symbol": "BTCUSDT",
            "workingType": "LIMIT",
            "workingSide": "BUY",
            "workingPrice": "64000",
            "workingQuantity": "0.1",
            "workingTimeInForce": "GTC",
            "pendingSide": "SELL",
            "pendingQuantity": "0.0999",
            "pendingAboveType": "LIMIT_MAKER",
            "pendingAbovePrice": "70000",
            "pendingBelowType": "STOP_LOSS",
            "pendingBelowStopPrice": "62000",
        },
    )
    body, example = reply.body, DOCS["New Order list - OTOCO (TRADE)"]
    assert reply.status == 200 and list(body) == list(example)
    assert body["contingencyType"] == "OTO"
    assert [r["status"] for r in body["orderReports"]] == ["NEW", "PENDING_NEW", "PENDING_NEW"]
    assert reply.headers["X-MBX-ORDER-COUNT-10S"] == "3"


async def test_an_oco_take_profit_reaches_the_user_data_stream_as_binance_tells_it(
    exchange: ExchangeSimulator, trader: Binance, session: aiohttp.ClientSession
) -> None:
    """Over the WebSocket API's user-data stream: placement (each leg NEW, then listStatus
    EXEC_STARTED), then the take-profit's print: the stop EXPIRED (OCO_TRIGGER), the
    maker's TRADE, listStatus ALL_DONE naming both legs, then the balances."""
    exchange.set_price("BTCUSDT", Decimal(65000))
    async with session.ws_connect(exchange.ws_api_url) as ws:
        await call(ws, "userDataStream.subscribe.signature", signed_params(trader.signer, DOC_KEY))
        placed = (await trader.signed("POST", "/api/v3/orderList/oco", sell_oco())).body
        started = await until_event(ws, "listStatus")
        exchange.set_price("BTCUSDT", Decimal(70000))
        events = [(await next_json(ws))["event"] for _ in range(4)]
    stop_id, maker_id = (o["orderId"] for o in placed["orders"])
    assert (started["event"]["l"], started["event"]["L"]) == ("EXEC_STARTED", "EXECUTING")
    assert [(e["e"], e.get("x"), e.get("i")) for e in events] == [
        ("executionReport", "EXPIRED", stop_id),
        ("executionReport", "TRADE", maker_id),
        ("listStatus", None, None),
        ("outboundAccountPosition", None, None),
    ]
    expired, trade, done, _ = events
    assert (expired["eR"], expired["g"], trade["g"]) == (
        "OCO_TRIGGER",
        placed["orderListId"],
        placed["orderListId"],
    )
    assert (done["l"], done["L"], done["c"]) == ("ALL_DONE", "ALL_DONE", "OCO")
    assert [o["i"] for o in done["O"]] == [stop_id, maker_id]
    assert exchange.balances(DOC_KEY)["BTC"].locked == 0


async def test_cancel_open_orders_answers_a_list_once_and_plain_orders_as_orders(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    """DELETE /api/v3/openOrders: an order list's legs come back as one Cancel Order list
    object, other orders as cancelled orders (reference 2.2)."""
    exchange.set_price("BTCUSDT", Decimal(65000))
    await trader.signed("POST", "/api/v3/orderList/oco", sell_oco())
    await trader.order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="60000",
    )
    reply = await trader.signed("DELETE", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
    lists = [body for body in reply.body if "orderListId" in body and "orderReports" in body]
    plain = [body for body in reply.body if "orderReports" not in body]
    assert len(lists) == 1 and len(plain) == 1 and plain[0]["status"] == "CANCELED"
    assert [r["status"] for r in lists[0]["orderReports"]] == ["CANCELED", "CANCELED"]
    balances = exchange.balances(DOC_KEY)
    assert balances["BTC"].locked == 0 and balances["USDT"].locked == 0
