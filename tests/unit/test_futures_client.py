"""The futures market client over a real loopback socket. The far end is a small aiohttp
server answering with Binance's documented futures payloads and headers (the wire is real;
only Binance is a recording, until the simulator serves futures)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from chatbot.exchange.client import BinanceClient
from chatbot.exchange.errors import InvalidSymbol, IpBanned, RateLimited
from chatbot.exchange.futures_client import FUTURES_WEIGHT_LIMIT, FuturesMarketClient

PAYLOADS = json.loads(
    (Path(__file__).parents[1] / "data" / "binance_futures_docs.json").read_text()
)


@dataclass
class Answer:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class RecordedFutures:
    """Answers each `/fapi/v1/...` path with its recorded payload, or with what a test set in
    `answers`; keeps every request it received."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[web.Request] = []

    def recorded(self, path: str) -> Answer:
        if path in self.answers:
            return self.answers[path]
        body = PAYLOADS[f"GET {path} :: Response"]
        return Answer(body, headers={"X-MBX-USED-WEIGHT-1M": "7"})

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        answer = self.recorded(request.path)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]


@contextlib.asynccontextmanager
async def serving(recording: RecordedFutures) -> AsyncIterator[str]:
    """A loopback HTTP server answering every GET from `recording`; its URL."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", recording.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def binance() -> AsyncIterator[tuple[RecordedFutures, str]]:
    recording = RecordedFutures()
    async with serving(recording) as url:
        yield recording, url


async def test_each_endpoint_parses_the_recorded_answer(binance):
    recording, url = binance
    async with FuturesMarketClient(url) as client:
        assert (await client.ticker_24hr("BTCUSDT")).last_price == Decimal("4.000002")
        assert (await client.ticker_price("BTCUSDT")).price == Decimal("6000.01")
        index = await client.premium_index("BTCUSDT")
        assert index.mark_price == Decimal("11793.63104562")
        rates = await client.funding_rates("BTCUSDT", 2)
        assert [rate.funding_rate for rate in rates] == [Decimal("-0.0375"), Decimal("0.0001")]
        assert (await client.open_interest("BTCUSDT")).open_interest == Decimal("10659.509")
        assert (await client.trades("BTCUSDT", 1))[0].price == Decimal("4.000001")
        assert (await client.klines("BTCUSDT", "1h", 1))[0].trades == 308
    queries = {request.path: dict(request.query) for request in recording.requests}
    assert queries["/fapi/v1/premiumIndex"] == {"symbol": "BTCUSDT"}
    assert queries["/fapi/v1/fundingRate"] == {"symbol": "BTCUSDT", "limit": "2"}
    assert queries["/fapi/v1/klines"] == {"symbol": "BTCUSDT", "interval": "1h", "limit": "1"}


async def test_all_symbol_calls_send_no_symbol_and_read_lists(binance):
    recording, url = binance
    recording.answers["/fapi/v1/premiumIndex"] = Answer(
        [PAYLOADS["GET /fapi/v1/premiumIndex :: Response"]]
    )
    recording.answers["/fapi/v1/ticker/24hr"] = Answer(
        [PAYLOADS["GET /fapi/v1/ticker/24hr :: Response"]]
    )
    async with FuturesMarketClient(url) as client:
        assert [index.symbol for index in await client.premium_indexes()] == ["BTCUSDT"]
        assert [ticker.symbol for ticker in await client.tickers_24hr()] == ["BTCUSDT"]
        assert client.used_weight == 10 + 40  # no weight header: the client's own count
    assert all(not request.query for request in recording.requests)


async def test_the_weight_limit_is_taken_from_futures_exchange_info(binance):
    recording, url = binance
    info = json.loads(json.dumps(PAYLOADS["GET /fapi/v1/exchangeInfo :: Response"]))
    info["rateLimits"][0]["limit"] = 1200  # Binance may announce another limit
    recording.answers["/fapi/v1/exchangeInfo"] = Answer(info)
    async with FuturesMarketClient(url) as client:
        assert client.governor.limit == FUTURES_WEIGHT_LIMIT == 2400  # documented, until told
        contract = await client.contract("BLZUSDT")
        assert contract.tick_size == Decimal("0.0001")
        assert client.governor.limit == 1200
        await client.contract("BLZUSDT")  # from the cache
    assert recording.paths() == ["/fapi/v1/exchangeInfo"]


async def test_the_used_weight_header_is_read_into_a_budget_apart_from_spot(binance):
    recording, url = binance
    recording.answers["/fapi/v1/openInterest"] = Answer(
        PAYLOADS["GET /fapi/v1/openInterest :: Response"], headers={"X-MBX-USED-WEIGHT-1M": "1234"}
    )
    async with FuturesMarketClient(url) as futures, BinanceClient(url) as spot:
        await futures.open_interest("BTCUSDT")
        assert futures.used_weight == 1234
        assert spot.used_weight == 0 and spot.governor is not futures.governor


async def test_an_unknown_contract_is_refused_from_the_cache_without_a_request(binance):
    recording, url = binance
    async with FuturesMarketClient(url) as client:
        await client.exchange_info()
        with pytest.raises(InvalidSymbol, match="no USDⓈ-M futures contract NOPEUSDT"):
            await client.contract("NOPEUSDT")
    assert recording.paths() == ["/fapi/v1/exchangeInfo"]


async def test_binance_refusing_a_symbol_raises_invalid_symbol(binance):
    recording, url = binance
    recording.answers["/fapi/v1/premiumIndex"] = Answer(PAYLOADS["Error -1121 :: Response"], 400)
    async with FuturesMarketClient(url) as client:
        with pytest.raises(InvalidSymbol) as raised:
            await client.premium_index("NOPEUSDT")
    assert raised.value.code == -1121 and raised.value.status == 400


async def test_a_429_raises_rate_limited_and_holds_every_futures_call(binance):
    recording, url = binance
    recording.answers["/fapi/v1/ticker/price"] = Answer(
        {"code": -1003, "msg": "Too many requests; current limit is 2400 requests per minute."},
        429,
        {"Retry-After": "30"},
    )
    async with FuturesMarketClient(url, user_wait=1.0) as client:
        with pytest.raises(RateLimited) as raised:
            await client.ticker_price("BTCUSDT")
        assert raised.value.retry_after > 20
        with pytest.raises(RateLimited):
            await client.open_interest("BTCUSDT")  # paused: never sent
    assert recording.paths() == ["/fapi/v1/ticker/price"]


async def test_a_418_bans_every_futures_call_until_it_ends(binance):
    recording, url = binance
    recording.answers["/fapi/v1/trades"] = Answer(
        {"code": -1003, "msg": "Way too many requests; IP banned."}, 418, {"Retry-After": "120"}
    )
    async with FuturesMarketClient(url) as client:
        with pytest.raises(IpBanned):
            await client.trades("BTCUSDT")
        with pytest.raises(IpBanned):
            await client.trades("BTCUSDT")
    assert recording.paths() == ["/fapi/v1/trades"]


async def test_funding_history_keeps_to_its_own_five_minute_limit(binance):
    recording, url = binance
    # weight_share 0.01 keeps 5 of Binance's 500 fundingRate calls per 5 minutes
    async with FuturesMarketClient(url, weight_share=0.01) as client:
        for _ in range(5):
            await client.funding_rates("BTCUSDT")
        with pytest.raises(RateLimited) as raised:
            await client.funding_rates("BTCUSDT")
    assert raised.value.retry_after > 200
    assert recording.paths().count("/fapi/v1/fundingRate") == 5


async def test_the_clock_is_measured_against_the_futures_host(binance):
    recording, url = binance
    async with FuturesMarketClient(url, clock=lambda: 1499827319.0) as client:
        assert await client.sync_time() == 559  # serverTime 1499827319559 ms
    assert recording.paths() == ["/fapi/v1/time"]


async def test_spot_and_futures_send_trades_and_klines_alike_but_for_the_path(binance):
    """One parameter builder (market_requests.py) for both markets; each keeps its weights."""
    recording, url = binance
    for market in ("/api/v3", "/fapi/v1"):
        recording.answers[f"{market}/trades"] = Answer(PAYLOADS["GET /fapi/v1/trades :: Response"])
        recording.answers[f"{market}/klines"] = Answer(PAYLOADS["GET /fapi/v1/klines :: Response"])
    async with BinanceClient(url) as spot, FuturesMarketClient(url) as futures:
        for client in (spot, futures):
            assert (await client.trades("BTCUSDT", 3))[0].quote_qty == Decimal("48.00")
            window = await client.klines("BTCUSDT", "1h", 200, start_time=1, end_time=2)
            assert window[0].trades == 308
            await client.klines("BTCUSDT", "1m", 5)
        assert (spot.used_weight, futures.used_weight) == (25 + 2 + 2, 5 + 2 + 1)
    sent = [(request.path, request.query_string) for request in recording.requests]
    spot_sent = [(path.removeprefix("/api/v3"), query) for path, query in sent[:3]]
    futures_sent = [(path.removeprefix("/fapi/v1"), query) for path, query in sent[3:]]
    assert (
        spot_sent
        == futures_sent
        == [
            ("/trades", "symbol=BTCUSDT&limit=3"),
            ("/klines", "symbol=BTCUSDT&interval=1h&limit=200&startTime=1&endTime=2"),
            ("/klines", "symbol=BTCUSDT&interval=1m&limit=5"),
        ]
    )


async def test_mark_price_klines_parse_binance_s_example_and_send_a_window(binance):
    """What a mark price alert's backtest reads: prices only, the volume fields "0"; weighed
    like klines (no weight header here: the client's own count)."""
    recording, url = binance
    path = "/fapi/v1/markPriceKlines"
    recording.answers[path] = Answer(PAYLOADS[f"GET {path} :: Response"])
    async with FuturesMarketClient(url) as client:
        [candle] = await client.mark_price_klines("BTCUSDT", "1m", 1000, start_time=5)
        assert client.used_weight == 5
        await client.mark_price_klines("BTCUSDT", "1m", 99)
        assert client.used_weight == 5 + 1
    assert (candle.open_time, candle.close, candle.volume) == (
        1591256400000,
        Decimal("9651.55200000"),
        Decimal(0),
    )
    query = dict(recording.requests[0].query)
    assert query == {"symbol": "BTCUSDT", "interval": "1m", "limit": "1000", "startTime": "5"}
