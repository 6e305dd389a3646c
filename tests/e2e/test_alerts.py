"""Price alerts end to end: the simulator's trades over the market stream, the alert book, the
outbox, and the Bot API emulator receiving the message."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from chatbot.runtime import runtime
from chatbot.services.alert_kinds import AlertSpec, PriceLevel
from tests.e2e.conftest import ALICE, ask
from tests.e2e.helpers import fired, sentinel_fires, told, until, watching


async def test_above_alert_fires_once(alice, exchange, running_bot):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    reply = await ask(alice, "/alert btc > 61000 take profit")
    assert "Alert #1 set: BTCUSDT ≥ 61000" in reply.text and "1.67% away" in reply.text
    await watching(running_bot, "BTCUSDT")
    exchange.set_price("BTCUSDT", Decimal("61000.01"))
    message = await alice.reply(timeout=10)
    assert "BTCUSDT" in message.text and "crossed at 61,000.01" in message.text
    assert "take profit" in message.text and message.buttons[0][0].text == "🔁 Set again"
    exchange.set_price("BTCUSDT", Decimal("60000"))
    exchange.set_price("BTCUSDT", Decimal("62000"))  # recross and cross again: one-shot is done
    await sentinel_fires(alice, exchange, "BTCUSDT", "63000")
    assert told(alice) == [1, 2]
    listing = (await ask(alice, "/alerts")).text
    assert "#1 BTCUSDT ≥ 61000 · fired at 61,000.01" in listing


async def test_below_and_percent_alerts(alice, exchange, running_bot):
    exchange.set_price("ETHUSDT", Decimal("3000"))
    assert "Alert #1 set" in (await ask(alice, "/alert ETH < 2900")).text
    reply = await ask(alice, "/alert ETH -10%")
    assert "ETHUSDT -10% (≤ 2700)" in reply.text
    await watching(running_bot, "ETHUSDT")
    exchange.set_price("ETHUSDT", Decimal("2899"))
    assert "≤ 2900" in (await alice.reply(timeout=10)).text
    exchange.set_price("ETHUSDT", Decimal("2700"))
    assert "-10%" in (await alice.reply(timeout=10)).text


async def test_alert_that_would_fire_at_once_is_refused(alice, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    reply = await ask(alice, "/alert BTC < 61000")
    assert "would fire at once" in reply.text and "60000" in reply.text


async def test_bad_conditions_get_an_example(alice):
    for command in ("/alert", "/alert BTC", "/alert BTC = 5", "/alert BTC >", "/alert BTC 0%"):
        reply = await ask(alice, command)
        assert "/alert" in reply.text, (command, reply.text)


async def test_mistakes_in_each_kind_are_told_what_to_type(alice):
    for command, told_fix in [
        ("/alert BTC rsi 1h < 130", "An RSI level is between 0 and 100"),
        ("/alert ETH ema 50 x 20 4h", "should be 20 x 50"),
        ("/alert BTC volume 5m > 1x", "above 1 (like 1.5x or 3x)"),
        ("/alert BTC +3% 8d", "A move's window is 1m to 7d"),
        ("/alert BTC bb 1h > top", "Which band: upper, middle or lower"),
        ("/alert BTC > 70000 until 2026-02-30", "is not a date"),
    ]:
        reply = await ask(alice, command)
        assert told_fix in reply.text and "/alert" in reply.text, (command, reply.text)


@pytest.mark.parametrize("overrides", [{"CHATBOT_ALERT_COOLDOWN": "0.5"}])
async def test_repeat_rearms_after_recross_and_cooldown(alice, exchange, running_bot):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000 repeat")
    await watching(running_bot, "BTCUSDT")
    exchange.set_price("BTCUSDT", Decimal("61500"))
    await alice.reply(timeout=10)
    exchange.set_price("BTCUSDT", Decimal("60500"))  # back below, but within the cooldown
    exchange.set_price("BTCUSDT", Decimal("61600"))
    await sentinel_fires(alice, exchange, "BTCUSDT", "61650")
    assert told(alice) == [1, 2]
    # The cooldown itself is what is tested: let CHATBOT_ALERT_COOLDOWN (0.5 s) pass on the
    # running bot's real clock (app.py gives AlertService no other), then re-cross.
    await asyncio.sleep(0.5)
    exchange.set_price("BTCUSDT", Decimal("60500"))  # below again, cooldown over: re-armed
    exchange.set_price("BTCUSDT", Decimal("61700"))
    await alice.wait_for(lambda: len(told(alice)) == 3, timeout=10)
    await sentinel_fires(alice, exchange, "BTCUSDT", "61750")  # after any late duplicate
    assert told(alice) == [1, 2, 1, 3]


async def test_unalert_one_and_all(alice, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    for price in (61000, 62000, 63000):
        await ask(alice, f"/alert BTC > {price}")
    assert "Removed 1 alert(s): #2" in (await ask(alice, "/unalert 2")).text
    assert "No such alert" in (await ask(alice, "/unalert 99")).text
    assert "Removed 2 alert(s)" in (await ask(alice, "/unalert all")).text
    assert "no alerts" in (await ask(alice, "/alerts")).text


@pytest.mark.parametrize("overrides", [{"CHATBOT_ALERT_LIMIT": "2"}])
async def test_per_user_limit(alice, exchange, running_bot):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000")
    await ask(alice, "/alert BTC > 62000")
    assert "the most allowed" in (await ask(alice, "/alert BTC > 63000")).text


async def test_alerts_survive_a_restart(api, exchange, settings, alice, running_bot):
    from chatbot.app import running_bot as run

    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000")
    await running_bot.updater.stop()
    await running_bot.stop()
    await runtime(running_bot).alert_feed.stop()
    async with run(settings, poll_timeout=1) as again:
        await watching(again, "BTCUSDT")
        conv = api.conversation(api.user(ALICE, first_name="Alice"))
        exchange.set_price("BTCUSDT", Decimal("61001"))
        assert "crossed at 61,001" in (await conv.reply(timeout=10)).text


async def test_crossing_while_the_stream_is_down_fires_after_reconnect(
    alice, exchange, running_bot
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000")
    await watching(running_bot, "BTCUSDT")
    await exchange.drop_websockets()
    exchange.set_price("BTCUSDT", Decimal("61500"))  # nobody is listening
    exchange.set_price("BTCUSDT", Decimal("61200"))
    message = await alice.reply(timeout=15)
    assert "crossed at" in message.text
    await sentinel_fires(alice, exchange, "BTCUSDT", "62000")
    assert told(alice) == [1, 2]


async def test_telegram_429_on_the_first_sends_still_delivers_once(
    alice, api, exchange, running_bot
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000")
    await watching(running_bot, "BTCUSDT")
    api.fail_next("sendMessage", count=2, error_code=429, retry_after=1)
    exchange.set_price("BTCUSDT", Decimal("61500"))
    await alice.reply(timeout=20)
    await sentinel_fires(alice, exchange, "BTCUSDT", "62000")
    assert told(alice) == [1, 2]


@pytest.mark.parametrize("overrides", [{"CHATBOT_ALERT_LIMIT": "1000"}])
async def test_500_alerts_on_one_tick_arrive_merged(alice, api, exchange, running_bot):
    service = runtime(running_bot).services.alerts
    exchange.set_price("BTCUSDT", Decimal("60000"))
    for i in range(500):
        spec = AlertSpec("BTCUSDT", PriceLevel(">", Decimal(60100 + i)))
        await service.create(ALICE, ALICE, spec)
    await watching(running_bot, "BTCUSDT")
    exchange.set_price("BTCUSDT", Decimal("61000"))
    await alice.wait_for(lambda: sum(m.text.count("#") for m in fired(alice)) >= 500, timeout=30)
    await sentinel_fires(alice, exchange, "BTCUSDT", "61100")  # after any late duplicate
    assert sorted(told(alice)) == list(range(1, 502))  # each alert told once; #501 the sentinel
    sends = [c for c in api.calls_to("sendMessage") if "alerts fired" in c.get("text", "")]
    assert all(len(c["text"]) <= 4096 for c in sends)
    assert len(sends) <= 6  # merged: a few messages, not 500


async def test_set_again_and_trade_buttons(alice_with_key, exchange, running_bot):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice_with_key, "/alert BTC < 59000")
    await watching(running_bot, "BTCUSDT")
    exchange.set_price("BTCUSDT", Decimal("58900"))
    message = await alice_with_key.reply(timeout=10)
    assert [b.text for b in message.buttons[0]] == ["🔁 Set again", "💱 Trade"]
    await alice_with_key.press(message, "Trade")
    preview = await alice_with_key.reply(timeout=10)
    assert "Preview: BUY BTCUSDT, market order" in preview.text and "Spend: 10 USDT" in preview.text
    assert preview.buttons  # confirmed like any order; nothing was sent yet
    exchange.set_price("BTCUSDT", Decimal("60000"))  # back above: the same alert makes sense
    await alice_with_key.press(message, "Set again")
    again = await alice_with_key.reply(timeout=10)
    assert "Alert #2 set: BTCUSDT ≤ 59000" in again.text


async def test_alerts_without_a_key_have_no_trade_button(alice, exchange, running_bot):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 60500")
    await watching(running_bot, "BTCUSDT")
    exchange.set_price("BTCUSDT", Decimal("60600"))
    message = await alice.reply(timeout=10)
    assert [b.text for b in message.buttons[0]] == ["🔁 Set again"]


async def test_a_user_who_blocked_the_bot_has_alerts_paused(alice, api, exchange, running_bot):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000 repeat")
    await watching(running_bot, "BTCUSDT")
    api.block(alice.chat)
    exchange.set_price("BTCUSDT", Decimal("61500"))
    repo = runtime(running_bot).services.alerts.repository
    for _ in range(200):
        if (await repo.for_user(ALICE))[0].state == "paused":
            break
        await asyncio.sleep(0.05)
    api.unblock(alice.chat)
    assert "· paused" in (await ask(alice, "/alerts")).text
    assert await repo.outbox.backlog() == 0  # dropped, not retried forever


@pytest.mark.parametrize("overrides", [{"CHATBOT_PRICE_DELAY_NOTICE": "0"}])
async def test_alerts_say_when_live_prices_are_delayed(alice, exchange, running_bot):
    """Any outage counts (the notice after 0 s); Binance refusing this IP keeps the stream
    down while /alerts is asked."""
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000")
    await watching(running_bot, "BTCUSDT")
    exchange.faults.ban(60)
    await exchange.drop_websockets()
    await until(lambda: runtime(running_bot).services.alerts.delayed_since())
    listing = (await ask(alice, "/alerts")).text
    assert "Live prices delayed since" in listing


async def test_pending_outbox_is_sent_after_a_restart(api, exchange, settings, alice, running_bot):
    from chatbot.app import running_bot as run

    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000 left behind")
    services = runtime(running_bot).services
    await running_bot.updater.stop()
    await running_bot.stop()
    await runtime(running_bot).alert_feed.stop()
    # The process fired the alert and died before Telegram took the message:
    repo = services.alerts.repository
    [record] = await repo.for_user(ALICE)
    await repo.fire([record.id], Decimal("61000.5"), 0.0)
    assert await repo.outbox.backlog() == 1
    async with run(settings, poll_timeout=1):
        conv = api.conversation(api.user(ALICE, first_name="Alice"))
        message = await conv.reply(timeout=10)
        assert "crossed at 61,000.5" in message.text and "left behind" in message.text
