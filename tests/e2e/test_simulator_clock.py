"""The simulator's clock moves on (`advance`): candles close, the skipped ones exist empty, the
24 h statistics and the average price follow, and signed calls still pass."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp
from pydantic import SecretStr

from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.signing import HmacSigner
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.binance_wire import DOC_KEY, DOC_SECRET, FUNDS, WAIT, Binance, next_json

HOUR, MINUTE = 3_600_000, 60_000
ZERO = "0.00000000"


def slot(t: int, length: int) -> int:
    return t - t % length


async def kline_socket(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession, *streams: str
) -> aiohttp.ClientWebSocketResponse:
    """A combined-stream socket on `streams`, once the simulator has subscribed it."""
    ws = await session.ws_connect(f"{exchange.stream_url}/stream?streams={'/'.join(streams)}")
    async with asyncio.timeout(WAIT):
        while not all(exchange.streams.listeners(s) for s in streams):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return ws


async def events(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[tuple[str, Any]]:
    """The next `count` events as (stream, `k`)."""
    found = []
    for _ in range(count):
        frame = await next_json(ws)
        found.append((frame["stream"], frame["data"]["k"]))
    return found


async def test_after_a_jump_the_next_print_closes_the_candle_of_every_interval_first(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    ws = await kline_socket(exchange, session, "btcusdt@kline_1m", "btcusdt@kline_1h")
    exchange.set_price("BTCUSDT", Decimal(60_000))
    before = {stream: k["t"] for stream, k in await events(ws, 2)}
    exchange.advance(2 * 3600)
    exchange.set_price("BTCUSDT", Decimal(61_000))
    got = await events(ws, 4)
    now = exchange.clock.now_ms()
    for stream, length in (("btcusdt@kline_1m", MINUTE), ("btcusdt@kline_1h", HOUR)):
        closed, fresh = [k for s, k in got if s == stream]  # in this order on the socket
        assert (closed["t"], closed["x"], closed["c"]) == (before[stream], True, "60000.00000000")
        assert closed["T"] == before[stream] + length - 1
        assert (fresh["t"], fresh["x"], fresh["o"]) == (slot(now, length), False, "61000.00000000")
    await ws.close()


async def test_a_candle_with_no_print_since_subscribing_closes_too(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    subscribed_from = exchange.clock.now_ms()
    ws = await kline_socket(exchange, session, "ethusdt@kline_1h")
    subscribed_by = exchange.clock.now_ms()
    exchange.advance(3600)
    exchange.set_price("ETHUSDT", Decimal(3000))
    (_, closed), (_, fresh) = await events(ws, 2)
    assert closed["x"] and not fresh["x"]
    assert closed["t"] in {slot(subscribed_from, HOUR), slot(subscribed_by, HOUR)}
    assert fresh["t"] > closed["t"]
    await ws.close()


async def test_the_intervals_skipped_are_empty_candles_at_the_previous_close(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal(60_000))
    start = slot(exchange.clock.now_ms(), 15 * MINUTE)
    exchange.advance(2 * 3600)
    exchange.set_price("BTCUSDT", Decimal(61_000))
    params = {"symbol": "BTCUSDT", "interval": "15m", "startTime": start, "limit": 20}
    rows = (await trader.public("/api/v3/klines", params)).body
    assert [row[0] for row in rows] == [start + i * 15 * MINUTE for i in range(len(rows))]
    assert len(rows) in (9, 10)  # 2 h later: 8 skipped whole, and the ends
    first, *skipped, last = rows
    assert first[4] == "60000.00000000" and last[4] == "61000.00000000"
    for row in skipped:
        assert row[1:5] == ["60000.00000000"] * 4  # open, high, low, close
        assert (row[5], row[7], row[8], row[9]) == (ZERO, ZERO, 0, ZERO)  # volumes, trades


async def test_the_24h_ticker_and_average_price_follow_the_jump_and_sized_prints(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal(60_000))
    exchange.advance(25 * 3600)  # a quiet day: nothing printed in the last 24 h
    ticker = (await trader.public("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"})).body
    assert (ticker["volume"], ticker["count"], ticker["priceChange"]) == (ZERO, 0, ZERO)
    prices = {ticker[f] for f in ("openPrice", "highPrice", "lowPrice", "lastPrice")}
    assert prices == {"60000.00000000"}
    assert abs(ticker["closeTime"] - exchange.clock.now_ms()) < 5_000
    average = (await trader.public("/api/v3/avgPrice", {"symbol": "BTCUSDT"})).body
    assert average["price"] == "60000.00000000"

    exchange.set_price("BTCUSDT", Decimal(62_000), qty=Decimal(2))
    exchange.set_price("BTCUSDT", Decimal(62_000), qty=Decimal(3))
    ticker = (await trader.public("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"})).body
    assert (ticker["volume"], ticker["count"]) == ("5.00000000", 2)
    assert (ticker["lastPrice"], ticker["highPrice"]) == ("62000.00000000", "62000.00000000")
    average = (await trader.public("/api/v3/avgPrice", {"symbol": "BTCUSDT"})).body
    assert average["price"] == "62000.00000000"


async def test_a_sized_print_adds_its_quantity_to_the_candle(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession, trader: Binance
) -> None:
    ws = await kline_socket(exchange, session, "btcusdt@kline_5m")
    exchange.advance(600)  # a fresh 5-minute candle, nothing printed in it yet
    exchange.set_price("BTCUSDT", Decimal(60_000), qty=Decimal("1.5"))
    exchange.set_price("BTCUSDT", Decimal(60_010), qty=Decimal("2.25"))
    *_, (_, live) = await events(ws, 3)  # the closed candle, then the new one twice
    assert (live["v"], live["n"], live["x"]) == ("3.75000000", 2, False)
    params = {"symbol": "BTCUSDT", "interval": "5m", "limit": 1}
    [row] = (await trader.public("/api/v3/klines", params)).body
    assert (row[0], row[5], row[8]) == (live["t"], "3.75000000", 2)
    await ws.close()


async def test_signed_calls_still_pass_after_a_jump_of_hours(exchange: ExchangeSimulator) -> None:
    exchange.add_account(DOC_KEY, secret=DOC_SECRET, balances=FUNDS)
    credentials = ApiCredentials(SecretStr(DOC_KEY), HmacSigner(SecretStr(DOC_SECRET)))
    async with BinanceClient(exchange.rest_url) as client:
        await client.account(credentials)
        exchange.advance(5 * 3600)
        account = await client.account(credentials)  # -1021 once, then re-synced
        assert account.balances
        assert abs(client.time_offset_ms - 5 * HOUR) < 10_000


async def test_the_clock_moves_on_over_the_control_surface(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    url = f"{exchange.rest_url}/_sandbox/clock"
    async with session.post(url, json={"advanceSeconds": 90}) as reply:
        assert (reply.status, await reply.json()) == (200, {"clockSkewMs": 90_000})
    async with session.post(url, json={"advanceSeconds": -1}) as reply:
        assert reply.status == 400
    assert exchange.clock_skew_ms == 90_000
