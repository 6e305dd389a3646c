"""Alerts on perpetuals, end to end: the simulator's futures mark price stream (`markPrice@1s`)
through the bot's second market stream, the alert books, the outbox and the Bot API emulator.
A mark price level and a funding level each fire once; a crossing while the futures stream is
down fires once after it is back; unknown contracts and funding on spot are refused; an alert
on a perpetual outlives a restart. The basis is set to 0 so the mark price equals the spot
price the test prints (see chatbot/sandbox/exchange/futures/market.py)."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import aiohttp
import pytest
from telegram.ext import Application

from chatbot.exchange.market_models import Kline
from chatbot.runtime import runtime
from chatbot.sandbox.botapi import Conversation
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.conftest import ALICE, ask
from tests.e2e.helpers import fired, free_port, sentinel_fires, told, until


async def marks_followed(running_bot: Application, contract: str) -> None:
    """Wait until the futures stream follows `contract` and Binance confirmed it."""
    stream = runtime(running_bot).alert_feed.futures_stream
    assert stream is not None
    for _ in range(500):
        if contract in stream.symbols and stream.connected:
            await asyncio.wait_for(stream.settle(), 10)
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{contract} mark price never followed")


def at_mark(exchange: ExchangeSimulator, contract: str, price: str) -> None:
    """Move the contract's mark price to exactly `price` (a spot print with no basis)."""
    exchange.futures.set_basis(contract, Decimal(0))
    exchange.set_price(contract, Decimal(price))


async def sentinel_mark_fires(conv: Conversation, exchange: ExchangeSimulator, level: str) -> None:
    """A later fact to wait for (see helpers.sentinel_fires), on ETHUSDT.P's mark price: mark
    updates reach the books in order and the outbox sends in order, so every message an
    earlier update could cause has arrived once the sentinel's has."""
    at_mark(exchange, "ETHUSDT", str(Decimal(level) - 100))
    reply = await ask(conv, f"/alert ETHUSDT.P > {level} sentinel")
    set_as = re.search(r"Alert #(\d+) set", reply.text)
    assert set_as is not None, reply.text
    sentinel = int(set_as.group(1))
    at_mark(exchange, "ETHUSDT", str(Decimal(level) + 1))
    await conv.wait_for(lambda: sentinel in told(conv), timeout=15)


async def test_a_mark_price_alert_fires_once(alice, exchange, running_bot):
    at_mark(exchange, "BTCUSDT", "60000")
    reply = await ask(alice, "/alert btc.p > 61000 perp breakout")
    assert "Alert #1 set: BTCUSDT.P mark price ≥ 61000" in reply.text, reply.text
    assert "Mark price now 60,000" in reply.text
    await marks_followed(running_bot, "BTCUSDT")
    at_mark(exchange, "BTCUSDT", "60900")  # not yet
    at_mark(exchange, "BTCUSDT", "61050")
    await alice.wait_for(lambda: fired(alice), timeout=15)
    text = fired(alice)[0].text
    assert "BTCUSDT.P" in text and "mark price ≥ 61000" in text and "perp breakout" in text, text
    buttons = [b.text for row in fired(alice)[0].buttons for b in row]
    assert any("Set again" in b for b in buttons) and not any("Trade" in b for b in buttons)
    at_mark(exchange, "BTCUSDT", "61500")  # further up: a one-shot alert is done
    await sentinel_mark_fires(alice, exchange, "4000")
    assert told(alice) == [1, 2]


async def test_a_mark_price_level_is_backtested_on_the_mark_price_candles(alice, exchange):
    """The backtest line of a perpetual's level counts its crossings in Binance's mark price
    candles (`/fapi/v1/markPriceKlines`), read here independently over plain aiohttp."""
    from chatbot.services.alert_kinds import PriceLevel
    from chatbot.services.backtest import backtest, backtest_interval

    exchange.futures.set_basis("ETHUSDT", Decimal(0))
    level = PriceLevel(">", Decimal(4000))
    interval, count = backtest_interval(level)
    candles: list[list] = []
    end = None
    async with aiohttp.ClientSession() as session:
        while len(candles) < count + 1:
            params = {"symbol": "ETHUSDT", "interval": interval, "limit": "1000"}
            if end is not None:
                params["endTime"] = str(end)
            url = f"{exchange.futures_rest_url}/fapi/v1/markPriceKlines"
            async with session.get(url, params=params) as response:
                page = await response.json()
            candles = page + candles
            end = page[0][0] - 1
    closed = [Kline.from_json(row) for row in candles[:-1][-count:]]
    highs = sorted(k.high for k in closed)
    level = PriceLevel(">", highs[len(highs) * 9 // 10])  # the top tenth of the highs
    at_mark(exchange, "ETHUSDT", str((level.value * Decimal("0.97")).quantize(Decimal("0.01"))))
    reply = await ask(alice, f"/alert ETH.P > {level.value}")
    expected = backtest(level, closed, price_now=exchange.futures.mark_price("ETHUSDT"))
    times = "once" if expected.fired == 1 else f"{expected.fired} times"
    assert expected.fired > 0 and f"it would have fired {times}" in reply.text, reply.text


async def test_a_funding_alert_fires_once(alice, exchange, running_bot):
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("0.0001"))
    reply = await ask(alice, "/alert BTC-PERP funding > 0.05%")
    assert "Alert #1 set: BTCUSDT.P funding rate ≥ +0.0500%" in reply.text, reply.text
    assert "Funding rate now +0.0100%" in reply.text
    await marks_followed(running_bot, "BTCUSDT")
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("0.0004"))  # not yet
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("0.000712"))
    await alice.wait_for(lambda: fired(alice), timeout=15)
    text = fired(alice)[0].text
    assert "BTCUSDT.P" in text and "funding rate rose above +0.0500% (now +0.0712%)" in text, text
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("0.0008"))  # a one-shot alert is done
    await sentinel_mark_fires(alice, exchange, "4000")
    assert told(alice) == [1, 2]
    listing = await ask(alice, "/alerts")
    assert "#1 BTCUSDT.P funding rate ≥ +0.0500% · fired at +0.0712%" in listing.text


async def test_a_negative_funding_alert_and_its_removal(alice, exchange, running_bot):
    exchange.futures.set_funding_rate("SOLUSDT", Decimal("0.0001"))
    reply = await ask(alice, "/alert sol.p funding < -0.01% for 7d")
    assert "SOLUSDT.P funding rate ≤ -0.0100%" in reply.text, reply.text
    listing = await ask(alice, "/alerts")
    assert "SOLUSDT.P funding rate ≤ -0.0100% · active" in listing.text
    removed = await ask(alice, "/unalert 1")
    assert "#1" in removed.text
    stream = runtime(running_bot).alert_feed.futures_stream
    assert stream is not None
    await alice.wait_for(lambda: "SOLUSDT" not in stream.symbols, timeout=10)


async def test_a_crossing_while_the_futures_stream_is_down_fires_once_after(
    alice, exchange, running_bot
):
    at_mark(exchange, "BTCUSDT", "60000")
    await ask(alice, "/alert BTCUSDT.P > 61000")
    await marks_followed(running_bot, "BTCUSDT")
    stream = runtime(running_bot).alert_feed.futures_stream
    assert stream is not None
    await exchange.drop_websockets()
    at_mark(exchange, "BTCUSDT", "61500")  # nobody is listening
    at_mark(exchange, "BTCUSDT", "61200")
    await alice.wait_for(lambda: fired(alice), timeout=20)
    assert "BTCUSDT.P" in fired(alice)[0].text
    await sentinel_mark_fires(alice, exchange, "4000")
    assert told(alice) == [1, 2]


@pytest.mark.parametrize("overrides", [{"CHATBOT_PRICE_DELAY_NOTICE": "0"}])
async def test_both_streams_down_at_once_are_one_outage_told_once(alice, exchange, running_bot):
    """The feed is down while either stream is: a drop of every socket (spot's and futures')
    is one outage, and the chat with a perpetual's alert hears once that prices are back."""
    at_mark(exchange, "BTCUSDT", "60000")
    await ask(alice, "/alert BTC.P > 61000")
    await marks_followed(running_bot, "BTCUSDT")
    feed = runtime(running_bot).alert_feed
    await exchange.drop_websockets()
    await alice.wait_for(lambda: [m for m in alice.messages if "Live prices are back" in m.text])
    futures = feed.futures_stream
    assert futures is not None
    await until(lambda: feed.stream.connected and futures.connected)
    assert feed.outages == 1
    assert len([m for m in alice.messages if "Live prices are back" in m.text]) == 1


NO_FUTURES_HOST = {
    "BINANCE_FUTURES_STREAM_URL": f"ws://127.0.0.1:{free_port()}/market",
    "CHATBOT_PRICE_DELAY_NOTICE": "0",
}


@pytest.mark.parametrize("overrides", [NO_FUTURES_HOST])
async def test_an_unreachable_futures_host_does_not_delay_spot_alerts(alice, exchange, running_bot):
    """Nothing follows a perpetual, so the futures stream failing to connect (as where Binance
    serves no futures) leaves spot alerts live and undelayed. Its down state is queued when
    `down_since` is set; the spot alert's round trip after that gives it time to be acted on."""
    feed = runtime(running_bot).alert_feed
    futures = feed.futures_stream
    assert futures is not None
    await until(lambda: futures.down_since is not None)
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await sentinel_fires(alice, exchange, "BTCUSDT", "61000")
    listing = await ask(alice, "/alerts")
    assert "delayed" not in listing.text and feed.outages == 0, listing.text


async def test_healthz_is_down_while_a_followed_perpetual_has_no_stream(
    api, exchange, settings_factory
):
    """An unreachable futures host is no harm while nothing needs it, and /healthz says so
    once a perpetual's alert needs it."""
    from chatbot.app import running_bot as run
    from tests.e2e.test_ops import healthz_until

    port = free_port()
    settings = settings_factory(
        **NO_FUTURES_HOST, CHATBOT_HTTP_PORT=str(port), CHATBOT_HEALTH_INTERVAL="0.2"
    )
    async with run(settings, poll_timeout=1):
        base = f"http://127.0.0.1:{port}"
        _, checks = await healthz_until(base, lambda s, _: s == 200)
        assert checks["futures_stream"] == "ok"
        conv = api.conversation(api.user(ALICE, first_name="Alice"))
        reply = await ask(conv, "/alert BTC.P > 1000000")
        assert "Alert #1 set" in reply.text, reply.text
        _, checks = await healthz_until(base, lambda s, _: s == 503)
        assert checks["futures_stream"] == "down" and checks["market_stream"] == "ok"


async def test_unknown_contracts_and_funding_on_spot_are_refused(alice, exchange):
    unknown = await ask(alice, "/alert FOOUSDT.P > 1")
    assert "no perpetual futures contract FOOUSDT.P" in unknown.text, unknown.text
    spot = await ask(alice, "/alert BTC funding > 0.05%")
    assert "Funding rates are for perpetuals" in spot.text and "BTC.P funding" in spot.text
    move = await ask(alice, "/alert BTC.P +3% 15m")
    assert "does not work on perpetuals" in move.text, move.text
    no_pct = await ask(alice, "/alert BTC.P funding > 0.05")
    assert "with the % sign" in no_pct.text, no_pct.text
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("0.0006"))
    met = await ask(alice, "/alert BTC.P funding > 0.05%")
    assert "would fire at once" in met.text and "0.06% now" in met.text, met.text
    listing = await ask(alice, "/alerts")
    assert "You have no alerts" in listing.text


async def test_a_perpetual_alert_survives_a_restart(api, exchange, settings, alice, running_bot):
    from chatbot.app import running_bot as run

    at_mark(exchange, "BTCUSDT", "60000")
    await ask(alice, "/alert BTC.P < 59000")
    await running_bot.updater.stop()
    await running_bot.stop()
    await runtime(running_bot).alert_feed.stop()
    async with run(settings, poll_timeout=1) as again:
        await marks_followed(again, "BTCUSDT")
        conv = api.conversation(api.user(ALICE, first_name="Alice"))
        at_mark(exchange, "BTCUSDT", "58900")
        await conv.wait_for(lambda: fired(conv), timeout=15)
        assert "BTCUSDT.P mark price ≤ 59000" in fired(conv)[0].text


@pytest.mark.parametrize("overrides", [{"CHATBOT_ALLOWED_USERS": "*"}])
async def test_many_users_alerts_on_one_perpetual_each_fire_once(api, exchange, running_bot):
    """Twenty users set mark price and funding alerts on BTCUSDT.P at once; one mark move and
    one funding change fire each alert once, every user told in their own chat."""
    at_mark(exchange, "BTCUSDT", "60000")
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("0.0001"))
    users = [api.conversation(api.user(7000 + n, first_name=f"P{n}")) for n in range(20)]
    kinds = [f"> {61000 + n}" if n % 2 else f"funding > {Decimal(n + 2) / 100}%" for n in range(20)]
    replies = await asyncio.gather(
        *(ask(user, f"/alert BTC.P {kind}") for user, kind in zip(users, kinds, strict=True))
    )
    assert all(re.search(r"Alert #\d+ set", reply.text) for reply in replies), replies[0].text
    await marks_followed(running_bot, "BTCUSDT")
    at_mark(exchange, "BTCUSDT", "62000")
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("0.005"))  # 0.5%: above every level
    await asyncio.gather(*(user.wait_for(lambda u=user: fired(u), timeout=20) for user in users))
    await sentinel_mark_fires(users[0], exchange, "4000")
    assert [len(told(user)) for user in users] == [2] + [1] * 19  # the first also the sentinel
