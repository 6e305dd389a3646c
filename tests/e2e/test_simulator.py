"""The exchange simulator, over real sockets: Binance's REST, streams and WebSocket API.

Requests are built by hand (tests/e2e/binance_wire.py: aiohttp and the signing helpers, not the
project's client), so these tests pin the wire format the client will be written against.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import yarl
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from chatbot.exchange.signing import (
    Ed25519Signer,
    HmacSigner,
    RsaSigner,
    Signer,
)
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.binance_wire import (
    DOC_KEY,
    DOC_SECRET,
    FUNDS,
    WAIT,
    Binance,
    ExchangeFactory,
    call,
    error_of,
    next_json,
    now_ms,
    signed_params,
    until_event,
)
from tests.keys import public_key_pem

# The FIX-API Ed25519 key of the documentation (reference/binance-spot.md, 1.5).
ED_KEY = "4yNzx3yWC5bS6YTwEkSRaC0nRmSQIIStAUOh1b6kqaBrTLIhjCpI5lJH8q8R8WNO"
ED_PRIVATE = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9Dvy+qa8WEf0lQOl1s4CLIAB9m89u\n"
    "-----END PRIVATE KEY-----"
)


# -- public endpoints ---------------------------------------------------------------------------


async def test_ping_and_time_are_json_with_binance_headers(trader: Binance) -> None:
    ping = await trader.public("/api/v3/ping")
    clock = await trader.public("/api/v3/time")
    assert ping.status == 200 and ping.body == {}
    assert ping.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert abs(clock.body["serverTime"] - now_ms()) < 10_000
    assert int(ping.headers["X-MBX-USED-WEIGHT-1M"]) >= 1
    assert clock.headers["x-mbx-used-weight"] == clock.headers["X-MBX-USED-WEIGHT-1M"]


async def test_exchange_info_lists_real_symbols_with_their_filters(trader: Binance) -> None:
    info = (await trader.public("/api/v3/exchangeInfo")).body
    names = [s["symbol"] for s in info["symbols"]]
    assert len(names) >= 20 and {"BTCUSDT", "ETHUSDT", "DOGEUSDT", "ETHBTC", "BNBBTC"} <= set(names)
    assert info["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert "_source" not in info and "这是测试币456" not in names  # testnet-only symbol

    one = (await trader.public("/api/v3/exchangeInfo", {"symbol": "ETHBTC"})).body
    some = await trader.public("/api/v3/exchangeInfo", {"symbols": '["BTCUSDT","BNBBTC"]'})
    assert [s["symbol"] for s in one["symbols"]] == ["ETHBTC"]
    assert [s["symbol"] for s in some.body["symbols"]] == ["BTCUSDT", "BNBBTC"]


async def test_unknown_symbol_and_malformed_symbols_list(trader: Binance) -> None:
    unknown = await trader.public("/api/v3/ticker/price", {"symbol": "NOPEUSDT"})
    malformed = await trader.public("/api/v3/exchangeInfo", {"symbols": "[BTCUSDT"})
    assert (unknown.status, error_of(unknown)) == (400, (-1121, "Invalid symbol."))
    assert malformed.body["code"] == -1100


async def test_price_book_and_average_tickers(exchange: ExchangeSimulator, trader: Binance) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    price = (await trader.public("/api/v3/ticker/price", {"symbol": "BTCUSDT"})).body
    prices = (
        await trader.public("/api/v3/ticker/price", {"symbols": '["BTCUSDT","ETHUSDT"]'})
    ).body
    every = (await trader.public("/api/v3/ticker/price")).body
    book = (await trader.public("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})).body
    avg = (await trader.public("/api/v3/avgPrice", {"symbol": "BTCUSDT"})).body
    assert price == {"symbol": "BTCUSDT", "price": "65000.00000000"}
    assert [p["symbol"] for p in prices] == ["BTCUSDT", "ETHUSDT"] and len(every) >= 20
    assert list(book) == ["symbol", "bidPrice", "bidQty", "askPrice", "askQty"]
    assert Decimal(book["bidPrice"]) < Decimal(65000) < Decimal(book["askPrice"])
    assert book["askPrice"] == f"{exchange.book_top('BTCUSDT').ask:.8f}"
    assert list(avg) == ["mins", "price", "closeTime"] and avg["mins"] == 5


async def test_24h_ticker_agrees_with_the_market(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("ETHUSDT", Decimal("3300.12"))
    full = (await trader.public("/api/v3/ticker/24hr", {"symbol": "ETHUSDT"})).body
    mini = (await trader.public("/api/v3/ticker/24hr", {"symbol": "ETHUSDT", "type": "MINI"})).body
    assert list(full)[:6] == [
        "symbol",
        "priceChange",
        "priceChangePercent",
        "weightedAvgPrice",
        "prevClosePrice",
        "lastPrice",
    ]
    assert list(full)[-3:] == ["firstId", "lastId", "count"]
    assert full["lastPrice"] == "3300.12000000"
    assert Decimal(full["lowPrice"]) <= Decimal("3300.12") <= Decimal(full["highPrice"])
    change = Decimal(full["lastPrice"]) - Decimal(full["openPrice"])
    assert Decimal(full["priceChange"]) == change
    assert full["closeTime"] - full["openTime"] == 86_400_000
    assert "bidPrice" not in mini and mini["lastPrice"] == full["lastPrice"]


async def test_depth_and_recent_trades(exchange: ExchangeSimulator, trader: Binance) -> None:
    exchange.set_price("BNBUSDT", Decimal("600.5"))
    depth = (await trader.public("/api/v3/depth", {"symbol": "BNBUSDT", "limit": 5})).body
    trades = (await trader.public("/api/v3/trades", {"symbol": "BNBUSDT", "limit": 3})).body
    bids = [Decimal(price) for price, _ in depth["bids"]]
    asks = [Decimal(price) for price, _ in depth["asks"]]
    assert (
        len(bids) == len(asks) == 5 and bids == sorted(bids, reverse=True) and asks == sorted(asks)
    )
    assert bids[0] < Decimal("600.5") < asks[0]
    assert len(trades) == 3 and [t["id"] for t in trades] == sorted(t["id"] for t in trades)
    assert trades[-1]["price"] == "600.50000000"
    assert set(trades[0]) == {
        "id",
        "price",
        "qty",
        "quoteQty",
        "time",
        "isBuyerMaker",
        "isBestMatch",
    }


async def test_klines_select_like_binance_and_end_at_the_price(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("70000"))
    default = (await trader.public("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h"})).body
    most = await trader.public(
        "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1d", "limit": 5000}
    )
    start = default[10][0]
    window = await trader.public(
        "/api/v3/klines",
        {
            "symbol": "BTCUSDT",
            "interval": "1h",
            "startTime": start,
            "endTime": start + 3 * 3_600_000,
        },
    )
    assert len(default) == 500 and len(default[0]) == 12 and len(most.body) == 1000
    assert [k[0] for k in window.body] == [start + i * 3_600_000 for i in range(4)]
    assert default[-1][4] == "70000.00000000" and Decimal(default[-1][2]) >= 70000
    assert all(Decimal(k[3]) <= min(Decimal(k[1]), Decimal(k[4])) for k in default)
    assert all(k[6] == k[0] + 3_599_999 for k in default)


async def test_klines_errors(trader: Binance) -> None:
    bad = await trader.public("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1H"})
    missing = await trader.public("/api/v3/klines", {"symbol": "BTCUSDT"})
    backwards = await trader.public(
        "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "startTime": 2, "endTime": 1}
    )
    assert error_of(bad) == (-1120, "Invalid interval.")
    assert error_of(missing) == (
        -1102,
        "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
    )
    assert backwards.body["code"] == -1023


# -- security -----------------------------------------------------------------------------------


async def test_account_shape_and_omit_zero_balances(trader: Binance) -> None:
    full = (await trader.signed("GET", "/api/v3/account")).body
    slim = (await trader.signed("GET", "/api/v3/account", {"omitZeroBalances": "true"})).body
    assert list(full)[:5] == [
        "makerCommission",
        "takerCommission",
        "buyerCommission",
        "sellerCommission",
        "commissionRates",
    ]
    assert full["commissionRates"]["taker"] == "0.00100000" and full["makerCommission"] == 10
    assert full["canTrade"] is True and full["canWithdraw"] is False
    assert full["permissions"] == ["SPOT"] and full["accountType"] == "SPOT"
    assert len(full["balances"]) > len(slim["balances"])
    assert {b["asset"]: b["free"] for b in slim["balances"]} == {
        "USDT": "10000.00000000",
        "BTC": "1.00000000",
        "ETH": "10.00000000",
    }


async def test_a_wrong_signature_is_1022(trader: Binance) -> None:
    reply = await trader.signed("GET", "/api/v3/account", tamper=True)
    assert (reply.status, error_of(reply)) == (
        400,
        (-1022, "Signature for this request is not valid."),
    )


async def test_signature_covers_query_then_body_as_sent(trader: Binance) -> None:
    """Documentation vector C: query and body concatenated without a separator."""
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    body = f"quantity=0.001&price=60000&recvWindow=5000&timestamp={now_ms()}"
    signature = trader.signer.sign(query + body)
    async with trader.session.post(
        yarl.URL(f"{trader.base}/api/v3/order?{query}", encoded=True),
        data=f"{body}&signature={signature}",
        headers={"X-MBX-APIKEY": DOC_KEY, "Content-Type": "application/x-www-form-urlencoded"},
    ) as response:
        placed = await response.json()
    assert response.status == 200 and placed["status"] == "NEW"


async def test_params_in_the_body_alone_are_accepted(trader: Binance) -> None:
    reply = await trader.signed(
        "POST",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"},
        in_body=True,
    )
    assert reply.status == 200 and reply.body["status"] == "FILLED"


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
async def test_public_key_signatures_are_percent_encoded_base64(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession, kind: str
) -> None:
    if kind == "ed25519":
        private = ED_PRIVATE
        signer: Signer = Ed25519Signer(SecretStr(private))
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        signer = RsaSigner(SecretStr(private))
    exchange.add_account(ED_KEY, public_key_pem=public_key_pem(private))
    client = Binance(session, exchange.rest_url, ED_KEY, signer)
    good = await client.signed("GET", "/api/v3/account")
    bad = await client.signed("GET", "/api/v3/account", tamper=True)
    assert good.status == 200 and bad.body["code"] == -1022


async def test_timestamp_window_is_binances(exchange: ExchangeSimulator, trader: Binance) -> None:
    ahead = await trader.signed("GET", "/api/v3/account", timestamp=now_ms() + 5_000)
    stale = await trader.signed("GET", "/api/v3/account", timestamp=now_ms() - 10_000)
    wide = await trader.signed(
        "GET", "/api/v3/account", {"recvWindow": 60_000}, timestamp=now_ms() - 10_000
    )
    too_wide = await trader.signed("GET", "/api/v3/account", {"recvWindow": 60_001})
    assert error_of(ahead) == (
        -1021,
        "Timestamp for this request was 1000ms ahead of the server's time.",
    )
    assert error_of(stale) == (-1021, "Timestamp for this request is outside of the recvWindow.")
    assert ahead.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert wide.status == 200 and too_wide.body["code"] == -1102


async def test_clock_skew_moves_the_servers_clock(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.clock_skew_ms = -3_000
    behind = await trader.signed("GET", "/api/v3/account")
    exchange.clock_skew_ms = 6_000
    ahead = await trader.signed("GET", "/api/v3/account")
    assert behind.body["code"] == -1021 and "ahead" in behind.body["msg"]
    assert ahead.body["code"] == -1021 and "recvWindow" in ahead.body["msg"]


@pytest.mark.parametrize(
    ("api_key", "code"), [(None, -2015), ("unknownkey", -2015), ("bad key!", -2014)]
)
async def test_api_key_errors_are_401(trader: Binance, api_key: str | None, code: int) -> None:
    async with trader.session.get(
        f"{trader.base}/api/v3/account?timestamp={now_ms()}&signature=00",
        headers={} if api_key is None else {"X-MBX-APIKEY": api_key},
    ) as response:
        body = await response.json()
    assert (response.status, body["code"]) == (401, code)


async def test_a_read_only_key_cannot_trade(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    exchange.add_account("readonly", secret="s3cret", balances=FUNDS, can_trade=False)
    client = Binance(session, exchange.rest_url, "readonly", HmacSigner(SecretStr("s3cret")))
    reply = await client.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    assert (reply.status, reply.body["code"]) == (401, -2015)
    assert exchange.orders_for("readonly") == []


# -- orders -------------------------------------------------------------------------------------


async def test_market_buy_fills_at_the_ask_less_commission(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    ask = exchange.book_top("BTCUSDT").ask
    reply = await trader.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    body = reply.body
    assert reply.headers["X-MBX-ORDER-COUNT-10S"] == "1" and "X-MBX-ORDER-COUNT-1D" in reply.headers
    assert body["status"] == "FILLED" and body["type"] == "MARKET" and body["price"] == "0.00000000"
    assert body["fills"] == [
        {
            "price": f"{ask:.8f}",
            "qty": "0.01000000",
            "commission": "0.00001000",
            "commissionAsset": "BTC",
            "tradeId": body["fills"][0]["tradeId"],
        }
    ]
    balances = exchange.balances(DOC_KEY)
    assert balances["USDT"].free == Decimal(10_000) - ask * Decimal("0.01")
    assert balances["BTC"].free == Decimal("1.00999")


async def test_market_sell_by_quote_quantity_rounds_down_to_the_step(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("ETHUSDT", Decimal("3000"))
    bid = exchange.book_top("ETHUSDT").bid
    reply = await trader.order(symbol="ETHUSDT", side="SELL", type="MARKET", quoteOrderQty="100")
    quantity = (Decimal(100) / bid).quantize(Decimal("0.0001"), rounding="ROUND_DOWN")
    proceeds = quantity * bid
    assert (
        reply.body["origQty"] == f"{quantity:.8f}"
        and reply.body["origQuoteOrderQty"] == "100.00000000"
    )
    assert reply.body["cummulativeQuoteQty"] == f"{proceeds:.8f}"
    assert exchange.balances(DOC_KEY)["ETH"].free == Decimal(10) - quantity
    assert exchange.balances(DOC_KEY)["USDT"].free == Decimal(10_000) + proceeds - proceeds / 1000


async def test_limit_order_rests_locked_and_fills_when_the_price_crosses(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    placed = await trader.order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="64000",
    )
    assert placed.body["status"] == "NEW" and placed.body["fills"] == []
    assert exchange.balances(DOC_KEY)["USDT"].locked == Decimal(640)

    exchange.set_price("BTCUSDT", Decimal("64000.01"))
    assert exchange.orders_for(DOC_KEY)[0].status == "NEW"
    exchange.set_price("BTCUSDT", Decimal("63999"))

    order = (
        await trader.signed(
            "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": placed.body["orderId"]}
        )
    ).body
    trades = (await trader.signed("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})).body
    assert order["status"] == "FILLED" and order["executedQty"] == "0.01000000"
    assert order["cummulativeQuoteQty"] == "640.00000000"
    assert trades[-1]["price"] == "64000.00000000" and trades[-1]["isMaker"] is True
    balances = exchange.balances(DOC_KEY)
    assert balances["USDT"].locked == 0 and balances["USDT"].free == Decimal(9_360)


async def test_a_marketable_limit_order_takes_at_the_ask(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    ask = exchange.book_top("BTCUSDT").ask
    reply = await trader.order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="66000",
    )
    assert reply.body["status"] == "FILLED" and reply.body["fills"][0]["price"] == f"{ask:.8f}"


async def test_limit_maker_that_would_take_and_unmarketable_ioc(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    maker = await trader.order(
        symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.001", price="66000"
    )
    ioc = await trader.order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="IOC",
        quantity="0.001",
        price="64000",
    )
    assert error_of(maker) == (-2010, "Order would immediately match and take.")
    assert ioc.body["status"] == "EXPIRED" and exchange.balances(DOC_KEY)["USDT"].locked == 0


async def test_cancel_unlocks_and_unknown_orders(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    await trader.order(
        symbol="BTCUSDT",
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.1",
        price="70000",
        newClientOrderId="ticket-1",
    )
    assert exchange.balances(DOC_KEY)["BTC"].locked == Decimal("0.1")
    by_client_id = {"symbol": "BTCUSDT", "origClientOrderId": "ticket-1"}
    found = await trader.signed("GET", "/api/v3/order", by_client_id)
    cancel = await trader.signed("DELETE", "/api/v3/order", by_client_id)
    again = await trader.signed("DELETE", "/api/v3/order", by_client_id)
    missing = await trader.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": 999})
    assert found.body["status"] == "NEW" and found.body["clientOrderId"] == "ticket-1"
    assert cancel.body["status"] == "CANCELED" and cancel.body["origClientOrderId"] == "ticket-1"
    assert exchange.balances(DOC_KEY)["BTC"].free == Decimal(1)
    assert error_of(again) == (-2011, "Unknown order sent.")
    assert error_of(missing) == (-2013, "Order does not exist.")


async def test_open_orders_and_cancel_all(exchange: ExchangeSimulator, trader: Binance) -> None:
    exchange.set_price("ETHUSDT", Decimal("3000"))
    for price in ("2900", "2800"):
        await trader.order(
            symbol="ETHUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.1",
            price=price,
        )
    listed = (await trader.signed("GET", "/api/v3/openOrders")).body
    cancelled = (await trader.signed("DELETE", "/api/v3/openOrders", {"symbol": "ETHUSDT"})).body
    nothing = await trader.signed("DELETE", "/api/v3/openOrders", {"symbol": "ETHUSDT"})
    assert [o["price"] for o in listed] == ["2900.00000000", "2800.00000000"]
    assert [o["status"] for o in cancelled] == ["CANCELED", "CANCELED"]
    assert nothing.body["code"] == -2011
    assert (await trader.signed("GET", "/api/v3/openOrders", {"symbol": "ETHUSDT"})).body == []


async def test_a_client_order_id_is_unique_among_open_orders(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    resting = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.001",
        "price": "60000",
        "newClientOrderId": "same-id",
    }
    first = await trader.order(**resting)
    duplicate = await trader.order(**resting)
    await trader.signed(
        "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "same-id"}
    )
    reused = await trader.order(**resting)
    assert first.status == 200 and reused.status == 200
    assert error_of(duplicate) == (-2010, "Duplicate order sent.")


@pytest.mark.parametrize(
    ("order", "failure"),
    [
        (
            {
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.001",
                "price": "65000.000000001",
            },
            (-1111, "Parameter 'price' has too much precision."),
        ),
        (
            {"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "65000.001"},
            (-1013, "Filter failure: PRICE_FILTER"),
        ),
        (
            {"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.0000123", "price": "65000"},
            (-1013, "Filter failure: LOT_SIZE"),
        ),
        (
            {"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.00001", "price": "65000"},
            (-1013, "Filter failure: NOTIONAL"),
        ),
        (
            {"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "20000"},
            (-1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
        ),
        ({"type": "MARKET", "quantity": "200"}, (-1013, "Filter failure: MARKET_LOT_SIZE")),
        (
            {"type": "MARKET", "quantity": "0.5"},
            (-2010, "Account has insufficient balance for requested action."),
        ),
    ],
)
async def test_order_rejections(
    exchange: ExchangeSimulator, trader: Binance, order: dict[str, str], failure: tuple[int, str]
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    reply = await trader.order(symbol="BTCUSDT", side="BUY", **order)
    assert (reply.status, error_of(reply)) == (400, failure)
    assert exchange.balances(DOC_KEY)["USDT"].free == Decimal(10_000)


@pytest.mark.parametrize(
    ("order", "failure"),
    [
        (
            {"symbol": "BTCUSDT", "type": "MARKET", "quantity": "1"},
            (-1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed."),
        ),
        (
            {"symbol": "BTCUSDT", "side": "HOLD", "type": "MARKET", "quantity": "1"},
            (-1117, "Invalid side."),
        ),
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "STOP", "quantity": "1"},
            (-1116, "Invalid orderType."),
        ),
        (
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "DAY",
                "quantity": "1",
                "price": "1",
            },
            (-1115, "Invalid timeInForce."),
        ),
        (
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "timeInForce": "GTC",
                "quantity": "1",
            },
            (-1106, "Parameter 'timeInForce' sent when not required."),
        ),
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"},
            (-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"),
        ),
        (
            {"symbol": "NOPE", "side": "BUY", "type": "MARKET", "quantity": "1"},
            (-1121, "Invalid symbol."),
        ),
    ],
)
async def test_parameter_errors(
    trader: Binance, order: dict[str, str], failure: tuple[int, str]
) -> None:
    assert error_of(await trader.order(**order)) == failure


async def test_test_order_validates_without_placing(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    plain = await trader.signed("POST", "/api/v3/order/test", market)
    rates = await trader.signed(
        "POST", "/api/v3/order/test", {**market, "computeCommissionRates": "true"}
    )
    bad = await trader.signed("POST", "/api/v3/order/test", {**market, "quantity": "0.0000001"})
    assert plain.body == {} and exchange.orders_for(DOC_KEY) == []
    assert rates.body["standardCommissionForOrder"] == {
        "maker": "0.00100000",
        "taker": "0.00100000",
    }
    assert bad.body["code"] == -1013


async def test_commission_and_api_restrictions(trader: Binance) -> None:
    commission = (
        await trader.signed("GET", "/api/v3/account/commission", {"symbol": "BTCUSDT"})
    ).body
    rights = (await trader.signed("GET", "/sapi/v1/account/apiRestrictions")).body
    assert commission["standardCommission"]["taker"] == "0.00100000"
    assert set(commission) == {
        "symbol",
        "standardCommission",
        "specialCommission",
        "taxCommission",
        "discount",
    }
    assert rights["ipRestrict"] is False and rights["enableWithdrawals"] is False
    assert rights["enableSpotAndMarginTrading"] is True and rights["enableReading"] is True


async def test_testnet_has_no_sapi_but_its_unicode_symbol(
    exchange_factory: ExchangeFactory, session: aiohttp.ClientSession
) -> None:
    sim = await exchange_factory(network="testnet")
    sim.add_account(DOC_KEY, secret=DOC_SECRET, balances={"456": Decimal(100)})
    client = Binance(session, sim.rest_url, DOC_KEY, HmacSigner(SecretStr(DOC_SECRET)))
    rights = await client.signed("GET", "/sapi/v1/account/apiRestrictions")
    unicode = await client.order(
        symbol="这是测试币456",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="10",
        price="0.9",
    )
    assert rights.status == 404
    assert unicode.status == 200 and unicode.body["symbol"] == "这是测试币456"
    assert sim.balances(DOC_KEY)["456"].locked == Decimal(9)


async def test_concurrent_orders_never_overspend(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("50000"))
    cost = exchange.book_top("BTCUSDT").ask * Decimal("0.01")
    replies = await asyncio.gather(
        *(
            trader.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
            for _ in range(40)
        )
    )
    filled = sum(1 for r in replies if r.status == 200)
    assert filled == int(Decimal(10_000) / cost)
    assert all(r.body["code"] == -2010 for r in replies if r.status != 200)
    assert exchange.balances(DOC_KEY)["USDT"].free >= 0


# -- weights and faults -------------------------------------------------------------------------


async def test_weight_header_counts_documented_weights(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    first = int((await trader.public("/api/v3/ping")).headers["X-MBX-USED-WEIGHT-1M"])
    second = int((await trader.public("/api/v3/exchangeInfo")).headers["X-MBX-USED-WEIGHT-1M"])
    assert second in (first + 20, 20)  # 20, or the minute turned between the calls
    exchange.limits.weight_per_minute = 10
    limited = await trader.public("/api/v3/exchangeInfo")
    assert limited.status == 429 and limited.body["code"] == -1003
    assert int(limited.headers["Retry-After"]) >= 1


async def test_a_5xx_fault_is_a_bare_html_page_once(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.faults.fail_next("/api/v3/ticker/price", status=503)
    failed = await trader.public("/api/v3/ticker/price", {"symbol": "BTCUSDT"})
    recovered = await trader.public("/api/v3/ticker/price", {"symbol": "BTCUSDT"})
    assert failed.status == 503 and "<html>" in failed.body
    assert recovered.status == 200


async def test_a_timeout_fault_is_1007_and_can_execute_first(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    exchange.faults.fail_next("/api/v3/order", code=-1007, execute=True)
    reply = await trader.order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newClientOrderId="t-7"
    )
    assert (reply.status, reply.body["code"]) == (408, -1007)
    assert [o.client_order_id for o in exchange.orders_for(DOC_KEY)] == ["t-7"]
    found = await trader.signed(
        "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "t-7"}
    )
    assert found.body["status"] == "FILLED"


async def test_rate_limit_fault_and_ban(exchange: ExchangeSimulator, trader: Binance) -> None:
    exchange.faults.rate_limit_next("/api/v3/time", retry_after=7)
    limited = await trader.public("/api/v3/time")
    exchange.faults.ban(120)
    banned = await trader.public("/api/v3/ping")
    exchange.faults.ban(0)
    lifted = await trader.public("/api/v3/ping")
    assert (limited.status, limited.headers["Retry-After"], limited.body["code"]) == (
        429,
        "7",
        -1003,
    )
    assert banned.status == 418 and banned.body["code"] == -1003
    assert 100 <= int(banned.headers["Retry-After"]) <= 120
    assert lifted.status == 200


async def test_calling_before_retry_after_gets_the_ip_banned(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.limits.weight_per_minute = 1
    exchange.limits.in_flight_ms = 0
    limited = await trader.public("/api/v3/avgPrice", [("symbol", "BTCUSDT")])  # weight 2
    too_soon = await trader.public("/api/v3/ping")
    assert limited.status == 429 and "Retry-After" in limited.headers
    assert too_soon.status == 418
    assert exchange.limits.rejections_429 == 1


async def test_exchange_info_announces_the_limits_in_force(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.limits.weight_per_minute = 1200
    exchange.limits.orders_per_10s = 5
    info = await trader.public("/api/v3/exchangeInfo")
    limits = {(r["rateLimitType"], r["interval"]): r["limit"] for r in info.body["rateLimits"]}
    assert limits[("REQUEST_WEIGHT", "MINUTE")] == 1200
    assert limits[("ORDERS", "SECOND")] == 5


async def test_a_hanging_call_times_out_without_placing(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    exchange.faults.hang_next("/api/v3/order", seconds=1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await trader.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    assert exchange.orders_for(DOC_KEY) == []


# -- market streams -----------------------------------------------------------------------------


async def test_raw_stream_delivers_a_trade_at_once(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(f"{exchange.stream_url}/ws/btcusdt@trade") as ws:
        exchange.set_price("BTCUSDT", Decimal("65432.1"))
        event = await next_json(ws)
    assert list(event) == ["e", "E", "s", "t", "p", "q", "T", "m", "M"]
    assert (event["e"], event["s"], event["p"]) == ("trade", "BTCUSDT", "65432.10000000")


async def test_combined_stream_wraps_each_stream(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    streams = "ethusdt@aggTrade/ethusdt@bookTicker/ethusdt@kline_1m/ethusdt@miniTicker"
    async with session.ws_connect(f"{exchange.stream_url}/stream?streams={streams}") as ws:
        exchange.set_price("ETHUSDT", Decimal("3100"))
        events: dict[str, Any] = {}
        # the candle current at the subscription may close first, when a minute turned since
        while len(events) < 4 or events["ethusdt@kline_1m"]["k"]["x"]:
            message = await next_json(ws)
            events[message["stream"]] = message["data"]
    assert events["ethusdt@aggTrade"]["p"] == "3100.00000000"
    assert set(events["ethusdt@bookTicker"]) == {"u", "s", "b", "B", "a", "A"}
    kline = events["ethusdt@kline_1m"]["k"]
    assert kline["c"] == "3100.00000000" and kline["i"] == "1m" and kline["x"] is False
    assert events["ethusdt@miniTicker"]["e"] == "24hrMiniTicker"


async def test_control_messages(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(f"{exchange.stream_url}/ws") as ws:
        replies = []
        for message in (
            {"method": "SUBSCRIBE", "params": ["btcusdt@ticker", "!miniTicker@arr"], "id": 1},
            {"method": "UNSUBSCRIBE", "params": ["!miniTicker@arr"], "id": 2},
            {"method": "LIST_SUBSCRIPTIONS", "id": 3},
            {"method": "SET_PROPERTY", "params": ["combined", True], "id": 4},
            {"method": "GET_PROPERTY", "params": ["combined"], "id": 5},
        ):
            await ws.send_json(message)
            replies.append(await next_json(ws))  # five messages: at Binance's limit, not over
        exchange.set_price("BTCUSDT", Decimal("66000"))
        wrapped = await next_json(ws)
    assert replies == [
        {"result": None, "id": 1},
        {"result": None, "id": 2},
        {"result": ["btcusdt@ticker"], "id": 3},
        {"result": None, "id": 4},
        {"result": True, "id": 5},
    ]
    assert wrapped["stream"] == "btcusdt@ticker" and wrapped["data"]["c"] == "66000.00000000"


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("{not json", {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 2"}),
        (
            '{"method":"SUBSCRIBE","params":["BTCUSDT@trade"],"id":1}',
            {"code": 2, "msg": "Invalid request: invalid stream"},
        ),
        (
            '{"method":"SET_PROPERTY","params":["fast",true],"id":1}',
            {"code": 0, "msg": "Unknown property"},
        ),
        (
            '{"method":"SET_PROPERTY","params":["combined","yes"],"id":1}',
            {"code": 1, "msg": "Invalid value type: expected Boolean"},
        ),
    ],
)
async def test_control_message_errors(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession, message: str, error: dict[str, Any]
) -> None:
    async with session.ws_connect(f"{exchange.stream_url}/ws") as ws:
        await ws.send_str(message)
        assert (await next_json(ws))["error"] == error


async def test_more_than_five_messages_a_second_closes(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(f"{exchange.stream_url}/ws") as ws:
        for request_id in range(8):
            await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": request_id})
        kinds = [(await ws.receive(timeout=WAIT)).type for _ in range(7)]
    assert aiohttp.WSMsgType.CLOSE in kinds or aiohttp.WSMsgType.CLOSED in kinds


async def test_at_most_1024_streams_per_connection(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    names = [f"sym{i}usdt@trade" for i in range(1025)]
    async with session.ws_connect(f"{exchange.stream_url}/ws") as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": names[:1024], "id": 1})
        accepted = await next_json(ws)
        await ws.send_json({"method": "SUBSCRIBE", "params": names[1024:], "id": 2})
        refused = await next_json(ws)
    assert accepted == {"result": None, "id": 1} and refused["error"]["code"] == 2


async def test_server_pings_and_dropped_sockets(
    exchange_factory: ExchangeFactory, session: aiohttp.ClientSession
) -> None:
    sim = await exchange_factory(ping_interval=0.2)
    ws = await session.ws_connect(f"{sim.stream_url}/ws/btcusdt@trade", autoping=False)
    ping = await ws.receive(timeout=WAIT)
    assert ping.type is aiohttp.WSMsgType.PING and sim.open_websockets == 1
    await ws.pong(ping.data)
    await sim.drop_websockets()
    while (message := await ws.receive(timeout=WAIT)).type is aiohttp.WSMsgType.PING:
        pass
    assert message.type in (
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.ERROR,
    )
    await ws.close()


async def test_handshakes_see_faults_and_bans(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    exchange.faults.fail_next("/ws-api/v3", status=503)
    with pytest.raises(aiohttp.WSServerHandshakeError) as failed:
        await session.ws_connect(exchange.ws_api_url)
    exchange.faults.ban(60)
    with pytest.raises(aiohttp.WSServerHandshakeError) as banned:
        await session.ws_connect(f"{exchange.stream_url}/ws/btcusdt@trade")
    assert (failed.value.status, banned.value.status) == (503, 418)


# -- WebSocket API ------------------------------------------------------------------------------


async def test_ws_api_ping_and_time(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(exchange.ws_api_url) as ws:
        pong = await call(ws, "ping")
        clock = await call(ws, "time")
    assert pong["status"] == 200 and pong["result"] == {} and pong["id"] == "ping"
    assert pong["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
    assert abs(clock["result"]["serverTime"] - now_ms()) < 10_000


async def test_rest_order_reaches_the_user_data_stream(
    exchange: ExchangeSimulator, trader: Binance, session: aiohttp.ClientSession
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    async with session.ws_connect(exchange.ws_api_url) as ws:
        subscribed = await call(
            ws, "userDataStream.subscribe.signature", signed_params(trader.signer, DOC_KEY)
        )
        again = await call(
            ws, "userDataStream.subscribe.signature", signed_params(trader.signer, DOC_KEY)
        )
        await trader.order(
            symbol="BTCUSDT",
            side="BUY",
            type="MARKET",
            quantity="0.002",
            newClientOrderId="fill-me",
        )
        new = await until_event(ws, "executionReport", "NEW")
        trade = await until_event(ws, "executionReport", "TRADE")
        position = await until_event(ws, "outboundAccountPosition")
        subscriptions = await call(ws, "session.subscriptions")
        ended = await call(ws, "userDataStream.unsubscribe", {"subscriptionId": 0})
        terminated = await next_json(ws)
        unknown = await call(ws, "userDataStream.unsubscribe", {"subscriptionId": 0})
    assert subscribed["result"] == {"subscriptionId": 0}
    assert again["error"]["code"] == -2035
    assert new["subscriptionId"] == 0 and new["event"]["c"] == "fill-me"
    report = trade["event"]
    for field in ("c", "x", "X", "i", "l", "z", "L", "n", "N", "Z", "Y", "T", "t", "O", "w", "m"):
        assert field in report
    assert (report["X"], report["z"], report["N"], report["m"]) == (
        "FILLED",
        "0.00200000",
        "BTC",
        False,
    )
    assert {row["a"] for row in position["event"]["B"]} == {"BTC", "USDT"}
    assert subscriptions["result"] == [{"subscriptionId": 0}]
    assert ended["result"] == {} and terminated["event"]["e"] == "eventStreamTerminated"
    assert unknown["error"]["code"] == -2036


async def test_a_limit_fill_and_a_deposit_are_pushed(
    exchange: ExchangeSimulator, trader: Binance, session: aiohttp.ClientSession
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    async with session.ws_connect(exchange.ws_api_url) as ws:
        await call(ws, "userDataStream.subscribe.signature", signed_params(trader.signer, DOC_KEY))
        await trader.order(
            symbol="BTCUSDT",
            side="SELL",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.01",
            price="66000",
        )
        exchange.set_price("BTCUSDT", Decimal("66000"))
        fill = await until_event(ws, "executionReport", "TRADE")
        exchange.deposit(DOC_KEY, "USDT", Decimal("5"))
        deposit = await until_event(ws, "balanceUpdate")
    assert (fill["event"]["L"], fill["event"]["m"]) == ("66000.00000000", True)
    assert deposit["event"]["d"] == "5.00000000" and deposit["event"]["a"] == "USDT"


async def test_session_logon_needs_an_ed25519_key(
    exchange: ExchangeSimulator, trader: Binance, session: aiohttp.ClientSession
) -> None:
    exchange.add_account(ED_KEY, public_key_pem=public_key_pem(ED_PRIVATE))
    ed_signer = Ed25519Signer(SecretStr(ED_PRIVATE))
    async with session.ws_connect(exchange.ws_api_url) as ws:
        early = await call(ws, "userDataStream.subscribe")
        hmac = await call(ws, "session.logon", signed_params(trader.signer, DOC_KEY))
        forged = await call(
            ws, "session.logon", {**signed_params(ed_signer, ED_KEY), "timestamp": 1}
        )
        logon = await call(ws, "session.logon", signed_params(ed_signer, ED_KEY))
        subscribed = await call(ws, "userDataStream.subscribe")
        status = await call(ws, "session.status")
    assert early["error"]["code"] == -1002 and hmac["error"]["code"] == -4056
    assert forged["error"]["code"] == -1022
    assert logon["result"]["apiKey"] == ED_KEY and subscribed["result"] == {"subscriptionId": 0}
    assert status["result"]["userDataStream"] is True


# -- control surfaces ---------------------------------------------------------------------------


async def test_http_control_surface(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    base = f"{exchange.rest_url}/_sandbox"
    async with session.post(
        f"{base}/accounts", json={"apiKey": "remote", "secret": "x", "balances": {"USDT": "50"}}
    ) as r:
        assert r.status == 200
    async with session.post(f"{base}/price", json={"symbol": "SOLUSDT", "price": "150.25"}) as r:
        assert (await r.json())["price"] == "150.25000000"
    async with session.post(
        f"{base}/faults", json={"kind": "fail", "path": "/api/v3/ping", "status": 502}
    ) as r:
        assert r.status == 200
    async with session.post(f"{base}/price", json={"symbol": "NOPE", "price": "1"}) as r:
        assert r.status == 400
    async with session.get(f"{base}/accounts/remote") as r:
        assert (await r.json())["balances"]["USDT"] == {
            "free": "50.00000000",
            "locked": "0.00000000",
        }
    async with session.get(f"{exchange.rest_url}/api/v3/ping") as r:
        assert r.status == 502
    assert exchange.price("SOLUSDT") == Decimal("150.25")


async def test_command_line_prints_its_urls() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chatbot.sandbox.exchange",
        "--port",
        "0",
        "--no-random-walk",
        "--demo-account",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        lines = [(await asyncio.wait_for(process.stdout.readline(), 30)).decode() for _ in range(8)]
    finally:
        process.terminate()
        await process.wait()
    urls = dict(line.strip().split("=", 1) for line in lines if line.startswith("BINANCE_"))
    assert urls["BINANCE_API_URL"].startswith("http://127.0.0.1:")
    assert urls["BINANCE_WS_API_URL"].endswith("/ws-api/v3")
    assert urls["BINANCE_FUTURES_API_URL"] == urls["BINANCE_API_URL"]
    assert urls["BINANCE_FUTURES_STREAM_URL"].endswith("/fstream/market")
    assert any("demo account" in line for line in lines)
