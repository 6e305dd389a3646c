"""Kline streams on the market-stream manager against the simulator, over real sockets: live
candles, the closed one after the clock moves on, a gap caught up over REST, renewals, and the
room kline streams take on a socket."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from chatbot.exchange.client import BinanceClient
from chatbot.exchange.market_models import Kline
from chatbot.exchange.market_stream.settings import MarketStreamSettings
from chatbot.exchange.market_stream.stream import MarketStream
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.test_streams import FAST, Recorder, settled, sockets_open

MINUTE = 60_000
CANDLES = 250  # closed during the renewals test


class CandleRecorder(Recorder):
    """What the callbacks received, candles too."""

    def __init__(self) -> None:
        super().__init__()
        self.klines: list[tuple[str, str, Kline, bool]] = []

    def on_kline(self, symbol: str, interval: str, kline: Kline, closed: bool) -> None:
        self.klines.append((symbol, interval, kline, closed))
        self._changed.set()

    def closed(self, symbol: str, interval: str = "1m") -> list[Kline]:
        return [k for s, i, k, x in self.klines if (s, i, x) == (symbol, interval, True)]


@pytest.fixture
def recorder() -> CandleRecorder:
    return CandleRecorder()


@pytest.fixture
async def candle_streams(
    exchange: ExchangeSimulator, recorder: CandleRecorder
) -> AsyncIterator[Callable[..., Any]]:
    """Start market streams with `on_kline` on the simulator; all stopped afterwards."""
    streams: list[MarketStream] = []

    async def start(**settings: Any) -> MarketStream:
        stream = MarketStream(
            MarketStreamSettings(**{"url": exchange.stream_url, **FAST, **settings}),
            on_price=recorder.on_price,
            on_kline=recorder.on_kline,
            on_gap=recorder.on_gap,
            on_state=recorder.on_state,
        )
        streams.append(stream)
        await stream.start()
        return stream

    yield start
    for stream in streams:
        await stream.stop()


async def test_live_candles_arrive_and_the_old_one_closes_after_the_clock_moves_on(
    candle_streams, exchange: ExchangeSimulator, recorder: CandleRecorder
) -> None:
    stream = await candle_streams()
    await stream.add_klines("BTCUSDT", "1m")
    await settled(stream)
    exchange.set_price("BTCUSDT", Decimal(60_000), qty=Decimal(2))
    exchange.set_price("BTCUSDT", Decimal(60_100), qty=Decimal(1))
    await recorder.wait_until(lambda: len(recorder.klines) == 2)
    live = recorder.klines[-1][2]
    assert (live.close, live.high, live.volume, live.trades) == (
        Decimal(60_100),
        Decimal(60_100),
        Decimal(3),
        2,
    )

    exchange.advance(120)
    exchange.set_price("BTCUSDT", Decimal(59_000))
    await recorder.wait_until(lambda: len(recorder.klines) == 4)
    (_, _, closed, x_closed), (_, _, fresh, x_fresh) = recorder.klines[2:]
    assert (x_closed, x_fresh) == (True, False)  # the old candle's end comes first
    assert (closed.open_time, closed.close, closed.volume) == (
        live.open_time,
        Decimal(60_100),
        Decimal(3),
    )
    assert closed.close_time == live.open_time + MINUTE - 1
    assert (fresh.open_time - live.open_time) // MINUTE in (2, 3)  # 2 min on, and real time
    assert fresh.close == Decimal(59_000)
    assert recorder.prices == []  # candles only: no trade stream was asked for


async def test_a_gap_names_the_kline_only_symbol_and_rest_gives_the_candles_missed(
    candle_streams, exchange: ExchangeSimulator, recorder: CandleRecorder
) -> None:
    stream = await candle_streams(backoff=(1.0, 1.0))
    await stream.add("BTCUSDT")
    await stream.add_klines("ETHUSDT", "1m")
    await settled(stream)
    exchange.set_price("ETHUSDT", Decimal(3000))
    await recorder.wait_until(lambda: recorder.klines)
    seen = recorder.klines[-1][2].open_time

    await exchange.drop_websockets()
    await recorder.wait_until(lambda: recorder.states == [False])
    exchange.advance(180)  # while nobody listens: the candle closes, two more go by empty
    exchange.set_price("ETHUSDT", Decimal(3100))
    await recorder.wait_until(lambda: recorder.states == [False, True])
    assert recorder.gaps[-1] == ["BTCUSDT", "ETHUSDT"]
    assert recorder.closed("ETHUSDT") == []  # missed: the caller catches up over REST

    async with BinanceClient(exchange.rest_url) as client:
        candles = await client.klines_between("ETHUSDT", "1m", seen, exchange.clock.now_ms())
    assert candles[0].open_time == seen
    printed = [k for k in candles if k.volume]
    assert [k.close for k in printed] == [Decimal(3000), Decimal(3100)]
    assert (printed[1].open_time - seen) // MINUTE in (3, 4)  # 3 min on, and real time
    for before, candle in itertools.pairwise(candles):
        assert candle.open_time == before.open_time + MINUTE
        if not candle.volume:  # an empty minute: the previous close throughout
            assert {candle.open, candle.high, candle.low, candle.close} == {before.close}

    exchange.set_price("ETHUSDT", Decimal(3200))  # and live again
    await recorder.wait_until(lambda: recorder.klines[-1][2].close == Decimal(3200))


async def test_renewals_deliver_each_closed_candle_exactly_once(
    candle_streams, exchange: ExchangeSimulator, recorder: CandleRecorder
) -> None:
    stream = await candle_streams(renew_after=0.1)
    await stream.add("BTCUSDT")
    await stream.add_klines("BTCUSDT", "1m")
    await settled(stream)
    closes = [Decimal(60_000) + i for i in range(CANDLES)]
    for price in closes:
        exchange.advance(60)
        exchange.set_price("BTCUSDT", price)
        await asyncio.sleep(0.002)  # ~0.6 s of candles across several renewals
    exchange.advance(60)
    exchange.set_price("BTCUSDT", Decimal(1))  # closes the last one
    await recorder.wait_until(lambda: recorder.prices_of("BTCUSDT")[-1:] == [Decimal(1)])
    await recorder.wait_until(lambda: len(recorder.closed("BTCUSDT")) >= CANDLES + 1)
    assert len(recorder.gaps) >= 3  # renewals happened (each one reports its symbols)
    closed = recorder.closed("BTCUSDT")
    opens = [k.open_time for k in closed]
    assert opens == sorted(set(opens))  # none twice, in order
    assert [k.close for k in closed[1:]] == closes
    assert recorder.states == []


async def test_kline_streams_count_against_a_sockets_streams(
    candle_streams, exchange: ExchangeSimulator
) -> None:
    stream = await candle_streams(streams_per_socket=3)
    await stream.add("BTCUSDT")
    await stream.add_klines("BTCUSDT", "1m")
    await stream.add_klines("ETHUSDT", "1h")
    await stream.add_klines("ETHUSDT", "1h")  # counted, not subscribed twice
    await stream.add("ETHUSDT")
    await settled(stream)
    assert await stream.subscriptions() == [
        {"btcusdt@trade", "btcusdt@kline_1m", "ethusdt@kline_1h"},
        {"ethusdt@trade"},
    ]
    assert exchange.open_websockets == 2

    await stream.remove("ETHUSDT")
    await sockets_open(exchange, 1)
    await stream.remove_klines("ETHUSDT", "1h")
    await settled(stream)
    assert await stream.subscriptions() == [
        {"btcusdt@trade", "btcusdt@kline_1m", "ethusdt@kline_1h"}
    ]
    await stream.remove_klines("ETHUSDT", "1h")
    await settled(stream)
    assert await stream.subscriptions() == [{"btcusdt@trade", "btcusdt@kline_1m"}]
