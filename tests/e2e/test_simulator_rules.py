"""The simulator refuses what Binance refuses, over real sockets.

Unread parameters (-1104, REST and WebSocket API), the edge-case symbols (BNBIDR, XRPTRY,
LUNAUSDT, FETUSDT), exchange filters lowered on a running simulator, `symbolStatus`, and the
quote-amount MARKET order whose rounded quantity falls under the minimum notional. Requests
are built by hand (tests/e2e/test_simulator.py's `Binance` caller), not with the client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from chatbot.exchange.signing import HmacSigner, ws_payload
from chatbot.sandbox.exchange import ExchangeSimulator
from chatbot.sandbox.exchange.params import declared_reads
from chatbot.sandbox.exchange.wsapi import READS
from tests.e2e.test_simulator import (
    DOC_KEY,
    DOC_SECRET,
    FUNDS,
    Binance,
    Reply,
    call,
    error_of,
    next_json,
    now_ms,
    signed_params,
)

UNREAD = "Not all sent parameters were read; read '{}' parameter(s) but was sent '{}'."


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def trader(exchange: ExchangeSimulator, session: aiohttp.ClientSession) -> Binance:
    """The documentation's HMAC key, with 10 000 USDT, 1 BTC and 10 ETH (and some FET)."""
    exchange.add_account(DOC_KEY, secret=DOC_SECRET, balances={**FUNDS, "FET": Decimal(900)})
    return Binance(session, exchange.rest_url, DOC_KEY, HmacSigner(SecretStr(DOC_SECRET)))


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


# -- the edge-case symbols ----------------------------------------------------------------------


async def test_exchange_info_lists_the_edge_cases_and_exchange_filters(trader: Binance) -> None:
    info = (await trader.public("/api/v3/exchangeInfo")).body
    symbols = {s["symbol"]: s for s in info["symbols"]}
    assert len(symbols) == 30 and {"BNBIDR", "XRPTRY", "LUNAUSDT", "FETUSDT"} <= set(symbols)
    assert info["exchangeFilters"] == [
        {"filterType": "EXCHANGE_MAX_NUM_ORDERS", "maxNumOrders": 1000},
        {"filterType": "EXCHANGE_MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 200},
    ]

    def filters(name: str) -> dict[str, dict[str, Any]]:
        return {f["filterType"]: f for f in symbols[name]["filters"]}

    assert filters("BNBIDR")["PRICE_FILTER"]["tickSize"] == "10.00000000"
    assert filters("BNBIDR")["NOTIONAL"]["minNotional"] == "20000.00000000"
    assert "NOTIONAL" not in filters("XRPTRY") and "PERCENT_PRICE_BY_SIDE" not in filters("XRPTRY")
    assert filters("XRPTRY")["PERCENT_PRICE"]["avgPriceMins"] == 0
    assert filters("XRPTRY")["MIN_NOTIONAL"]["avgPriceMins"] == 1
    assert symbols["LUNAUSDT"]["status"] == "BREAK"
    assert filters("FETUSDT")["MAX_POSITION"] == {
        "filterType": "MAX_POSITION",
        "maxPosition": "1000.00000000",
    }
    assert set(symbols["BNBIDR"]) == set(symbols["BTCUSDT"])  # the same complete shape


async def test_a_market_on_break_takes_no_new_orders_but_cancels(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.deposit(DOC_KEY, "LUNA", Decimal(1000))
    closed = await trader.order(**limit("LUNAUSDT", "100", "0.3512"))
    exchange.catalog.set_status("LUNAUSDT", "TRADING")
    resting = await trader.order(**limit("LUNAUSDT", "100", "0.4000", side="SELL"))
    exchange.catalog.set_status("LUNAUSDT", "BREAK")
    again = await trader.order(symbol="LUNAUSDT", side="SELL", type="MARKET", quantity="100")
    cancel = await trader.signed(
        "DELETE", "/api/v3/order", {"symbol": "LUNAUSDT", "orderId": resting.body["orderId"]}
    )
    assert error_of(closed) == error_of(again) == (-2010, "Market is closed.")
    assert resting.status == 200 and cancel.body["status"] == "CANCELED"
    assert exchange.balances(DOC_KEY)["LUNA"].free == Decimal(1000)


async def test_bnbidr_prices_are_multiples_of_ten(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.deposit(DOC_KEY, "IDR", Decimal(100_000_000))
    off_grid = await trader.order(**limit("BNBIDR", "1", "9876545"))
    fraction = await trader.order(**limit("BNBIDR", "1.5", "9876540"))
    placed = await trader.order(**limit("BNBIDR", "1", "9876540"))
    assert error_of(off_grid) == (-1013, "Filter failure: PRICE_FILTER")
    assert error_of(fraction) == (-1013, "Filter failure: LOT_SIZE")
    assert placed.status == 200 and placed.body["price"] == "9876540.00000000"


async def test_xrptry_bands_a_limit_price_around_the_last_price(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    """PERCENT_PRICE has avgPriceMins 0: a small print at 400 moves the band to 80-2000 at
    once, although the 5-minute average is still near the opening 87.12."""
    exchange.deposit(DOC_KEY, "TRY", Decimal(10_000))
    exchange.market.set_price("XRPTRY", Decimal(400), Decimal("0.1"))
    average = Decimal((await trader.public("/api/v3/avgPrice", {"symbol": "XRPTRY"})).body["price"])
    inside = await trader.order(**limit("XRPTRY", "1", "1500"))
    above = await trader.order(**limit("XRPTRY", "1", "2000.01"))
    assert average * 5 < 1500  # by the 5-minute average this price would be out of band
    assert inside.status == 200
    assert error_of(above) == (-1013, "Filter failure: PERCENT_PRICE")


async def test_fetusdt_caps_open_orders_and_position(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    first = await trader.order(**limit("FETUSDT", "50", "1.200"))
    too_big = await trader.order(**limit("FETUSDT", "60", "1.200"))  # 900 + 50 + 60 > 1000
    second = await trader.order(**limit("FETUSDT", "50", "1.200"))
    third = await trader.order(**limit("FETUSDT", "10", "1.300", side="SELL"))
    assert first.status == second.status == 200
    assert error_of(too_big) == (-1013, "Filter failure: MAX_POSITION")
    assert error_of(third) == (-1013, "Filter failure: MAX_NUM_ORDERS")


async def test_exchange_filters_lowered_on_a_running_simulator(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    exchange.set_price("ETHUSDT", Decimal("3000"))
    exchange.catalog.set_exchange_filter("EXCHANGE_MAX_NUM_ORDERS", maxNumOrders=2)
    await trader.order(**limit("BTCUSDT", "0.001", "60000"))
    await trader.order(**limit("ETHUSDT", "0.1", "2900"))
    third = await trader.order(**limit("ETHUSDT", "0.1", "2800"))
    market = await trader.order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.01")
    info = (await trader.public("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})).body
    assert error_of(third) == error_of(market) == (-1013, "Filter failure: EXCHANGE_MAX_NUM_ORDERS")
    assert info["exchangeFilters"][0] == {
        "filterType": "EXCHANGE_MAX_NUM_ORDERS",
        "maxNumOrders": 2,
    }


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


# -- quoteOrderQty: the quantity it buys, not the amount, meets the minimum notional -----------


@pytest.mark.parametrize(("price", "accepted"), [("71428", False), ("71429", True)])
async def test_quote_order_qty_is_judged_by_its_rounded_quantity(
    exchange: ExchangeSimulator, trader: Binance, price: str, accepted: bool
) -> None:
    """quoteOrderQty=5.20 BUY on BTCUSDT (NOTIONAL min 5, step 0.00001): the order buys
    floor(5.20 / ask) = 0.00007 BTC. × 71428 that is 4.99996 (under 5: refused); × 71429 it
    is 5.00003 (filled). Checking the quote amount, 5.20, would have accepted both."""
    exchange.spread = Decimal(0)  # the ask is the last price
    exchange.market.set_price("BTCUSDT", Decimal(price), Decimal(10**9))  # outweighs the rest
    average = Decimal(
        (await trader.public("/api/v3/avgPrice", {"symbol": "BTCUSDT"})).body["price"]
    )
    assert exchange.book_top("BTCUSDT").ask == Decimal(price)
    assert (Decimal("0.00007") * average >= 5) is accepted  # the case is the one described
    reply = await trader.order(symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty="5.20")
    if accepted:
        assert (reply.status, reply.body["origQty"]) == (200, "0.00007000")
        assert reply.body["origQuoteOrderQty"] == "5.20000000"
    else:
        assert (reply.status, error_of(reply)) == (400, (-1013, "Filter failure: NOTIONAL"))
        assert exchange.orders_for(DOC_KEY) == []
