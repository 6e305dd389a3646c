"""The simulator's USDT-M futures side, over plain aiohttp (not the bot's client): REST shapes
against Binance's documented examples, the futures weight budget, funding settlements as the
simulated clock passes 8-hour marks, and the futures market streams."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chatbot.sandbox.exchange import ExchangeSimulator

DOCS = json.loads((Path(__file__).parent.parent / "data" / "binance_futures_docs.json").read_text())
WAIT = 10.0
EIGHT_HOURS_MS = 8 * 3_600_000


def documented(key: str) -> Any:
    return DOCS[key]


def same_shape(ours: Any, theirs: Any) -> None:
    """Same keys (same order for lists of values) and the same JSON types, recursively."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict)
        assert set(ours) >= set(theirs), set(theirs) - set(ours)
        for key, value in theirs.items():
            same_shape(ours[key], value)
    elif isinstance(theirs, list) and len({type(value) for value in theirs}) > 1:
        assert isinstance(ours, list) and len(ours) == len(theirs)  # a row: types by position
        for mine, value in zip(ours, theirs, strict=True):
            assert type(mine) is type(value), (mine, value)
    elif isinstance(theirs, list) and theirs and not isinstance(theirs[0], dict | list):
        assert isinstance(ours, list) and all(type(mine) is type(theirs[0]) for mine in ours)
    elif isinstance(theirs, list) and theirs:
        assert isinstance(ours, list) and ours
        same_shape(ours[0], theirs[0])
    else:
        assert type(ours) is type(theirs), (ours, theirs)


async def get(
    session: aiohttp.ClientSession, exchange: ExchangeSimulator, path: str, **params: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    url = f"{exchange.futures_rest_url}/fapi/v1/{path}"
    async with session.get(url, params=params) as response:
        return response.status, await response.json(), response


async def next_json(ws: aiohttp.ClientWebSocketResponse) -> Any:
    message = await ws.receive(timeout=WAIT)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def subscribed(exchange: ExchangeSimulator, *streams: str) -> None:
    """Wait until the simulator carries every stream (a fact, not a delay)."""
    async with asyncio.timeout(WAIT):
        while not all(exchange.futures_streams.listeners(s) for s in streams):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.fixture
async def stream(exchange: ExchangeSimulator, session: aiohttp.ClientSession) -> AsyncIterator[Any]:
    """Open a raw futures stream connection on `names` once it is subscribed."""
    opened: list[aiohttp.ClientWebSocketResponse] = []

    async def open_stream(*names: str) -> aiohttp.ClientWebSocketResponse:
        ws = await session.ws_connect(f"{exchange.futures_stream_url}/ws/{'/'.join(names)}")
        opened.append(ws)
        await subscribed(exchange, *names)
        return ws

    yield open_stream
    for ws in opened:
        await ws.close()


# -- REST shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("ping", {}),
        ("time", {}),
        ("exchangeInfo", {}),
        ("ticker/24hr", {"symbol": "BTCUSDT"}),
        ("ticker/price", {"symbol": "BTCUSDT"}),
        ("premiumIndex", {"symbol": "BTCUSDT"}),
        ("fundingRate", {"symbol": "BTCUSDT", "limit": "2"}),
        ("openInterest", {"symbol": "BTCUSDT"}),
        ("trades", {"symbol": "BTCUSDT", "limit": "3"}),
        ("klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": "3"}),
        ("markPriceKlines", {"symbol": "BTCUSDT", "interval": "1m", "limit": "3"}),
    ],
)
async def test_every_endpoint_has_the_documented_shape(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession, path: str, params: dict[str, str]
) -> None:
    status, body, response = await get(session, exchange, path, **params)
    assert status == 200, body
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    same_shape(body, documented(f"GET /fapi/v1/{path} :: Response"))


async def test_exchange_info_filters_and_assets_carry_the_documented_fields(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    """The shape test above compares the first element of a list of objects; here every
    documented filter type and every asset row is compared (Binance's documented asset rows
    differ only in autoAssetExchange, a string or null)."""
    _, body, _ = await get(session, exchange, "exchangeInfo")
    example = documented("GET /fapi/v1/exchangeInfo :: Response")
    for row in body["symbols"]:
        filters = {f["filterType"]: f for f in row["filters"]}
        for documented_filter in example["symbols"][0]["filters"]:
            same_shape(filters[documented_filter["filterType"]], documented_filter)
    asset_fields = {key for asset in example["assets"] for key in asset}
    assert body["assets"] and all(set(asset) == asset_fields for asset in body["assets"])


async def test_lists_without_a_symbol_cover_every_contract(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    for path in ("ticker/24hr", "ticker/price", "premiumIndex"):
        status, body, _ = await get(session, exchange, path)
        assert status == 200
        assert [row["symbol"] for row in body] == exchange.futures.contracts.names()
        same_shape(body[0], documented(f"GET /fapi/v1/{path} :: Response"))


async def test_exchange_info_lists_perpetuals_with_futures_filters_and_limits(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    _, body, _ = await get(session, exchange, "exchangeInfo")
    assert body["futuresType"] == "U_MARGINED"
    assert body["rateLimits"] == [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
    ]
    symbols = {row["symbol"]: row for row in body["symbols"]}
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"} <= set(symbols)
    assert not {"ETHBTC", "BNBIDR", "LUNAUSDT", "PEPEUSDT", "USDCUSDT"} & set(symbols)
    btc = symbols["BTCUSDT"]
    assert (btc["contractType"], btc["status"], btc["marginAsset"]) == (
        "PERPETUAL",
        "TRADING",
        "USDT",
    )
    assert (btc["pricePrecision"], btc["quantityPrecision"]) == (2, 3)
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert set(filters) >= {
        "PRICE_FILTER",
        "LOT_SIZE",
        "MARKET_LOT_SIZE",
        "MAX_NUM_ORDERS",
        "MIN_NOTIONAL",
        "PERCENT_PRICE",
    }
    assert filters["PRICE_FILTER"]["tickSize"] == "0.10"
    assert filters["LOT_SIZE"]["stepSize"] == "0.001"
    assert filters["MIN_NOTIONAL"] == {"filterType": "MIN_NOTIONAL", "notional": "100"}
    documented_symbol = documented("GET /fapi/v1/exchangeInfo :: Response")["symbols"][0]
    same_shape(btc, documented_symbol)
    exchange.futures_limits.weight_per_minute = 1200
    _, body, _ = await get(session, exchange, "exchangeInfo")
    assert body["rateLimits"][0]["limit"] == 1200  # announces what it enforces


# -- weights ----------------------------------------------------------------------------------


async def test_weights_are_counted_in_the_futures_budget(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    _, _, first = await get(session, exchange, "premiumIndex")  # 10 without a symbol
    assert first.headers["X-MBX-USED-WEIGHT-1M"] == "10"
    _, _, second = await get(session, exchange, "trades", symbol="BTCUSDT")  # 5
    assert second.headers["X-MBX-USED-WEIGHT-1M"] in ("15", "5")  # "5": a new minute began
    async with session.get(f"{exchange.rest_url}/api/v3/ping") as spot:
        assert spot.headers["X-MBX-USED-WEIGHT-1M"] == "1"  # spot's budget is its own
    assert exchange.futures_limits.spent[("GET", "/fapi/v1/premiumIndex")] == 10


async def test_past_the_futures_budget_is_429_and_spot_goes_on(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    exchange.futures_limits.weight_per_minute = 12
    answers = []
    while not answers or answers[-1][0] != 429:
        assert len(answers) < 6, answers
        status, body, response = await get(session, exchange, "trades", symbol="ETHUSDT")
        answers.append((status, body, response.headers.get("Retry-After")))
    status, body, retry_after = answers[-1]
    assert body["code"] == -1003 and "12 request weight per 1 MINUTE" in body["msg"]
    assert retry_after is not None and int(retry_after) >= 1
    assert exchange.futures_limits.refused_weight == 1
    async with session.get(f"{exchange.rest_url}/api/v3/time") as spot:
        assert spot.status == 200


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["ETHBTC", "NOPEUSDT", "btcusdt", "PEPEUSDT"])
async def test_unknown_symbols_are_refused_with_1121(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession, symbol: str
) -> None:
    for path, params in (
        ("ticker/price", {}),
        ("premiumIndex", {}),
        ("openInterest", {}),
        ("fundingRate", {}),
        ("klines", {"interval": "1m"}),
    ):
        status, body, _ = await get(session, exchange, path, symbol=symbol, **params)
        assert (status, body) == (400, documented("Error -1121 :: Response")), path


async def test_parameter_errors_are_binances(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    status, body, _ = await get(session, exchange, "openInterest")
    assert (status, body["code"]) == (400, -1102)
    assert "'symbol'" in body["msg"]
    _, body, _ = await get(session, exchange, "klines", symbol="BTCUSDT")
    assert body["code"] == -1102 and "'interval'" in body["msg"]
    _, body, _ = await get(session, exchange, "klines", symbol="BTCUSDT", interval="1s")
    assert body == {"code": -1120, "msg": "Invalid interval."}
    _, body, _ = await get(session, exchange, "premiumIndex", symbol="BTCUSDT", pair="BTCUSDT")
    assert body["code"] == -1104
    _, body, _ = await get(session, exchange, "fundingRate", startTime="2", endTime="1")
    assert body["code"] == -1023
    _, body, _ = await get(session, exchange, "trades", symbol="BTCUSDT", limit="abc")
    assert body["code"] == -1100


# -- prices, funding, open interest ------------------------------------------------------------


async def test_futures_prices_follow_the_spot_market(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    exchange.set_price("BTCUSDT", Decimal("70000"))
    _, index, _ = await get(session, exchange, "premiumIndex", symbol="BTCUSDT")
    _, last, _ = await get(session, exchange, "ticker/price", symbol="BTCUSDT")
    mark = Decimal(index["markPrice"])
    assert Decimal(index["indexPrice"]) == Decimal("70000")
    assert Decimal("70000") < mark < Decimal(last["price"]) <= Decimal("70000") * Decimal("1.0005")
    exchange.futures.set_basis("BTCUSDT", Decimal("0"))
    _, index, _ = await get(session, exchange, "premiumIndex", symbol="BTCUSDT")
    _, last, _ = await get(session, exchange, "ticker/price", symbol="BTCUSDT")
    assert (index["markPrice"], last["price"]) == ("70000.00000000", "70000.00")
    _, trades, _ = await get(session, exchange, "trades", symbol="BTCUSDT", limit="1")
    assert trades[0]["price"] == "70000.00"


async def test_funding_settles_at_each_8_hour_mark(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    _, before, _ = await get(session, exchange, "premiumIndex", symbol="BTCUSDT")
    due = before["nextFundingTime"]
    assert due % EIGHT_HOURS_MS == 0 and 0 < due - before["time"] <= EIGHT_HOURS_MS
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("0.0005"))
    exchange.advance((due - before["time"]) / 1000 + 1)
    _, after, _ = await get(session, exchange, "premiumIndex", symbol="BTCUSDT")
    assert after["nextFundingTime"] == due + EIGHT_HOURS_MS
    assert after["lastFundingRate"] == "0.00050000"
    _, history, _ = await get(session, exchange, "fundingRate", symbol="BTCUSDT", limit="3")
    assert [row["fundingTime"] for row in history] == [
        due - 2 * EIGHT_HOURS_MS,
        due - EIGHT_HOURS_MS,
        due,
    ]
    assert history[-1]["fundingRate"] == "0.00050000"
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("-0.0002"))
    exchange.advance(16 * 3600)
    _, history, _ = await get(
        session, exchange, "fundingRate", symbol="BTCUSDT", startTime=str(due)
    )
    assert [(row["fundingTime"], row["fundingRate"]) for row in history] == [
        (due, "0.00050000"),
        (due + EIGHT_HOURS_MS, "-0.00020000"),
        (due + 2 * EIGHT_HOURS_MS, "-0.00020000"),
    ]
    _, window, _ = await get(
        session,
        exchange,
        "fundingRate",
        symbol="BTCUSDT",
        startTime=str(due),
        endTime=str(due + EIGHT_HOURS_MS),
        limit="1",
    )
    assert [row["fundingTime"] for row in window] == [due]


async def test_funding_history_exists_from_the_start_for_every_contract(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    _, rows, _ = await get(session, exchange, "fundingRate", limit="1000")
    assert {row["symbol"] for row in rows} == set(exchange.futures.contracts.names())
    times = [row["fundingTime"] for row in rows]
    assert times == sorted(times) and all(t % EIGHT_HOURS_MS == 0 for t in times)
    assert all(
        Decimal("-0.0001") <= Decimal(row["fundingRate"]) <= Decimal("0.0003") for row in rows
    )


async def test_open_interest_moves_with_prints_and_can_be_set(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    exchange.futures.set_open_interest("ETHUSDT", Decimal("81234.5678"))
    _, body, _ = await get(session, exchange, "openInterest", symbol="ETHUSDT")
    assert body["openInterest"] == "81234.567"  # the contract's step is 0.001
    exchange.set_price("ETHUSDT", Decimal("3100"), qty=Decimal("2"))
    _, moved, _ = await get(session, exchange, "openInterest", symbol="ETHUSDT")
    assert abs(Decimal(moved["openInterest"]) - Decimal("81234.567")) == Decimal("2")


# -- streams ----------------------------------------------------------------------------------


async def test_mark_price_streams_tick_every_second_and_every_three(
    exchange: ExchangeSimulator, stream: Any
) -> None:
    fast = await stream("btcusdt@markPrice@1s")
    slow = await stream("ethusdt@markPrice")
    fast_times = [(await next_json(fast))["E"] for _ in range(3)]
    slow_events = [await next_json(slow) for _ in range(2)]
    gaps = [b - a for a, b in itertools.pairwise(fast_times)]
    assert all(500 <= gap <= 2000 for gap in gaps), gaps  # a busy machine's timers drift
    slow_gap = slow_events[1]["E"] - slow_events[0]["E"]
    assert 2500 <= slow_gap <= 4500, slow_gap
    event = slow_events[0]
    same_shape(event, documented("<symbol>@markPrice :: Response"))
    assert list(event) == list(documented("<symbol>@markPrice :: Response"))  # e E s p ap i P r T
    assert (event["e"], event["s"]) == ("markPriceUpdate", "ETHUSDT")
    assert event["T"] % EIGHT_HOURS_MS == 0


async def test_mark_price_is_published_at_once_when_the_price_moves(
    exchange: ExchangeSimulator, stream: Any
) -> None:
    await exchange.futures_streams.stop()  # no timer: only a move can publish now
    exchange.futures.set_basis("SOLUSDT", Decimal("0"))
    ws = await stream("solusdt@markPrice")
    exchange.set_price("SOLUSDT", Decimal("150.5"))
    event = await next_json(ws)
    assert (event["p"], event["i"]) == ("150.50000000", "150.50000000")
    exchange.futures.set_funding_rate("SOLUSDT", Decimal("0.0007"))
    assert (await next_json(ws))["r"] == "0.00070000"


async def test_agg_trade_and_kline_events_have_futures_shapes(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    exchange.futures.set_basis("BTCUSDT", Decimal("0"))
    streams = ["btcusdt@aggTrade", "btcusdt@kline_1m"]
    url = f"{exchange.futures_stream_url}/stream?streams={'/'.join(streams)}"
    async with session.ws_connect(url) as ws:
        await subscribed(exchange, *streams)
        exchange.set_price("BTCUSDT", Decimal("71000"), qty=Decimal("0.5"))
        events: dict[str, Any] = {}
        # the candle current at the subscription may close first, when a minute turned since
        while len(events) < 2 or events["btcusdt@kline_1m"]["k"]["x"]:
            message = await next_json(ws)
            events[message["stream"]] = message["data"]
    agg = events["btcusdt@aggTrade"]
    same_shape(agg, documented("<symbol>@aggTrade :: Response"))
    assert "M" not in agg and (agg["p"], agg["q"]) == ("71000.00", "0.500")
    kline = events["btcusdt@kline_1m"]
    same_shape(kline, documented("<symbol>@kline_<interval> :: Response"))
    assert (kline["k"]["c"], kline["k"]["i"], kline["k"]["x"]) == ("71000.00", "1m", False)


async def test_subscribe_unsubscribe_and_list(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(f"{exchange.futures_stream_url}/ws") as ws:
        replies = []
        for message in (
            {
                "method": "SUBSCRIBE",
                "params": ["btcusdt@markPrice@1s", "ethusdt@aggTrade"],
                "id": 1,
            },
            {"method": "UNSUBSCRIBE", "params": ["ethusdt@aggTrade"], "id": 2},
            {"method": "LIST_SUBSCRIPTIONS", "id": 3},
            {"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 4},
        ):
            await ws.send_json(message)
            reply = await next_json(ws)
            while "id" not in reply:  # a mark price event may come first
                reply = await next_json(ws)
            replies.append(reply)
            await asyncio.sleep(0.25)  # stay under 5 control messages a second
    assert replies[0] == {"result": None, "id": 1}
    assert replies[1] == {"result": None, "id": 2}
    assert replies[2] == {"result": ["btcusdt@markPrice@1s"], "id": 3}
    assert replies[3]["error"]["code"] == 2  # a spot-only stream is not a futures stream


async def test_spot_paths_do_not_carry_futures_streams(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{exchange.stream_url}/ws/btcusdt@markPrice") as response:
        assert response.status == 400
    async with session.get(f"{exchange.futures_stream_url}/ws/btcusdt@trade") as response:
        assert response.status == 400
    # Binance's unrouted futures root no longer carries /market streams: not served here
    root = exchange.futures_stream_url.removesuffix("/market")
    for path in ("/ws/btcusdt@markPrice", "/stream?streams=btcusdt@markPrice"):
        async with session.get(root + path) as response:
            assert response.status == 404


async def test_dropped_futures_connections_can_reconnect(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession, stream: Any
) -> None:
    ws = await stream("bnbusdt@markPrice@1s")
    await exchange.drop_websockets()
    message = await ws.receive(timeout=WAIT)
    assert message.type in (
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.ERROR,
        aiohttp.WSMsgType.CLOSE,
    )
    again = await stream("bnbusdt@markPrice@1s")
    assert (await next_json(again))["s"] == "BNBUSDT"


async def test_futures_controls_over_http(
    exchange: ExchangeSimulator, session: aiohttp.ClientSession
) -> None:
    url = f"{exchange.rest_url}/_sandbox/futures"
    exchange.set_price("XRPUSDT", Decimal("2.5"))
    body = {"symbol": "XRPUSDT", "basis": "0", "fundingRate": "0.0004", "openInterest": "12345.67"}
    async with session.post(url, json=body) as reply:
        assert reply.status == 200
        assert await reply.json() == {
            "symbol": "XRPUSDT",
            "markPrice": "2.50000000",
            "fundingRate": "0.00040000",
            "openInterest": "12345.6",
        }
    async with session.post(url, json={"symbol": "ETHBTC", "fundingRate": "0.1"}) as reply:
        assert reply.status == 400
        assert "no USDT-M perpetual" in (await reply.json())["error"]
    _, index, _ = await get(session, exchange, "premiumIndex", symbol="XRPUSDT")
    assert index["lastFundingRate"] == "0.00040000"
