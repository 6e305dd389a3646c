"""The simulator reads parameters the way Binance does, over real sockets.

A parameter the endpoint or WebSocket API method does not read is -1104, before anything
happens; every parameter Binance documents that the simulator implements is read, including
`symbolStatus`, `permissions`, `showPermissionSets` and `cancelRestrictions`. Requests are
built by hand (tests/e2e/binance_wire.py's `Binance` caller), not with the client.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from chatbot.exchange.signing import ws_payload
from chatbot.sandbox.exchange import ExchangeSimulator
from chatbot.sandbox.exchange.params import declared_reads
from chatbot.sandbox.exchange.wsapi import READS
from tests.e2e.binance_wire import (
    DOC_KEY,
    Binance,
    Reply,
    call,
    error_of,
    next_json,
    now_ms,
    signed_params,
)

UNREAD = "Not all sent parameters were read; read '{}' parameter(s) but was sent '{}'."


def limit(symbol: str, qty: str, price: str, side: str = "BUY", **extra: str) -> dict[str, str]:
    order = {"symbol": symbol, "side": side, "type": "LIMIT", "timeInForce": "GTC"}
    return {**order, "quantity": qty, "price": price, **extra}


# -- -1104: parameters the endpoint does not read -----------------------------------------------


async def test_a_public_call_with_a_stray_parameter_is_1104(trader: Binance) -> None:
    reply = await trader.public("/api/v3/ticker/price", {"symbol": "BTCUSDT", "foo": "1"})
    ping = await trader.public("/api/v3/ping", {"symbol": "BTCUSDT"})
    assert (reply.status, error_of(reply)) == (400, (-1104, UNREAD.format(1, 2)))
    assert error_of(ping) == (-1104, UNREAD.format(0, 1))


@pytest.mark.parametrize("in_body", [False, True])
async def test_an_order_with_an_unsimulated_parameter_is_never_placed(
    exchange: ExchangeSimulator, trader: Binance, in_body: bool
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    reply = await trader.signed(
        "POST", "/api/v3/order", {**order, "icebergQty": "0.0001"}, in_body=in_body
    )
    # symbol, side, type, quantity, icebergQty, timestamp, signature: 6 of 7 read
    assert (reply.status, error_of(reply)) == (400, (-1104, UNREAD.format(6, 7)))
    assert exchange.orders_for(DOC_KEY) == []
    assert exchange.balances(DOC_KEY)["USDT"].free == Decimal(10_000)


async def test_an_empty_stray_parameter_still_counts(trader: Binance) -> None:
    reply = await trader.signed("GET", "/api/v3/account", {"omitZeroBalances": "true", "x": ""})
    assert error_of(reply) == (-1104, UNREAD.format(3, 4))


def test_every_binance_route_declares_what_it_reads(exchange: ExchangeSimulator) -> None:
    app = exchange.build_app()
    undeclared = [
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith(("/api/", "/sapi/"))
        and declared_reads(route.handler) is None
    ]
    assert undeclared == []
    assert set(READS) == {
        "ping",
        "time",
        "session.logon",
        "session.status",
        "session.logout",
        "userDataStream.subscribe",
        "userDataStream.subscribe.signature",
        "userDataStream.unsubscribe",
        "session.subscriptions",
    }


async def test_every_documented_parameter_the_simulator_supports_is_read(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    """Each call sends every parameter the simulator implements for that endpoint."""
    exchange.set_price("BTCUSDT", Decimal("65000"))
    now = now_ms()
    window = {"recvWindow": "10000"}
    placed = await trader.order(
        **limit("BTCUSDT", "0.001", "60000", newClientOrderId="all-1", newOrderRespType="RESULT"),
        **window,
    )
    order_id = placed.body["orderId"]
    calls = [
        trader.public("/api/v3/exchangeInfo", {"showPermissionSets": "false"}),
        trader.public(
            "/api/v3/exchangeInfo", {"permissions": '["SPOT"]', "symbolStatus": "TRADING"}
        ),
        trader.public("/api/v3/ticker/24hr", {"symbol": "BTCUSDT", "type": "MINI"}),
        trader.public("/api/v3/ticker/price", {"symbols": '["BTCUSDT"]', "symbolStatus": "BREAK"}),
        trader.public("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"}),
        trader.public("/api/v3/avgPrice", {"symbol": "BTCUSDT"}),
        trader.public("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5}),
        trader.public("/api/v3/trades", {"symbol": "BTCUSDT", "limit": 5}),
        trader.public(
            "/api/v3/klines",
            {
                "symbol": "BTCUSDT",
                "interval": "1m",
                "startTime": now - 600_000,
                "endTime": now,
                "limit": 3,
            },
        ),
        trader.signed("GET", "/api/v3/account", {"omitZeroBalances": "true", **window}),
        trader.signed("GET", "/api/v3/account/commission", {"symbol": "BTCUSDT", **window}),
        trader.signed("GET", "/api/v3/rateLimit/order", window),
        trader.signed("GET", "/sapi/v1/account/apiRestrictions", window),
        trader.signed(
            "POST",
            "/api/v3/order/test",
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "MARKET",
                "quoteOrderQty": "10",
                "newClientOrderId": "t-1",
                "newOrderRespType": "ACK",
                "computeCommissionRates": "true",
                **window,
            },
        ),
        trader.signed(
            "GET",
            "/api/v3/order",
            {"symbol": "BTCUSDT", "orderId": order_id, "origClientOrderId": "all-1", **window},
        ),
        trader.signed("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT", **window}),
        trader.signed(
            "GET",
            "/api/v3/allOrders",
            {
                "symbol": "BTCUSDT",
                "orderId": order_id,
                "startTime": now - 60_000,
                "endTime": now + 60_000,
                "limit": 10,
                **window,
            },
        ),
        trader.signed(
            "GET",
            "/api/v3/myTrades",
            {"symbol": "BTCUSDT", "orderId": order_id, "fromId": 1, "limit": 10, **window},
        ),
        trader.signed(
            "GET",
            "/api/v3/myTrades",
            {"symbol": "BTCUSDT", "startTime": now - 60_000, "endTime": now + 60_000},
        ),
        trader.signed(
            "DELETE",
            "/api/v3/order",
            {
                "symbol": "BTCUSDT",
                "orderId": order_id,
                "origClientOrderId": "all-1",
                "newClientOrderId": "cancel-1",
                "cancelRestrictions": "ONLY_NEW",
                **window,
            },
        ),
    ]
    replies: list[Reply] = [await request for request in calls]
    await trader.order(**limit("ETHUSDT", "0.1", "2000"))
    replies.append(await trader.signed("DELETE", "/api/v3/openOrders", {"symbol": "ETHUSDT"}))
    assert placed.status == 200
    assert [(r.status, r.body) for r in replies if r.status != 200] == []
    assert replies[-2].body["clientOrderId"] == "cancel-1"


async def test_cancel_restrictions_are_checked(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    await trader.order(**limit("BTCUSDT", "0.001", "60000", newClientOrderId="r-1"))
    target = {"symbol": "BTCUSDT", "origClientOrderId": "r-1"}
    partial = await trader.signed(
        "DELETE", "/api/v3/order", {**target, "cancelRestrictions": "ONLY_PARTIALLY_FILLED"}
    )
    bad = await trader.signed("DELETE", "/api/v3/order", {**target, "cancelRestrictions": "NEW"})
    assert error_of(partial) == (-2011, "Order was not canceled due to cancel restrictions.")
    assert bad.body["code"] == -1145
    assert exchange.orders_for(DOC_KEY)[0].status == "NEW"


async def test_websocket_api_methods_refuse_unread_parameters(
    exchange: ExchangeSimulator, trader: Binance, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(exchange.ws_api_url) as ws:
        ping = await call(ws, "ping", {"verbose": True})
        extra = await call(
            ws,
            "userDataStream.subscribe.signature",
            signed_params(trader.signer, DOC_KEY, listenKey="x"),
        )
        windowed = await call(
            ws,
            "userDataStream.subscribe.signature",
            signed_params(trader.signer, DOC_KEY, recvWindow=10_000),
        )
        listed = await call(ws, "session.subscriptions")
    assert (ping["status"], ping["error"]) == (400, {"code": -1104, "msg": UNREAD.format(0, 1)})
    assert extra["error"] == {"code": -1104, "msg": UNREAD.format(3, 4)}
    assert windowed["result"] == {"subscriptionId": 0}
    assert listed["result"] == [{"subscriptionId": 0}]


async def test_a_websocket_decimal_is_verified_as_it_was_written(
    exchange: ExchangeSimulator, trader: Binance, session: aiohttp.ClientSession
) -> None:
    """`"recvWindow": 10000.50` is signed as `10000.50`, not as Python's `10000.5`."""
    params: dict[str, Any] = {"apiKey": DOC_KEY, "timestamp": now_ms()}
    payload = ws_payload({**params, "recvWindow": "10000.50"})
    signature = trader.signer.sign(payload)
    text = json.dumps({**params, "signature": signature})[:-1] + ', "recvWindow": 10000.50}'
    request = '{"id": 7, "method": "userDataStream.subscribe.signature", "params": ' + text + "}"
    async with session.ws_connect(exchange.ws_api_url) as ws:
        await ws.send_str(request)
        answer = await next_json(ws)
    assert answer["result"] == {"subscriptionId": 0}


# -- symbolStatus -------------------------------------------------------------------------------


async def test_symbol_status_filters_tickers_and_exchange_info(trader: Binance) -> None:
    one = await trader.public(
        "/api/v3/ticker/price", {"symbol": "LUNAUSDT", "symbolStatus": "TRADING"}
    )
    broken = (await trader.public("/api/v3/ticker/price", {"symbolStatus": "BREAK"})).body
    some = await trader.public(
        "/api/v3/ticker/24hr", {"symbols": '["BTCUSDT","LUNAUSDT"]', "symbolStatus": "TRADING"}
    )
    info = (await trader.public("/api/v3/exchangeInfo", {"symbolStatus": "BREAK"})).body
    mixed = await trader.public(
        "/api/v3/exchangeInfo", {"symbol": "BTCUSDT", "symbolStatus": "TRADING"}
    )
    bad = await trader.public("/api/v3/ticker/price", {"symbolStatus": "OPEN"})
    margin = (await trader.public("/api/v3/exchangeInfo", {"permissions": "MARGIN"})).body
    bare = await trader.public(
        "/api/v3/exchangeInfo", {"symbol": "BTCUSDT", "showPermissionSets": "false"}
    )
    assert error_of(one) == (
        -1220,
        "The symbol's status does not match the requested symbolStatus.",
    )
    assert [t["symbol"] for t in broken] == ["LUNAUSDT"]
    assert [t["symbol"] for t in some.body] == ["BTCUSDT"]
    assert [s["symbol"] for s in info["symbols"]] == ["LUNAUSDT"]
    assert error_of(mixed)[0] == -1128 and error_of(bad)[0] == -1100
    assert margin["symbols"] == []
    assert bare.body["symbols"][0]["permissionSets"] == []
