"""Telegram sends by priority, end to end: the real bot under Telegram's flood limits (the Bot
API emulator answers 429 past them), many users' replies queued at 28 a second, and what a
trader must see first (a fired alert, a confirmed order's result) overtaking that queue.
Assertions are on the order in which the emulator received the calls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

from chatbot.config import Settings
from chatbot.sandbox.botapi import ApiCall, BotApiEmulator, ChatMessage, Conversation
from tests.e2e.conftest import POLL_TIMEOUT, SettingsFactory, ask
from tests.e2e.helpers import free_port, get, watching

CROWD = 120  # users whose /price replies queue for about four seconds at 28 a second
ASKED = "/price ETHUSDT"


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Settings:
    return settings_factory(CHATBOT_ALLOWED_USERS="*")


def crowd(api: BotApiEmulator) -> list[Conversation]:
    return [api.conversation(api.user(5000 + n, first_name=f"User{n}")) for n in range(CROWD)]


def is_price_reply(call: ApiCall) -> bool:
    return call.method == "sendMessage" and "ETHUSDT" in str(call.params.get("text"))


async def queue_replies(api: BotApiEmulator, users: list[Conversation]) -> int:
    """Every user asks at once; returns once the first reply is out (the rest are queued)."""
    mark = len(api.calls)
    await asyncio.gather(*(user.send(ASKED) for user in users))
    await api.wait_for_call("sendMessage", lambda p: "ETHUSDT" in str(p.get("text")), since=mark)
    return mark


async def replies_after(api: BotApiEmulator, users: list[Conversation], found: ApiCall) -> int:
    """Once every user has their reply: how many of the replies Telegram received after
    `found`."""
    await asyncio.gather(*(user.reply(timeout=30) for user in users))
    calls = api.calls
    return sum(1 for call in calls[calls.index(found) :] if is_price_reply(call))


async def confirmed(
    api: BotApiEmulator, user: Conversation, preview: ChatMessage, since: int
) -> ApiCall:
    """Press Confirm on `preview`; the edit that tells the order filled."""
    await user.press(preview, "Confirm")
    return await api.wait_for_call(
        "editMessageText",
        lambda p: p.get("message_id") == preview.message_id and "Filled" in str(p.get("text")),
        since=since,
        timeout=60,
    )


async def test_a_fired_alert_overtakes_the_replies_queued_for_many_users(
    api, alice, exchange, running_bot
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    assert "set" in (await ask(alice, "/alert BTC > 61000")).text
    await watching(running_bot, "BTCUSDT")
    users = crowd(api)
    api.enable_flood_control()

    mark = await queue_replies(api, users)
    exchange.set_price("BTCUSDT", Decimal("61000.01"))
    fired = await api.wait_for_call(
        "sendMessage", lambda p: "crossed at" in str(p.get("text")), since=mark, timeout=30
    )

    assert fired.params["chat_id"] == alice.chat.id
    # FIFO would put the alert behind all of them; it went out with most still waiting.
    assert await replies_after(api, users, fired) >= CROWD // 4
    assert api.flood_refusals == 0


async def test_a_confirmed_orders_result_overtakes_the_replies_queued_for_many_users(
    api, alice_with_key, exchange
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    users = crowd(api)
    api.enable_flood_control()

    mark = await queue_replies(api, users)
    result = await confirmed(api, alice_with_key, preview, since=mark)

    assert await replies_after(api, users, result) >= CROWD // 4
    assert api.flood_refusals == 0


async def test_a_confirm_is_not_held_behind_more_waiting_replies_than_ptbs_default_slots(
    api, alice_with_key, exchange
):
    """300 handlers wait for their replies' turn, more than python-telegram-bot's default of
    256 updates at once: the press must still be handled at once, not when 45 slots free."""
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    users = [api.conversation(api.user(7000 + n, first_name=f"U{n}")) for n in range(300)]
    api.enable_flood_control()

    mark = await queue_replies(api, users)
    result = await confirmed(api, alice_with_key, preview, since=mark)

    before = sum(1 for call in api.calls[mark : api.calls.index(result)] if is_price_reply(call))
    assert before < 20, f"{before} replies went out before the order's result"
    await asyncio.gather(*(user.reply(timeout=60) for user in users))
    assert api.flood_refusals == 0


async def test_a_quick_order_edits_its_preview_once_into_its_result(api, alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    mark = len(api.calls)

    await alice_with_key.press(preview, "Confirm")
    await alice_with_key.wait_for(lambda: "Filled" in alice_with_key.current(preview).text)

    edits = [
        str(call.params.get("text"))
        for call in api.calls[mark:]
        if call.method == "editMessageText" and call.params.get("message_id") == preview.message_id
    ]
    assert len(edits) == 1 and "Filled" in edits[0], edits  # no "Sending to Binance…" first


async def test_a_slow_order_still_says_it_is_being_sent(api, alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    exchange.faults.hang_next("/api/v3/order", seconds=3, execute=True, method="POST")

    await alice_with_key.press(preview, "Confirm")

    sending = await alice_with_key.wait_for(
        lambda: "Sending to Binance" in alice_with_key.current(preview).text, timeout=10
    )
    assert sending
    done = await alice_with_key.wait_for(
        lambda: "Sending" not in alice_with_key.current(preview).text, timeout=30
    )
    assert done and "Filled" in alice_with_key.current(preview).text


def waiting(metrics: str, priority: str) -> float:
    prefix = f'chatbot_telegram_sends_waiting{{priority="{priority}"}} '
    lines = metrics.splitlines()
    return next(float(line[len(prefix) :]) for line in lines if line.startswith(prefix))


async def scrape_until(port: int, fact: Callable[[str], bool], seconds: float = 3.0) -> str:
    """/metrics, scraped until `fact` holds of it or `seconds` have passed; the last scrape."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        _, metrics = await get(f"http://127.0.0.1:{port}/metrics")
        if fact(metrics) or asyncio.get_running_loop().time() > deadline:
            return metrics
        await asyncio.sleep(0.02)


async def test_metrics_show_the_sends_waiting_per_priority(api, exchange, settings_factory):
    from chatbot.app import running_bot

    port = free_port()
    settings = settings_factory(CHATBOT_ALLOWED_USERS="*", CHATBOT_HTTP_PORT=str(port))
    async with running_bot(settings, poll_timeout=POLL_TIMEOUT):
        users = crowd(api)
        await queue_replies(api, users)
        # each update passes the guard's rate-limit transaction first, so the replies join the
        # queue over some milliseconds after the first went: scrape until they have
        queued = await scrape_until(port, lambda m: waiting(m, "reply") >= CROWD // 4)
        await asyncio.gather(*(user.reply(timeout=30) for user in users))
        _, drained = await get(f"http://127.0.0.1:{port}/metrics")

    assert waiting(queued, "reply") >= CROWD // 4  # the crowd's replies wait for their turn
    assert waiting(queued, "urgent") == waiting(queued, "bulk") == 0
    assert waiting(drained, "reply") == 0
