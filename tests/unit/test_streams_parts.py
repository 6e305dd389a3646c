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


# -- the futures mark price channel ------------------------------------------------------------


def mark_update(symbol: str, event_time: int, mark: str, rate: str) -> dict[str, Any]:
    """A `markPriceUpdate` as Binance's futures docs show it: `T` is the next funding time."""
    return {"e": "markPriceUpdate", "E": event_time, "s": symbol, "p": mark, "i": "64990.1",
            "P": "65001.2", "r": rate, "T": 1_562_306_400_000}  # fmt: skip


def futures_group(
    prices: list[tuple[str, Decimal, int]], rates: list[tuple[str, Decimal, int]], open_socket: Any
) -> StreamGroup:
    return StreamGroup(
        open_socket=open_socket,
        on_price=lambda s, p, t: prices.append((s, p, t)),
        on_funding=lambda s, r, t: rates.append((s, r, t)),
        notify_gap=lambda symbols: None,
        state_changed=lambda: None,
        settings=MarketStreamSettings(
            url="ws://unused", channel="markPrice@1s", control_rate=10.0, renew_after=3600.0
        ),
    )


def test_the_mark_price_channel_names_its_stream_event_and_fields():
    settings = MarketStreamSettings(url="ws://unused", channel="markPrice@1s", control_rate=10.0)
    assert stream_name("BTCUSDT", settings.channel) == "btcusdt@markPrice@1s"
    assert (settings.shape.event, settings.id_field, settings.shape.time) == (
        "markPriceUpdate",
        "E",
        "E",
    )
    assert ControlBudget(settings.control_rate).capacity == 9  # futures allow 10 a second


def test_a_mark_price_update_gives_the_mark_at_its_event_time_and_the_funding_rate():
    prices: list[tuple[str, Decimal, int]] = []
    rates: list[tuple[str, Decimal, int]] = []
    group = futures_group(prices, rates, None)
    group.want("btcusdt@markPrice@1s", "BTCUSDT")
    group.deliver(mark_update("BTCUSDT", 1_000, "65000.50", "0.00010000"))
    group.deliver({**mark_update("BTCUSDT", 2_000, "65001", ""), "r": ""})  # no rate announced
    group.deliver(mark_update("ETHUSDT", 3_000, "3000", "0.0001"))  # not wanted
    assert prices == [("BTCUSDT", Decimal("65000.50"), 1_000), ("BTCUSDT", Decimal("65001"), 2_000)]
    assert rates == [("BTCUSDT", Decimal("0.00010000"), 1_000)]


def test_trades_never_reach_on_funding():
    rates: list[Any] = []
    group = StreamGroup(
        open_socket=None,  # type: ignore[arg-type]
        on_price=lambda s, p, t: None,
        on_funding=lambda s, r, t: rates.append(r),
        notify_gap=lambda symbols: None,
        state_changed=lambda: None,
        settings=MarketStreamSettings(url="ws://unused"),
    )
    group.want("btcusdt@trade", "BTCUSDT")
    group.deliver({**trade("BTCUSDT", 1, "2"), "r": "0.1"})
    assert rates == []


async def test_the_reader_passes_mark_price_updates_on_a_futures_socket():
    ws, seen = ScriptedWs(), []
    socket = MarketSocket(
        ws,  # type: ignore[arg-type]
        ["btcusdt@markPrice@1s"],
        event="markPriceUpdate",
        sink=seen.append,
        wake=lambda: None,
        budget=ControlBudget(10.0),
        silence_timeout=5.0,
        request_timeout=1.0,
    )
    ws.push({"stream": "btcusdt@markPrice@1s", "data": mark_update("BTCUSDT", 5, "1", "0")})
    ws.push({"stream": "btcusdt@trade", "data": trade("BTCUSDT", 7, "1.5")})  # not this channel
    answer = asyncio.create_task(socket.request("LIST_SUBSCRIPTIONS"))
    await asyncio.sleep(0)
    ws.push({"result": ["btcusdt@markPrice@1s"], "id": 1})
    assert await answer == ["btcusdt@markPrice@1s"]
    assert [d["E"] for d in seen] == [5]
    await socket.close()


async def test_a_renewal_of_mark_prices_hands_over_by_event_time():
    prices: list[tuple[str, Decimal, int]] = []
    rates: list[tuple[str, Decimal, int]] = []
    sockets: list[FakeSocket] = []

    def second(n: int) -> dict[str, Any]:
        return mark_update("BTCUSDT", n * 1000, str(n), "0.0001")

    async def open_socket(streams: list[str], sink: Any, wake: Any) -> FakeSocket:
        sockets.append(FakeSocket(streams, sink))
        if len(sockets) == 2:  # the new socket hears seconds 3-4 while it subscribes
            for n in (3, 4):
                sockets[1].sink(second(n))
        return sockets[-1]

    group = futures_group(prices, rates, open_socket)
    group.want("btcusdt@markPrice@1s", "BTCUSDT")
    old = await group._open(group.deliver)
    group.socket = old  # type: ignore[assignment]
    for n in (1, 2, 3):
        old.sink(second(n))
    old.on_request = lambda method: [old.sink(second(n)) for n in (4, 5, 6)]
    await group._renew(old)  # type: ignore[arg-type]
    for n in (5, 6, 7, 8):  # the new socket catches up
        sockets[1].sink(second(n))
    assert [t // 1000 for _, _, t in prices] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [t // 1000 for _, _, t in rates] == [1, 2, 3, 4, 5, 6, 7, 8]
