"""Kline streams on the market stream: the parser against Binance's documented payload, the
routing, the counting, and a renewal that hands candles over without losing or repeating a
closed one."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chatbot.exchange.market_models import Kline
from chatbot.exchange.market_stream.group import StreamGroup
from chatbot.exchange.market_stream.settings import MarketStreamSettings
from chatbot.exchange.market_stream.socket import kline_stream_name
from chatbot.exchange.market_stream.stream import MarketStream
from tests.unit.test_streams_parts import FakeSocket, ScriptedWs, scripted_socket, trade

DATA = Path(__file__).resolve().parent.parent / "data" / "binance_klines.json"
DOCUMENTED = json.loads(DATA.read_text())["Kline/Candlestick Streams for UTC :: Payload"]

Seen = list[tuple[str, str, Kline, bool]]


def kline(symbol: str, interval: str, open_time: int, last_id: int, closed: bool) -> dict:
    """A kline payload shaped like Binance's (the documented one, re-timed)."""
    body = {**DOCUMENTED["k"], "s": symbol, "i": interval, "t": open_time, "L": last_id}
    body.update(T=open_time + 59_999, x=closed, c=str(last_id))
    return {**DOCUMENTED, "s": symbol, "k": body}


def ignore_price(symbol: str, price: Decimal, trade_time_ms: int) -> None:
    pass


def test_the_documented_payload_parses_into_a_kline():
    candle = Kline.from_stream(DOCUMENTED["k"])
    assert candle == Kline(
        open_time=1672515780000,
        open=Decimal("0.0010"),
        high=Decimal("0.0025"),
        low=Decimal("0.0015"),
        close=Decimal("0.0020"),
        volume=Decimal("1000"),
        close_time=1672515839999,
        quote_volume=Decimal("1.0000"),
        trades=100,
    )


def test_a_kline_stream_is_named_as_binance_names_it():
    assert kline_stream_name("BTCUSDT", "1h") == "btcusdt@kline_1h"
    assert kline_stream_name("BTCUSDT", "1M") == "btcusdt@kline_1M"  # a month, not a minute


async def test_the_socket_passes_kline_payloads_to_its_sink():
    ws, seen = ScriptedWs(), []
    socket = scripted_socket(ws, seen.append, lambda: None)
    ws.push({"stream": "bnbbtc@kline_1m", "data": DOCUMENTED})
    ws.push({"stream": "bnbbtc@miniTicker", "data": {"e": "24hrMiniTicker", "s": "BNBBTC"}})
    ws.push({"stream": "btcusdt@trade", "data": trade("BTCUSDT", 7, "1.5")})
    async with asyncio.timeout(5):
        while len(seen) < 2:  # noqa: ASYNC110 (the reader has no event to wait on)
            await asyncio.sleep(0)
    assert [d["e"] for d in seen] == ["kline", "trade"]
    await socket.close()


def group_recording(seen: Seen, gaps: list[list[str]]) -> StreamGroup:
    return StreamGroup(
        open_socket=None,  # type: ignore[arg-type]
        on_price=ignore_price,
        on_kline=lambda s, i, k, x: seen.append((s, i, k, x)),
        notify_gap=gaps.append,
        state_changed=lambda: None,
        settings=MarketStreamSettings(url="ws://unused"),
    )


def test_a_group_delivers_the_candles_wanted_and_lists_their_symbols():
    seen: Seen = []
    group = group_recording(seen, [])
    group.want("btcusdt@trade", "BTCUSDT")
    group.want("ethusdt@kline_1h", "ETHUSDT", "1h")
    group.deliver(kline("ETHUSDT", "1h", 0, 5, True))
    group.deliver(kline("ETHUSDT", "4h", 0, 5, False))  # not wanted: a late frame
    assert [(s, i, k.close, x) for s, i, k, x in seen] == [("ETHUSDT", "1h", Decimal(5), True)]
    assert group.symbols == ["BTCUSDT", "ETHUSDT"]  # what a gap names: trades and candles

    group.drop("ethusdt@kline_1h")
    group.deliver(kline("ETHUSDT", "1h", 3_600_000, 6, False))
    assert len(seen) == 1 and group.symbols == ["BTCUSDT"]


async def test_kline_streams_are_counted_and_take_room_on_a_socket():
    seen: Seen = []
    settings = MarketStreamSettings(url="ws://unused", streams_per_socket=2)
    stream = MarketStream(
        settings, on_price=ignore_price, on_kline=lambda s, i, k, x: seen.append((s, i, k, x))
    )
    await stream.add("BTCUSDT")
    await stream.add_klines("btcusdt", "1m")
    await stream.add_klines("BTCUSDT", "1m")  # counted, not subscribed twice
    await stream.add_klines("ETHUSDT", "1h")
    assert [list(group.wanted) for group in stream._groups] == [
        ["btcusdt@trade", "btcusdt@kline_1m"],
        ["ethusdt@kline_1h"],
    ]
    assert stream.symbols == {"BTCUSDT"}
    assert stream.klines == {("BTCUSDT", "1m"), ("ETHUSDT", "1h")}

    await stream.remove_klines("BTCUSDT", "1m")
    assert ("BTCUSDT", "1m") in stream.klines  # one reference left
    await stream.remove_klines("BTCUSDT", "1m")
    await stream.remove_klines("BTCUSDT", "1m")  # more removes than adds: nothing happens
    assert stream.klines == {("ETHUSDT", "1h")}
    assert list(stream._groups[0].wanted) == ["btcusdt@trade"]
    await stream.stop()


async def test_add_klines_refuses_what_binance_would():
    stream = MarketStream(
        MarketStreamSettings(url="ws://unused"),
        on_price=ignore_price,
        on_kline=lambda s, i, k, x: None,
    )
    for interval in ("1H", "2m", "", "1h@+08:00"):
        with pytest.raises(ValueError, match="interval"):
            await stream.add_klines("BTCUSDT", interval)
    with pytest.raises(ValueError, match="symbol"):
        await stream.add_klines("BTC/USDT", "1h")
    without = MarketStream(MarketStreamSettings(url="ws://unused"), on_price=ignore_price)
    with pytest.raises(TypeError, match="on_kline"):
        await without.add_klines("BTCUSDT", "1h")

    async def on_kline(symbol: str, interval: str, candle: Kline, closed: bool) -> None:
        pass

    with pytest.raises(TypeError, match="plain function"):
        MarketStream(
            MarketStreamSettings(url="ws://unused"), on_price=ignore_price, on_kline=on_kline
        )


async def test_a_renewal_hands_candles_over_without_losing_or_repeating_a_closed_one():
    seen: Seen = []
    sockets: list[FakeSocket] = []
    minute = 60_000

    async def open_socket(streams: list[str], sink: Any, wake: Any) -> FakeSocket:
        sockets.append(FakeSocket(streams, sink))
        if len(sockets) == 2:  # the new socket hears candle 1's end while it subscribes
            sockets[1].sink(kline("BTCUSDT", "1m", minute, 12, False))
            sockets[1].sink(kline("BTCUSDT", "1m", minute, 13, True))
        return sockets[-1]

    group = group_recording(seen, [])
    group._open_socket = open_socket  # type: ignore[assignment]
    group.want("btcusdt@kline_1m", "BTCUSDT", "1m")
    old = await group._open(group.deliver)
    group.socket = old  # type: ignore[assignment]
    old.sink(kline("BTCUSDT", "1m", 0, 10, True))
    old.sink(kline("BTCUSDT", "1m", minute, 11, False))

    def old_runs_ahead(method: str) -> None:  # frames read before the barrier's answer
        old.sink(kline("BTCUSDT", "1m", minute, 12, False))
        old.sink(kline("BTCUSDT", "1m", minute, 13, True))
        old.sink(kline("BTCUSDT", "1m", 2 * minute, 14, False))

    old.on_request = old_runs_ahead
    await group._renew(old)  # type: ignore[arg-type]
    new = sockets[1]
    old.sink(kline("BTCUSDT", "1m", 2 * minute, 15, False))  # late: the old one is let go
    new.sink(kline("BTCUSDT", "1m", 2 * minute, 14, False))  # the new one catches up
    new.sink(kline("BTCUSDT", "1m", 2 * minute, 15, True))
    new.sink(kline("BTCUSDT", "1m", 3 * minute, 16, False))

    assert group.socket is new and old.closed
    places = [(k.open_time // minute, int(k.close), x) for _, _, k, x in seen]
    assert places == [
        (0, 10, True),
        (1, 11, False),
        (1, 12, False),
        (1, 13, True),
        (2, 14, False),
        (2, 15, True),
        (3, 16, False),
    ]
    assert new.sink == group.deliver  # caught up: back to the lean path
