"""Notifications the user controls, end to end (real bot, simulator, Bot API emulator, each
engine): /settings modes observed as Telegram's `disable_notification` or as no message at
all, quiet hours with a stop-loss fill still ringing, the digest at a local time on the bot's
clock (claimed once against a rival replica), /digest off, choices kept over a restart, and the
replies to bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chatbot.config import Settings
from chatbot.exchange.client import OrderRequest
from chatbot.runtime import runtime
from chatbot.sandbox.botapi.conversation import Conversation
from chatbot.sandbox.botapi.models import ChatMessage
from chatbot.services.digest import DigestScheduler, DigestService
from chatbot.storage.alerts import AlertRepository
from chatbot.storage.database import Database, open_database
from chatbot.storage.preferences import PreferenceRepository
from handlers.notifications import ChatNotifier
from tests.e2e.clock import ShiftedClock
from tests.e2e.conftest import ALICE, BOB, ask
from tests.e2e.helpers import (
    fired,
    following,
    notices,
    place_resting_buy,
    told,
    until_async,
    watching,
)

FAST_DIGESTS = pytest.mark.parametrize("overrides", [{"CHATBOT_DIGEST_POLL_SECONDS": "0.05"}])
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """A connection of the test's own to the bot's database, as another replica would have."""
    opened = await open_database(settings.database_url)
    try:
        yield opened
    finally:
        await opened.close()


def fills(conv: Conversation) -> list[ChatMessage]:
    """Fill notices the bot sent on its own (not previews edited into their outcome)."""
    return [m for m in notices(conv) if m.text.startswith("✅ Filled")]


def digests(conv: Conversation) -> list[ChatMessage]:
    """The digests themselves (not the /digest replies)."""
    return [m for m in conv.messages if m.from_bot and m.text.startswith("📰 Your ")]


async def muted(db: Database, alert_id: int) -> bool:
    """The alert's outbox row was settled unsent, as its owner's settings say."""
    row = await db.fetch_one("SELECT state FROM outbox WHERE alert_id = ?", (alert_id,))
    return row is not None and row["state"] == "muted"


async def test_silent_alerts_come_without_a_sound_and_off_ones_not_at_all(
    alice, exchange, running_bot, db
):
    assert "Fired alerts: 🔕 silent" in (await ask(alice, "/settings alerts silent")).text
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000")
    await watching(running_bot, "BTCUSDT")
    exchange.set_price("BTCUSDT", Decimal("61001"))
    message = await alice.reply(timeout=10)
    assert "crossed at 61,001" in message.text and message.silent

    assert "Fired alerts: 🚫 off" in (await ask(alice, "/settings alerts off")).text
    await ask(alice, "/alert BTC > 62000")
    exchange.set_price("BTCUSDT", Decimal("62001"))
    await until_async(lambda: muted(db, 2))
    assert "#2 BTCUSDT ≥ 62000 · fired at 62,001" in (await ask(alice, "/alerts")).text

    await ask(alice, "/settings alerts on")
    await ask(alice, "/alert BTC > 63000")
    exchange.set_price("BTCUSDT", Decimal("63001"))
    await alice.wait_for(lambda: 3 in told(alice), timeout=15)
    assert told(alice) == [1, 3] and not fired(alice)[-1].silent


async def test_silent_fills_and_fills_off_while_order_updates_still_ring(
    alice_with_key, exchange, running_bot
):
    alice = alice_with_key
    await following(running_bot)
    await ask(alice, "/settings fills silent")
    await place_resting_buy(alice, exchange)
    exchange.set_price("BTCUSDT", Decimal("54990"))
    notice = await alice.wait_for(lambda: fills(alice)[-1] if fills(alice) else None, timeout=15)
    assert "LIMIT BTCUSDT" in notice.text and notice.silent

    await ask(alice, "/settings fills off")
    await place_resting_buy(alice, exchange, "54000")
    exchange.set_price("BTCUSDT", Decimal("53990"))  # fills, untold
    await _cancelled_elsewhere(alice, running_bot, exchange)  # a later event of hers, told
    cancelled = [m for m in notices(alice) if m.text.startswith("✖ Cancelled")]
    assert not cancelled[-1].silent and len(fills(alice)) == 1


async def _cancelled_elsewhere(alice: Conversation, running_bot, exchange) -> None:
    """An order placed and cancelled outside the chat: its notice is a later fact of the
    same user-data stream, which delivers her events in order."""
    services = runtime(running_bot).services
    creds = await services.keys.credentials(ALICE)
    client = services.account.client
    price = (exchange.price("ETHUSDT") * Decimal("0.7")).quantize(Decimal("0.01"))
    order = await client.place_order(
        creds,
        OrderRequest("ETHUSDT", "BUY", "LIMIT", Decimal("0.01"), price=price, time_in_force="GTC"),
    )
    await client.cancel_order(creds, "ETHUSDT", order_id=order.order_id)
    await alice.wait_for(
        lambda: any(m.text.startswith("✖ Cancelled") for m in notices(alice)),
        timeout=15,
    )


async def test_quiet_hours_silence_a_fill_but_a_stop_loss_fill_rings(
    alice_with_key, exchange, running_bot, ticket_clock: ShiftedClock
):
    alice = alice_with_key
    await following(running_bot)
    now = datetime.fromtimestamp(ticket_clock(), UTC)
    hours = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"
    reply = await ask(alice, f"/settings quiet {hours}")
    assert "Quiet hours: " + hours.replace("-", "–") in reply.text
    await place_resting_buy(alice, exchange)
    exchange.set_price("BTCUSDT", Decimal("54990"))
    notice = await alice.wait_for(lambda: fills(alice)[-1] if fills(alice) else None, timeout=15)
    assert notice.silent

    exchange.set_price("BTCUSDT", Decimal("60000"))
    services = runtime(running_bot).services
    creds = await services.keys.credentials(ALICE)
    stop = OrderRequest(
        "BTCUSDT", "SELL", "STOP_LOSS", Decimal("0.001"), stop_price=Decimal("59000")
    )
    await services.account.client.place_order(creds, stop)
    exchange.set_price("BTCUSDT", Decimal("58990"))
    stopped = await alice.wait_for(
        lambda: next((m for m in fills(alice) if "STOP_LOSS" in m.text), None), timeout=15
    )
    assert not stopped.silent


@FAST_DIGESTS
async def test_a_digest_comes_once_at_the_local_time_in_the_users_zone(
    alice_with_key, exchange, running_bot, ticket_clock: ShiftedClock, db
):
    alice = alice_with_key
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000")
    await watching(running_bot, "BTCUSDT")
    exchange.set_price("BTCUSDT", Decimal("61001"))
    await alice.wait_for(lambda: 1 in told(alice), timeout=10)
    assert "Time zone: America/New_York" in (await ask(alice, "/settings tz america/new_york")).text
    due = (datetime.fromtimestamp(ticket_clock(), NEW_YORK) + timedelta(hours=3)).replace(
        second=0, microsecond=0
    )
    reply = await ask(alice, f"/digest daily {due:%H:%M}")
    assert f"daily at {due:%H:%M} (America/New_York)" in reply.text

    rival = _rival_replica(running_bot, db, ticket_clock)
    ticket_clock.advance(due.timestamp() - ticket_clock() + 1)
    racing = asyncio.ensure_future(_poll_until(rival, lambda: bool(digests(alice))))
    first = await alice.wait_for(lambda: digests(alice)[0] if digests(alice) else None, timeout=15)
    await racing
    assert f"{due:%a %d %b %H:%M}" in first.text and "Your daily digest" in first.text
    balance = first.text.splitlines()[1]
    assert balance.startswith("Balance: ≈") and "since" not in balance  # none to compare with
    assert "#1 BTCUSDT ≥ 61000 at 61,001" in first.text
    assert "Without protection: BTC" in first.text and not first.silent

    ticket_clock.advance(86_400)  # the next day's: against the balance the first showed
    await alice.wait_for(lambda: len(digests(alice)) >= 2, timeout=15)
    assert len(digests(alice)) == 2
    assert "USDT (+0 since the last digest)" in digests(alice)[1].text
    assert "No alerts fired since the last digest." in digests(alice)[1].text


def _rival_replica(running_bot, db: Database, clock: ShiftedClock) -> DigestScheduler:
    """A second replica's scheduler: its own database connection, the same Telegram bot."""
    services = runtime(running_bot).services
    service = DigestService(services.account, services.risk, services.keys, AlertRepository(db))
    notifier = ChatNotifier(running_bot.bot, services.preferences)
    return DigestScheduler(PreferenceRepository(db), service, notifier, clock=clock, poll=0.05)


async def _poll_until(rival: DigestScheduler, done) -> None:
    while not done():
        await rival.send_due()
        await asyncio.sleep(0.01)


@FAST_DIGESTS
async def test_digest_off_stops_it(alice, running_bot, ticket_clock: ShiftedClock):
    await ask(alice, "/digest daily 08:00")
    assert "Digest stopped" in (await ask(alice, "/digest off")).text
    ticket_clock.advance(86_400 + 60)  # past the 08:00 that was due
    at = (datetime.fromtimestamp(ticket_clock(), UTC) + timedelta(hours=2)).replace(second=0)
    await ask(alice, f"/digest daily {at:%H:%M}")
    ticket_clock.advance(at.timestamp() - ticket_clock() + 1)
    digest = await alice.wait_for(lambda: digests(alice)[0] if digests(alice) else None)
    assert "Balances need your Binance API key: /setkey." in digest.text
    assert len(digests(alice)) == 1 and f"{at:%H:%M}" in digest.text


async def test_settings_buttons_change_one_thing_and_only_for_their_owner(api, alice, running_bot):
    message = await ask(alice, "/settings")
    assert "Fired alerts: 🔔 on" in message.text and "Time zone: UTC" in message.text
    await alice.press(message, "Fired alerts: 🔔 on")
    edited = await alice.edit(message)
    assert "Fired alerts: 🔕 silent" in edited.text
    await alice.press(edited, "Europe/Berlin")
    edited = await alice.edit(edited)
    assert "Time zone: Europe/Berlin" in edited.text and "✓ Europe/Berlin" in edited.button_texts
    await alice.press(edited, "🌙 23:00-07:00")
    edited = await alice.edit(edited)
    assert "Quiet hours: 23:00–07:00" in edited.text

    group = api.group_chat(-5001)
    alice_there = api.conversation(api.user(ALICE, first_name="Alice"), group)
    bob_there = api.conversation(api.user(BOB, first_name="Bob"), group)
    shown = await ask(alice_there, "/settings")
    answer = await bob_there.answer(await bob_there.press(shown, "Order updates: 🔔 on"))
    assert "someone else's" in answer.text
    assert "Order updates: 🔔 on" in (await ask(alice, "/settings")).text


async def test_bad_input_gets_what_to_type(alice):
    cases = {
        "/settings tz Mars/Olympus": "/settings tz Europe/Berlin",
        "/settings quiet 7-9": "HH:MM",
        "/settings quiet 23:00": "23:00-07:00",
        "/settings loudness 11": "/settings quiet 23:00-07:00",
        "/digest hourly": "/digest daily 08:00",
        "/digest weekly someday 08:00": "mon",
        "/digest daily 25:00": "HH:MM",
    }
    for command, hint in cases.items():
        reply = await ask(alice, command)
        assert hint in reply.text, (command, reply.text)
    assert "You have no digest" in (await ask(alice, "/digest")).text


async def test_choices_survive_a_restart(api, exchange, settings, alice, running_bot):
    from chatbot.app import running_bot as run

    await ask(alice, "/settings alerts silent")
    await ask(alice, "/settings tz Asia/Tokyo")
    await running_bot.updater.stop()
    await running_bot.stop()
    await runtime(running_bot).alert_feed.stop()
    async with run(settings, poll_timeout=1) as again:
        conv = api.conversation(api.user(ALICE, first_name="Alice"))
        shown = await ask(conv, "/settings")
        assert "Fired alerts: 🔕 silent" in shown.text and "Time zone: Asia/Tokyo" in shown.text
        exchange.set_price("BTCUSDT", Decimal("60000"))
        await ask(conv, "/alert BTC > 61000")
        await watching(again, "BTCUSDT")
        exchange.set_price("BTCUSDT", Decimal("61001"))
        message = await conv.reply(timeout=10)
        assert "crossed at 61,001" in message.text and message.silent
