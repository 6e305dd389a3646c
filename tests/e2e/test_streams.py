"""The market-stream manager against the simulator's streams, over real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from chatbot.exchange.market_stream.group import PriceHandler
from chatbot.exchange.market_stream.settings import MarketStreamSettings
from chatbot.exchange.market_stream.stream import MarketStream

WAIT = 5.0  # seconds: generous, for a loaded machine; a passing test never waits this long
FAST = {"backoff": (0.05, 0.3), "request_timeout": 3.0}


class Recorder:
    """Everything the stream's callbacks received, and a way to wait for what is expected."""

    def __init__(self) -> None:
        self.prices: list[tuple[str, Decimal, int]] = []
        self.gaps: list[list[str]] = []
        self.states: list[bool] = []
        self._changed = asyncio.Event()

    def on_price(self, symbol: str, price: Decimal, trade_time_ms: int) -> None:
        self.prices.append((symbol, price, trade_time_ms))
        self._changed.set()

    async def on_gap(self, symbols: list[str]) -> None:
        self.gaps.append(symbols)
        self._changed.set()

    async def on_state(self, up: bool) -> None:
        self.states.append(up)
        self._changed.set()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def prices_of(self, symbol: str) -> list[Decimal]:
        return [p for s, p, _ in self.prices if s == symbol]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def stream_factory(exchange, recorder) -> AsyncIterator[Callable[..., Any]]:
    """Start market streams on the simulator (fast backoff); all are stopped afterwards."""
    streams: list[MarketStream] = []

    async def start(*, on_price: PriceHandler | None = None, **settings: Any) -> MarketStream:
        stream = MarketStream(
            MarketStreamSettings(**{"url": exchange.stream_url, **FAST, **settings}),
            on_price=on_price or recorder.on_price,
            on_gap=recorder.on_gap,
            on_state=recorder.on_state,
        )
        streams.append(stream)
        await stream.start()
        return stream

    yield start
    for stream in streams:
        await stream.stop()


@pytest.fixture
async def stream(stream_factory) -> MarketStream:
    return await stream_factory()


async def settled(stream: MarketStream) -> None:
    async with asyncio.timeout(WAIT):
        await stream.settle()


def control_log(exchange, monkeypatch) -> list[float]:
    """The times the simulator received control messages (a spy on its handler)."""
    times: list[float] = []
    handle = exchange.streams._control

    async def spy(connection: Any, text: str) -> bool:
        times.append(time.monotonic())
        return await handle(connection, text)

    monkeypatch.setattr(exchange.streams, "_control", spy)
    return times


async def sockets_open(exchange, count: int) -> None:
    """Wait until the simulator has `count` WebSockets open (it learns of a close a little
    after the client)."""
    async with asyncio.timeout(WAIT):
        while exchange.open_websockets != count:  # noqa: ASYNC110 (the simulator has no event)
            await asyncio.sleep(0.01)


def most_in_one_second(times: list[float]) -> int:
    return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)


async def test_a_set_price_reaches_on_price_as_the_exact_decimal(stream, exchange, recorder):
    await stream.add("btcusdt")
    await settled(stream)
    exchange.set_price("BTCUSDT", Decimal("64123.45"))
    await recorder.wait_until(lambda: recorder.prices)
    symbol, price, trade_time = recorder.prices[0]
    assert (symbol, price) == ("BTCUSDT", Decimal("64123.45"))
    assert abs(trade_time - time.time() * 1000) < 60_000


async def test_subscriptions_are_counted_by_reference(stream, exchange, recorder):
    for symbol in ("BTCUSDT", "BTCUSDT", "ETHUSDT", "BNBUSDT"):
        await stream.add(symbol)
    await settled(stream)
    await stream.remove("BTCUSDT")
    await stream.remove("ETHUSDT")
    await settled(stream)
    assert await stream.subscriptions() == [{"btcusdt@trade", "bnbusdt@trade"}]
    assert stream.symbols == {"BTCUSDT", "BNBUSDT"}

    await stream.remove("BTCUSDT")
    await settled(stream)
    assert stream.symbols == {"BNBUSDT"}
    for symbol, price in (("BTCUSDT", "1000"), ("ETHUSDT", "2000"), ("BNBUSDT", "300")):
        exchange.set_price(symbol, Decimal(price))
    # BNBUSDT's trade was published last on the one connection: anything else arrives first
    await recorder.wait_until(lambda: recorder.prices_of("BNBUSDT"))
    assert [(s, p) for s, p, _ in recorder.prices] == [("BNBUSDT", Decimal("300"))]


async def test_each_symbols_trades_arrive_in_order(stream, exchange, recorder):
    for symbol in ("BTCUSDT", "ETHUSDT"):
        await stream.add(symbol)
    await settled(stream)
    btc = [Decimal(60000) + i for i in range(50)]
    eth = [Decimal(3000) + i for i in range(50)]
    for b, e in zip(btc, eth, strict=True):
        exchange.set_price("BTCUSDT", b)
        exchange.set_price("ETHUSDT", e)
    await recorder.wait_until(lambda: len(recorder.prices) == 100)
    assert recorder.prices_of("BTCUSDT") == btc
    assert recorder.prices_of("ETHUSDT") == eth


async def test_more_than_1024_streams_open_a_second_connection(stream, exchange, recorder):
    fake = [f"FAKE{i:04d}USDT" for i in range(1999)]  # well-formed: the simulator accepts them
    for symbol in [*fake, "BTCUSDT"]:
        await stream.add(symbol)
    await settled(stream)
    held = await stream.subscriptions()
    assert [len(streams) for streams in held] == [1024, 976]
    assert set().union(*held) == {f"{s.lower()}@trade" for s in [*fake, "BTCUSDT"]}
    exchange.set_price("BTCUSDT", Decimal("61000"))
    await recorder.wait_until(lambda: recorder.prices)
    assert recorder.prices_of("BTCUSDT") == [Decimal("61000")]
    assert recorder.states == []  # never cut for too many streams or messages


async def test_an_emptied_extra_connection_is_closed(stream_factory, exchange):
    stream = await stream_factory(streams_per_socket=2)
    for symbol in ("BTCUSDT", "ETHUSDT", "BNBUSDT"):
        await stream.add(symbol)
    await settled(stream)
    assert exchange.open_websockets == 2
    await stream.remove("BNBUSDT")
    await sockets_open(exchange, 1)
    assert await stream.subscriptions() == [{"btcusdt@trade", "ethusdt@trade"}]


async def test_bursts_of_adds_are_paced_and_never_flood_the_connection(
    stream, exchange, recorder, monkeypatch
):
    received = control_log(exchange, monkeypatch)
    symbols = [f"BURST{i:03d}USDT" for i in range(100)]
    for symbol in symbols:  # a burst spread over ~0.3 s: without coalescing, 100 messages
        await stream.add(symbol)
        await asyncio.sleep(0.003)
    for symbol in symbols[::2]:
        await stream.remove(symbol)
    await settled(stream)

    assert most_in_one_second(received) <= 5
    assert len(received) < 20
    assert await stream.subscriptions() == [{f"{s.lower()}@trade" for s in symbols[1::2]}]
    assert recorder.states == []  # the simulator never closed it for flooding
    assert exchange.open_websockets == 1


async def test_a_dropped_connection_comes_back_and_reports_the_gap(stream, exchange, recorder):
    for symbol in ("BTCUSDT", "ETHUSDT"):
        await stream.add(symbol)
    await settled(stream)
    assert stream.connected and stream.down_since is None

    await exchange.drop_websockets()
    await recorder.wait_until(lambda: recorder.states == [False, True])
    assert recorder.gaps[-1] == ["BTCUSDT", "ETHUSDT"]
    assert stream.connected and stream.down_since is None

    exchange.set_price("ETHUSDT", Decimal("3100"))
    await recorder.wait_until(lambda: recorder.prices)
    assert recorder.prices_of("ETHUSDT") == [Decimal("3100")]


async def test_down_since_is_set_while_the_stream_is_down(stream_factory, exchange, recorder):
    stream = await stream_factory(backoff=(0.4, 0.4))
    await stream.add("BTCUSDT")
    await settled(stream)
    before = time.time()
    await exchange.drop_websockets()
    await recorder.wait_until(lambda: recorder.states == [False])
    assert not stream.connected
    assert stream.down_since is not None and before <= stream.down_since <= time.time()
    await stream.add("ETHUSDT")  # added while down: subscribed when it is back
    await recorder.wait_until(lambda: recorder.states == [False, True])
    assert recorder.gaps[-1] == ["BTCUSDT", "ETHUSDT"]
    assert stream.down_since is None


async def test_renewal_loses_and_duplicates_nothing(stream_factory, exchange, recorder):
    stream = await stream_factory(renew_after=0.1)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        await stream.add(symbol)
    await settled(stream)
    sent = [Decimal(60000) + Decimal(i) / 100 for i in range(300)]
    for i, price in enumerate(sent):
        exchange.set_price("BTCUSDT", price)
        if i % 2:
            exchange.set_price("ETHUSDT", Decimal(3000) + i)
        await asyncio.sleep(0.002)  # ~0.6 s of trades across several renewals
    # a last trade on each symbol: once it arrives, a duplicate of an earlier one has too
    exchange.set_price("BTCUSDT", Decimal(59000))
    exchange.set_price("ETHUSDT", Decimal(2000))
    await recorder.wait_until(lambda: Decimal(59000) in recorder.prices_of("BTCUSDT"))
    await recorder.wait_until(lambda: Decimal(2000) in recorder.prices_of("ETHUSDT"))
    assert len(recorder.gaps) >= 3  # renewals happened (each one reports its symbols)
    assert recorder.prices_of("BTCUSDT") == [*sent, Decimal(59000)]
    eth = [Decimal(3000) + i for i in range(1, 300, 2)]
    assert recorder.prices_of("ETHUSDT") == [*eth, Decimal(2000)]
    assert recorder.states == []  # a renewal is not an outage


async def test_a_silent_connection_is_replaced(stream_factory, exchange, recorder):
    stream = await stream_factory(silence_timeout=0.3)  # the simulator pings every 20 s
    await stream.add("BTCUSDT")
    await settled(stream)
    await recorder.wait_until(lambda: recorder.states[:2] == [False, True])
    assert recorder.gaps[-1] == ["BTCUSDT"]


async def test_pings_keep_a_quiet_connection_alive(exchange_factory, recorder):
    exchange = await exchange_factory(ping_interval=0.3)
    stream = MarketStream(
        MarketStreamSettings(url=exchange.stream_url, silence_timeout=0.9, **FAST),
        on_price=recorder.on_price,
        on_gap=recorder.on_gap,
        on_state=recorder.on_state,
    )
    await stream.start()
    try:
        await stream.add("BTCUSDT")
        await settled(stream)
        await asyncio.sleep(1.2)  # no trades; aiohttp answers the pings
        assert recorder.states == []
        assert stream.connected
    finally:
        await stream.stop()


async def test_a_failing_on_price_does_not_stop_the_stream(stream_factory, exchange, recorder):
    def on_price(symbol: str, price: Decimal, trade_time_ms: int) -> None:
        recorder.on_price(symbol, price, trade_time_ms)
        raise RuntimeError("caller bug")

    stream = await stream_factory(on_price=on_price)
    await stream.add("BTCUSDT")
    await settled(stream)
    exchange.set_price("BTCUSDT", Decimal("60001"))
    exchange.set_price("BTCUSDT", Decimal("60002"))
    await recorder.wait_until(lambda: len(recorder.prices) == 2)
    assert stream.connected


async def test_an_unreachable_exchange_reports_down_and_stops_quickly(stream_factory, recorder):
    stream = await stream_factory(url="ws://127.0.0.1:9")  # nothing listens on the discard port
    await stream.add("BTCUSDT")
    await recorder.wait_until(lambda: recorder.states == [False])
    assert not stream.connected and stream.down_since is not None
    started = time.monotonic()
    await stream.stop()
    assert time.monotonic() - started < 1.0


async def test_stop_is_quick(stream, exchange):
    await stream.add("BTCUSDT")
    await settled(stream)
    started = time.monotonic()
    await stream.stop()
    assert time.monotonic() - started < 1.0
    await sockets_open(exchange, 0)
