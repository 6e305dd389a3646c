"""The simulator's book over real sockets: orders walking `/api/v3/depth`, partial fills.

Each test reads the book as a client would (`GET /api/v3/depth`), computes what Binance would
do with it, and checks the REST replies and the user-data events against that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

import aiohttp
import pytest

from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.binance_wire import (
    DOC_KEY,
    Binance,
    call,
    next_json,
    signed_params,
)

STEP = Decimal("0.00001")  # BTCUSDT's LOT_SIZE step
EIGHT = Decimal("0.00000001")


def up(value: Decimal) -> Decimal:
    return value.quantize(EIGHT, rounding=ROUND_UP)


def down(value: Decimal, step: Decimal = EIGHT) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


async def levels(trader: Binance, side: str) -> list[tuple[Decimal, Decimal]]:
    depth = (await trader.public("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 10})).body
    return [(Decimal(price), Decimal(qty)) for price, qty in depth[side]]


@pytest.fixture
async def user_data(
    exchange: ExchangeSimulator, trader: Binance, session: aiohttp.ClientSession
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A WebSocket API connection subscribed to the trader's user-data stream."""
    async with session.ws_connect(exchange.ws_api_url) as ws:
        subscribed = await call(
            ws, "userDataStream.subscribe.signature", signed_params(trader.signer, DOC_KEY)
        )
        assert subscribed["result"] == {"subscriptionId": 0}
        yield ws


async def events_until(
    ws: aiohttp.ClientWebSocketResponse, last_status: str, count: int = 1
) -> list[dict[str, Any]]:
    """The executionReports received until the `count`-th one with status `last_status`."""
    reports: list[dict[str, Any]] = []
    while count:
        event = (await next_json(ws)).get("event", {})
        if event.get("e") == "executionReport":
            reports.append(event)
            count -= event["X"] == last_status
    return reports


async def test_a_market_buy_walks_three_levels_over_rest(
    exchange: ExchangeSimulator,
    trader: Binance,
    user_data: aiohttp.ClientWebSocketResponse,
) -> None:
    exchange.set_price("BTCUSDT", Decimal(60000))
    asks = await levels(trader, "asks")
    third = down(asks[2][1] / 2, STEP)
    quantity = asks[0][1] + asks[1][1] + third
    exchange.deposit(DOC_KEY, "USDT", up(asks[2][0] * quantity))
    reply = await trader.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=f"{quantity}")
    body = reply.body
    expected = [(asks[0][0], asks[0][1]), (asks[1][0], asks[1][1]), (asks[2][0], third)]
    assert [(Decimal(f["price"]), Decimal(f["qty"])) for f in body["fills"]] == expected
    assert [Decimal(f["commission"]) for f in body["fills"]] == [
        up(qty * Decimal("0.001")) for _, qty in expected
    ]
    spent = sum(up(price * qty) for price, qty in expected)
    assert body["status"] == "FILLED" and Decimal(body["cummulativeQuoteQty"]) == spent
    assert Decimal(body["executedQty"]) == quantity
    assert asks[0][0] < spent / quantity < asks[2][0]
    reports = await events_until(user_data, "FILLED")
    assert [(r["x"], r["X"]) for r in reports] == [
        ("NEW", "NEW"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("TRADE", "FILLED"),
    ]
    assert [r["t"] for r in reports[1:]] == [f["tradeId"] for f in body["fills"]]
    assert [Decimal(r["L"]) for r in reports[1:]] == [price for price, _ in expected]
    assert Decimal(reports[-1]["Z"]) == spent
    position = (await next_json(user_data))["event"]
    assert position["e"] == "outboundAccountPosition"
    trades = (await trader.signed("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})).body
    assert [t["id"] for t in trades] == [f["tradeId"] for f in body["fills"]]


async def test_a_market_order_past_the_book_expires_partly_filled(
    exchange: ExchangeSimulator,
    trader: Binance,
    user_data: aiohttp.ClientWebSocketResponse,
) -> None:
    exchange.set_price("ETHUSDT", Decimal(3000))
    exchange.book_levels = 2
    depth = (await trader.public("/api/v3/depth", {"symbol": "ETHUSDT"})).body
    visible = sum(Decimal(qty) for _, qty in depth["bids"])
    assert len(depth["bids"]) == 2
    exchange.deposit(DOC_KEY, "ETH", visible)
    reply = await trader.order(
        symbol="ETHUSDT", side="SELL", type="MARKET", quantity=f"{visible + Decimal(1)}"
    )
    assert reply.body["status"] == "EXPIRED" and len(reply.body["fills"]) == 2
    assert Decimal(reply.body["executedQty"]) == visible
    assert exchange.balances(DOC_KEY)["ETH"].free == Decimal(10)
    reports = await events_until(user_data, "EXPIRED")
    assert [(r["x"], r["X"]) for r in reports] == [
        ("NEW", "NEW"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("EXPIRED", "EXPIRED"),
    ]
    assert Decimal(reports[-1]["z"]) == visible


async def test_crossing_limit_orders_gtc_ioc_and_fok(
    exchange: ExchangeSimulator,
    trader: Binance,
) -> None:
    exchange.set_price("BTCUSDT", Decimal(60000))
    asks = await levels(trader, "asks")
    limit = asks[1][0]
    both = asks[0][1] + asks[1][1]
    common = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "price": f"{limit}"}
    exchange.deposit(DOC_KEY, "USDT", limit * (both * 3 + 1))
    gtc = await trader.order(**common, timeInForce="GTC", quantity=f"{both + Decimal('0.01')}")
    ioc = await trader.order(**common, timeInForce="IOC", quantity=f"{both + Decimal('0.01')}")
    fok = await trader.order(**common, timeInForce="FOK", quantity=f"{both + Decimal('0.01')}")
    assert (gtc.body["status"], len(gtc.body["fills"])) == ("PARTIALLY_FILLED", 2)
    assert (ioc.body["status"], Decimal(ioc.body["executedQty"])) == ("EXPIRED", both)
    assert (fok.body["status"], fok.body["executedQty"], fok.body["fills"]) == (
        "EXPIRED",
        "0.00000000",
        [],
    )
    assert exchange.balances(DOC_KEY)["USDT"].locked == Decimal("0.01") * limit
    listed = (await trader.signed("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})).body
    assert [(o["orderId"], o["status"]) for o in listed] == [
        (gtc.body["orderId"], "PARTIALLY_FILLED")
    ]
    assert Decimal(listed[0]["executedQty"]) == both


async def test_a_print_fills_a_resting_order_partly_then_it_is_cancelled(
    exchange: ExchangeSimulator,
    trader: Binance,
    session: aiohttp.ClientSession,
    user_data: aiohttp.ClientWebSocketResponse,
) -> None:
    exchange.set_price("BTCUSDT", Decimal(60000))
    placed = await trader.order(
        symbol="BTCUSDT",
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.1",
        price="61000",
        newClientOrderId="slice-me",
    )
    assert placed.body["status"] == "NEW"
    exchange.set_price("BTCUSDT", Decimal(61000), qty=Decimal("0.03"))
    async with session.post(
        f"{exchange.rest_url}/_sandbox/price",
        json={"symbol": "BTCUSDT", "price": "61500", "qty": "0.02"},
    ) as r:
        assert r.status == 200
    by_id = {"symbol": "BTCUSDT", "origClientOrderId": "slice-me"}
    query = (await trader.signed("GET", "/api/v3/order", by_id)).body
    assert (query["status"], query["executedQty"]) == ("PARTIALLY_FILLED", "0.05000000")
    assert query["cummulativeQuoteQty"] == "3050.00000000"
    assert exchange.balances(DOC_KEY)["BTC"].locked == Decimal("0.05")
    cancel = (await trader.signed("DELETE", "/api/v3/order", by_id)).body
    assert (cancel["status"], cancel["executedQty"]) == ("CANCELED", "0.05000000")
    every = (await trader.signed("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"})).body
    trades = (await trader.signed("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})).body
    assert [(o["status"], o["executedQty"]) for o in every] == [("CANCELED", "0.05000000")]
    assert [(t["qty"], t["price"], t["isMaker"]) for t in trades] == [
        ("0.03000000", "61000.00000000", True),
        ("0.02000000", "61000.00000000", True),
    ]
    balances = exchange.balances(DOC_KEY)
    assert (balances["BTC"].free, balances["BTC"].locked) == (Decimal("0.95"), 0)
    assert balances["USDT"].free == Decimal(10_000) + Decimal(3050) - Decimal("3.05")
    reports = await events_until(user_data, "CANCELED")
    assert [(r["x"], r["X"], r["l"], r["z"]) for r in reports] == [
        ("NEW", "NEW", "0.00000000", "0.00000000"),
        ("TRADE", "PARTIALLY_FILLED", "0.03000000", "0.03000000"),
        ("TRADE", "PARTIALLY_FILLED", "0.02000000", "0.05000000"),
        ("CANCELED", "CANCELED", "0.00000000", "0.05000000"),
    ]
    assert reports[-1]["C"] == "slice-me" and reports[1]["m"] is True
