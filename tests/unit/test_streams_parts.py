"""The market-stream manager's pure parts: names, URLs, pacing, allocation, the handover."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import WSMsgType
from hypothesis import given
from hypothesis import strategies as st

from chatbot.exchange.market_stream.group import StreamGroup
from chatbot.exchange.market_stream.settings import MarketStreamSettings
from chatbot.exchange.market_stream.socket import (
    ControlBudget,
    ControlRefused,
    MarketSocket,
    batches,
    combined_url,
    normalize_symbol,
    stream_name,
)
from chatbot.exchange.market_stream.stream import MarketStream

# -- names and URLs ----------------------------------------------------------------------------


def test_symbols_are_upper_case_and_streams_lower_case():
    assert normalize_symbol(" btcUSDT ") == "BTCUSDT"
    assert stream_name("BTCUSDT", "trade") == "btcusdt@trade"


@pytest.mark.parametrize("bad", ["", "  ", "BTC@USDT", "BTC/USDT", "BTC USDT", "BTC\nUSDT"])
def test_what_cannot_be_a_stream_symbol_is_refused(bad):
    with pytest.raises(ValueError):
        normalize_symbol(bad)


def test_the_url_carries_the_streams_that_fit():
    streams = [f"s{i:03d}@trade" for i in range(10)]  # 10 characters each
    url, carried = combined_url("wss://stream.binance.com:9443/", streams, max_chars=32)
    assert carried == streams[:3]  # 3 names and 2 slashes: 32 characters
    assert url == "wss://stream.binance.com:9443/stream?streams=" + "/".join(streams[:3])
    assert combined_url("ws://h:1", []) == ("ws://h:1/stream", [])


def test_batches_split_in_order():
    items = [str(i) for i in range(5)]
    assert list(batches(items, 2)) == [["0", "1"], ["2", "3"], ["4"]]


# -- pacing ------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_leaves_room_for_a_pong_and_a_margin():
    clock = FakeClock()
    budget = ControlBudget(5.0, clock=clock)
    assert (budget.capacity, budget.window) == (4, pytest.approx(1.1))
    for _ in range(4):
        assert budget.wait_time() == 0
        budget.spend()
    assert budget.wait_time() == pytest.approx(1.1)
    clock.now = 1.1
    assert budget.wait_time() == 0


@given(
    rate=st.sampled_from([1.0, 2.0, 5.0, 10.0]),
    gaps=st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=60),
)
def test_no_second_ever_holds_more_frames_than_the_rate_allows(rate, gaps):
    clock = FakeClock()
    budget = ControlBudget(rate, clock=clock)
    sent: list[float] = []
    for gap in gaps:  # a message wanted `gap` seconds after the previous one was sent
        clock.now += gap
        while (delay := budget.wait_time()) > 0:  # what acquire() does, without sleeping
            clock.now += delay
        budget.spend()
        sent.append(clock.now)
    allowed = max(1, math.floor(rate) - 1)
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + 1.0) <= allowed


# -- allocation --------------------------------------------------------------------------------


def ignore_price(symbol: str, price: Decimal, trade_time_ms: int) -> None:
    pass


async def test_symbols_fill_connections_in_order_and_an_emptied_extra_one_goes():
    settings = MarketStreamSettings(url="ws://unused", streams_per_socket=3)
    stream = MarketStream(settings, on_price=ignore_price)
    for i in range(7):
        await stream.add(f"SYM{i}USDT")
    await stream.add("sym0usdt")  # counted, not subscribed twice
    assert [len(c.wanted) for c in stream._groups] == [3, 3, 1]

    await stream.remove("SYM6USDT")
    assert [len(c.wanted) for c in stream._groups] == [3, 3]
    await stream.remove("SYM0USDT")
    assert "SYM0USDT" in stream.symbols  # one reference left
    await stream.remove("SYM0USDT")
    await stream.remove("SYM0USDT")  # more removes than adds: nothing happens
    await stream.add("NEWUSDT")
    assert list(stream._groups[0].wanted) == [
        "sym1usdt@trade",
        "sym2usdt@trade",
        "newusdt@trade",
    ]
    await stream.stop()


def test_on_price_must_be_a_plain_function_and_the_channel_known():
    async def on_price(symbol: str, price: Decimal, trade_time_ms: int) -> None:
        pass

    with pytest.raises(TypeError):
        MarketStream(MarketStreamSettings(url="ws://unused"), on_price=on_price)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MarketStreamSettings(url="ws://unused", channel="depth")
    with pytest.raises(ValueError):
        MarketStreamSettings(url="ws://unused", streams_per_socket=1025)


# -- one socket's reader, on a scripted WebSocket ----------------------------------------------


class Frame:
    def __init__(self, type_: WSMsgType, data: Any = None) -> None:
        self.type = type_
        self.data = data


class ScriptedWs:
    """Just enough of aiohttp's client WebSocket: frames to read, frames written."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[Frame] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.closed = False

    def push(self, payload: Any) -> None:
        self.incoming.put_nowait(Frame(WSMsgType.TEXT, json.dumps(payload)))

    async def receive(self, timeout: float | None = None) -> Frame:  # noqa: ASYNC109 (aiohttp's)
        async with asyncio.timeout(timeout):
            return await self.incoming.get()

    async def send_str(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self) -> None:
        self.closed = True


def trade(symbol: str, trade_id: int, price: str) -> dict[str, Any]:
    return {"e": "trade", "E": 1, "s": symbol, "t": trade_id, "p": price, "T": 2}


def scripted_socket(
    ws: ScriptedWs, sink: Any, wake: Callable[[], None], silence: float = 5.0
) -> MarketSocket:
    return MarketSocket(
        ws,  # type: ignore[arg-type]
        ["btcusdt@trade"],
        event="trade",
        sink=sink,
        wake=wake,
        budget=ControlBudget(5.0),
        silence_timeout=silence,
        request_timeout=1.0,
    )


async def test_the_reader_routes_trades_answers_and_a_shutdown_notice():
    ws, seen, wakes = ScriptedWs(), [], []
    socket = scripted_socket(ws, seen.append, lambda: wakes.append(1))
    ws.push({"stream": "btcusdt@trade", "data": trade("BTCUSDT", 7, "1.5")})
    ws.push({"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade", "s": "BTCUSDT"}})
    answer = asyncio.create_task(socket.request("SUBSCRIBE", ["ethusdt@trade"]))
    await asyncio.sleep(0)
    assert ws.sent == [{"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": 1}]
    ws.push({"result": None, "id": 1})
    assert await answer is None

    refused = asyncio.create_task(socket.request("SUBSCRIBE", ["x"]))
    await asyncio.sleep(0)
    ws.push({"error": {"code": 2, "msg": "Invalid request"}, "id": 2})
    with pytest.raises(ControlRefused) as error:
        await refused
    assert error.value.code == 2

    ws.push({"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": 3}})
    async with asyncio.timeout(5):  # the reader takes frames in order: the notice comes last
        while not socket.shutdown_announced:  # noqa: ASYNC110
            await asyncio.sleep(0)
    assert [d["t"] for d in seen] == [7]
    assert socket.shutdown_announced and wakes == [1]
    await socket.close()


async def test_a_silent_socket_closes_itself():
    ws = ScriptedWs()
    closed = asyncio.Event()
    socket = scripted_socket(ws, lambda data: None, closed.set, silence=0.05)
    async with asyncio.timeout(2):
        await closed.wait()
    assert socket.closed and ws.closed


# -- the handover during a renewal -------------------------------------------------------------


class FakeSocket:
    """A socket whose frames the test delivers through `sink`, as the reader would."""

    def __init__(self, streams: list[str], sink: Any) -> None:
        self.told = set(streams)
        self.sink = sink
        self.budget = ControlBudget(5.0)
        self.opened_at = 0.0
        self.renew_at = math.inf
        self.shutdown_announced = False
        self.closed = False
        self.on_request: Any = None

    async def request(self, method: str, params: list[Any] | None = None) -> Any:
        if self.on_request is not None:
            self.on_request(method)
        return [] if method == "LIST_SUBSCRIPTIONS" else None

    async def close(self) -> None:
        self.closed = True


async def test_a_renewal_hands_over_without_losing_or_repeating_a_trade():
    delivered: list[tuple[str, Decimal]] = []
    sockets: list[FakeSocket] = []

    async def open_socket(streams: list[str], sink: Any, wake: Any) -> FakeSocket:
        sockets.append(FakeSocket(streams, sink))
        if len(sockets) == 2:  # the new socket hears trades 3-4 while it subscribes
            for i in (3, 4):
                sockets[1].sink(trade("BTCUSDT", i, str(i)))
        return sockets[-1]

    connection = StreamGroup(
        open_socket=open_socket,  # type: ignore[arg-type]
        on_price=lambda s, p, t: delivered.append((s, p)),
        notify_gap=lambda symbols: None,
        state_changed=lambda: None,
        settings=MarketStreamSettings(url="ws://unused", renew_after=3600.0, backoff=(0.1, 1.0)),
    )
    connection.want("btcusdt@trade", "BTCUSDT")
    old = await connection._open(connection.deliver)
    connection.socket = old  # type: ignore[assignment]
    for i in (1, 2, 3):
        old.sink(trade("BTCUSDT", i, str(i)))

    def old_runs_ahead(method: str) -> None:  # frames read before the barrier's answer
        for i in (4, 5, 6):
            old.sink(trade("BTCUSDT", i, str(i)))

    old.on_request = old_runs_ahead
    await connection._renew(old)  # type: ignore[arg-type]
    new = sockets[1]
    old.sink(trade("BTCUSDT", 7, "7"))  # late frames of the old socket are ignored
    for i in (5, 6, 7, 8):  # the new socket catches up
        new.sink(trade("BTCUSDT", i, str(i)))

    assert connection.socket is new and old.closed
    assert [int(p) for _, p in delivered] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert new.sink == connection.deliver  # caught up: back to the lean path
