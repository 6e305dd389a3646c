"""The kinds of alert after price levels, end to end: the simulator's trades and candles over the
market stream (its clock moved on instead of waiting), the books, the outbox and the Bot API
emulator. Each alert fires once on a scripted path and not before; an alert expires with a
message; a new alert's reply carries its backtest, checked against the candles themselves."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import aiohttp
import numpy
import pytest
import talib

from chatbot.runtime import runtime
from chatbot.sandbox.exchange import ExchangeSimulator
from handlers.common import num
from tests.e2e.clock import ShiftedClock
from tests.e2e.conftest import ask
from tests.e2e.helpers import fired, sentinel_fires, told, watching


@pytest.fixture
def overrides() -> dict[str, str]:
    """Expiry swept often (the test moves the clock on), and the backtest in the reply."""
    return {"CHATBOT_ALERT_EXPIRY_CHECK": "0.1", "CHATBOT_BACKTEST_WAIT": "30"}


async def candles_followed(running_bot, symbol: str, interval: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until the market stream carries the symbol's candles and Binance confirmed it."""
    live = runtime(running_bot).alert_feed
    for _ in range(500):
        if (symbol, interval) in live.stream.klines and live.stream.connected:
            await asyncio.wait_for(live.stream.settle(), 10)
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{symbol} {interval} candles never followed")


async def klines(session: aiohttp.ClientSession, sim: ExchangeSimulator, symbol: str,
                 interval: str, limit: int) -> list[list]:  # fmt: skip
    """Binance's klines straight from the simulator (the candles every book reads)."""
    params = {"symbol": symbol, "interval": interval, "limit": str(limit)}
    async with session.get(f"{sim.rest_url}/api/v3/klines", params=params) as response:
        return await response.json()


async def test_a_move_fires_once_when_its_window_change_reaches_it(alice, exchange, running_bot):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    exchange.advance(16 * 60)  # the price 15 minutes before what comes next is 60,000
    exchange.set_price("BTCUSDT", Decimal("60000"))
    reply = await ask(alice, "/alert btc +3% 15m breakout")
    assert "Alert #1 set: BTCUSDT +3% in 15m" in reply.text, reply.text
    assert "0% over the last 15m" in reply.text and "Note: breakout" in reply.text
    await watching(running_bot, "BTCUSDT")
    exchange.set_price("BTCUSDT", Decimal("61500"))  # +2.5%: not yet
    exchange.set_price("BTCUSDT", Decimal("61810"))  # +3.02%
    message = await alice.reply(timeout=10)
    assert "BTCUSDT" in message.text and "in 15m (from 60,000 to 61,810)" in message.text
    assert "alert #1" in message.text and "breakout" in message.text
    exchange.set_price("BTCUSDT", Decimal("62500"))  # further up: a one-shot alert is done
    await sentinel_fires(alice, exchange, "BTCUSDT", "63000")
    assert told(alice) == [1, 2]


async def test_a_move_already_made_would_fire_at_once_and_is_refused(alice, exchange):
    exchange.set_price("ETHUSDT", Decimal("3000"))
    exchange.advance(61 * 60)
    exchange.set_price("ETHUSDT", Decimal("2800"))  # -6.7% over the hour
    reply = await ask(alice, "/alert ETH -5% 1h")
    assert "would fire at once" in reply.text and "-6.67%" in reply.text
    assert "set" not in reply.text


async def test_an_rsi_alert_fires_once_at_the_close_it_crosses(
    alice, exchange, running_bot, session
):
    price = exchange.price("SOLUSDT")
    for _ in range(20):  # a steady rise: the RSI is high when the alert is set
        exchange.advance(60)
        price *= Decimal("1.001")
        exchange.set_price("SOLUSDT", price.quantize(Decimal("0.01")))
    reply = await ask(alice, "/alert SOL rsi 1m < 30")
    assert "Alert #1 set: SOLUSDT RSI(14) 1m < 30" in reply.text, reply.text
    await candles_followed(running_bot, "SOLUSDT", "1m")
    forming = (await klines(session, exchange, "SOLUSDT", "1m", 1))[-1][0]  # open at the set
    for _ in range(15):  # then a fall: each print in a new minute closes the candle before
        exchange.advance(60)
        price *= Decimal("0.995")
        exchange.set_price("SOLUSDT", price.quantize(Decimal("0.01")))
    message = await alice.wait_for(lambda: fired(alice) and fired(alice)[0], timeout=15)
    history = await klines(session, exchange, "SOLUSDT", "1m", 1000)
    closes = numpy.array([float(k[4]) for k in history[:-1]])  # the last one is still open
    rsi = talib.RSI(closes, timeperiod=14)
    live = [i for i, k in enumerate(history[:-1]) if k[0] >= forming]  # closed after the set
    first = next(i for i in live if rsi[i] < 30 <= rsi[i - 1])
    assert f"close {num(Decimal(history[first][4]))}" in message.text, (first, message.text)
    assert re.search(r"RSI\(14\) 1m at 2\d(\.\d)?, below 30", message.text), message.text
    await sentinel_fires(alice, exchange, "SOLUSDT", str((price * 2).quantize(Decimal(1))))
    assert told(alice) == [1, 2]


def _sign_change(first: numpy.ndarray, second: numpy.ndarray, i: int) -> bool:
    """Whether `first` crossed `second` (either way) at candle i, having been on one side or
    level at i - 1."""
    now, before = first[i] - second[i], first[i - 1] - second[i - 1]
    return bool((now > 0 >= before) or (now < 0 <= before))


def _ema_cross(closes: numpy.ndarray, i: int) -> bool:
    return _sign_change(talib.EMA(closes, 5), talib.EMA(closes, 12), i)


def _macd_cross(closes: numpy.ndarray, i: int) -> bool:
    line, signal, _ = talib.MACD(closes, 12, 26, 9)
    return _sign_change(line, signal, i)


def _above_upper_band(closes: numpy.ndarray, i: int) -> bool:
    upper, _, _ = talib.BBANDS(closes, 20, 2, 2, 0)
    return bool(closes[i] > upper[i] and closes[i - 1] <= upper[i - 1])


CENT = Decimal("0.01")


@pytest.mark.parametrize(
    ("command", "before", "after", "met"),
    [
        ("/alert ETH ema 5 x 12 1m", 15, 15, _ema_cross),
        ("/alert ETH macd 1m x signal", 40, 25, _macd_cross),
        ("/alert ETH bb 1m > upper", 0, 25, _above_upper_band),
    ],
)
async def test_indicator_crossings_fire_once_at_the_close_talib_finds(
    alice, exchange, running_bot, session, command, before, after, met
):
    """A fall (`before` candles) and then a rise (`after`): the alert fires at the first
    close after it was set where TA-Lib's values on Binance's candles cross, and only then."""
    price = exchange.price("ETHUSDT")
    for _ in range(before):
        exchange.advance(60)
        price *= Decimal("0.997")
        exchange.set_price("ETHUSDT", price.quantize(Decimal("0.01")))
    for n in range(25 if not before else 0):  # a quiet market for the band to break out of
        exchange.advance(60)  # (not a flat one: a zero deviation is float noise in TA-Lib)
        exchange.set_price("ETHUSDT", (price * (1 + Decimal(n % 2) / 2000)).quantize(CENT))
    reply = await ask(alice, command)
    assert "Alert #1 set" in reply.text, reply.text
    await candles_followed(running_bot, "ETHUSDT", "1m")
    forming = (await klines(session, exchange, "ETHUSDT", "1m", 1))[-1][0]
    for _ in range(after):
        exchange.advance(60)
        price *= Decimal("1.004")
        exchange.set_price("ETHUSDT", price.quantize(Decimal("0.01")))
    message = await alice.wait_for(lambda: fired(alice) and fired(alice)[0], timeout=15)
    history = await klines(session, exchange, "ETHUSDT", "1m", 1000)
    closes = numpy.array([float(k[4]) for k in history[:-1]])
    live = [i for i, k in enumerate(history[:-1]) if k[0] >= forming]
    first = next(i for i in live if met(closes, i))
    assert num(Decimal(history[first][4])) in message.text, (first, message.text)
    await sentinel_fires(alice, exchange, "ETHUSDT", str((price * 2).quantize(Decimal(1))))
    assert told(alice) == [1, 2]


async def test_a_volume_spike_fires_once_on_the_live_candle(alice, exchange, running_bot):
    for _ in range(21):  # 21 candles of one print of 1 SOL each: an average of 1
        exchange.advance(60)
        exchange.set_price("SOLUSDT", Decimal("150"), qty=Decimal("1"))
    reply = await ask(alice, "/alert SOL volume 1m > 3x")
    assert "Alert #1 set: SOLUSDT 1m volume ≥ 3× its 20-candle average" in reply.text, reply.text
    await candles_followed(running_bot, "SOLUSDT", "1m")
    exchange.advance(60)
    exchange.set_price("SOLUSDT", Decimal("150"), qty=Decimal("2"))  # 2x: not yet
    exchange.set_price("SOLUSDT", Decimal("151"), qty=Decimal("1.5"))  # 3.5x
    message = await alice.reply(timeout=10)
    assert re.search(r"SOLUSDT 1m volume 3\.\d× its 20-candle average", message.text), message.text
    exchange.set_price("SOLUSDT", Decimal("151"), qty=Decimal("5"))  # the same candle again
    await sentinel_fires(alice, exchange, "SOLUSDT", "160")
    assert told(alice) == [1, 2]


async def test_an_alert_expires_with_a_message_once(
    alice, exchange, running_bot, ticket_clock: ShiftedClock
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    reply = await ask(alice, "/alert BTC > 90000 for 1h moon")
    assert "Alert #1 set: BTCUSDT ≥ 90000 · expires in 1 h" in reply.text, reply.text
    ticket_clock.advance(3601)
    expired = await alice.wait_for(
        lambda: next((m for m in alice.messages if m.text.startswith("⌛")), None), timeout=10
    )
    assert "Alert #1 BTCUSDT ≥ 90000 expired on" in expired.text and "moon" in expired.text
    listing = (await ask(alice, "/alerts")).text
    assert "#1 BTCUSDT ≥ 90000 · expired on" in listing
    exchange.set_price("BTCUSDT", Decimal("90001"))  # an expired alert no longer fires
    await sentinel_fires(alice, exchange, "BTCUSDT", "95000")
    assert told(alice) == [2]
    assert sum(m.text.startswith("⌛") for m in alice.messages) == 1


async def test_the_backtest_line_counts_the_crossings_of_the_last_90_days(
    alice, exchange, running_bot, session
):
    hourly = await klines(session, exchange, "ETHUSDT", "1h", 1000)
    highs = [Decimal(k[2]) for k in hourly[:-1]]
    level = sorted(highs)[len(highs) * 9 // 10]  # the top tenth of the recent highs
    exchange.set_price("ETHUSDT", (level * Decimal("0.97")).quantize(Decimal("0.01")))
    reply = await ask(alice, f"/alert ETH > {level}")
    # Independently: 90 days of closed 1h candles; a firing is a candle reaching the level
    # after one wholly below it.
    candles: list[list] = []
    end = None
    while len(candles) < 2160 + 1:
        params = {"symbol": "ETHUSDT", "interval": "1h", "limit": "1000"}
        if end is not None:
            params["endTime"] = str(end)
        async with session.get(f"{exchange.rest_url}/api/v3/klines", params=params) as response:
            page = await response.json()
        candles = page + candles
        end = page[0][0] - 1
    closed = candles[:-1][-2161:]  # the 90 days, and the candle before them
    above = [Decimal(k[2]) >= level for k in closed]
    crossings = sum(1 for i in range(1, len(above)) if above[i] and not above[i - 1])
    times = "once" if crossings == 1 else f"{crossings} times"
    expected = f"Over the last 90 days it would have fired {times}"
    if crossings == 0:
        expected = "Over the last 90 days it would never have fired"
    assert expected in reply.text, (crossings, reply.text)


@pytest.mark.parametrize(
    "overrides", [{"CHATBOT_BACKTEST_WAIT": "0"}]
)  # the reply never waits: the line follows in an edit
async def test_a_slow_backtest_follows_in_an_edit(alice, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    reply = await ask(alice, "/alert BTC rsi 4h > 70")
    assert "Backtest over the last 90 days: reading the candles" in reply.text
    edited = await alice.edit(reply, timeout=15)
    assert "Over the last 90 days it would" in edited.text and "Alert #1 set" in edited.text
