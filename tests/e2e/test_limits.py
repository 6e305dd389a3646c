"""Limits nobody can bypass or spend for others: button presses are rate-limited per user, the
alert cap holds under concurrency, strangers get one refusal a window, and user input never
becomes a metrics label or a log line of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal

import pytest
from telegram.ext import Application

from chatbot.runtime import runtime
from chatbot.sandbox.botapi.models import Button
from tests.e2e.conftest import ALICE, ALICE_KEY, ALICE_SECRET, STRANGER, SettingsFactory, ask
from tests.e2e.helpers import until, watching


@pytest.fixture
async def bot_with(
    settings_factory: SettingsFactory,
) -> Callable[..., AbstractAsyncContextManager[Application]]:
    """`async with bot_with(CHATBOT_X="..."):` runs the real bot with those settings."""
    from chatbot.app import running_bot

    return lambda **overrides: running_bot(settings_factory(**overrides), poll_timeout=1)


def counted(app, command: str, outcome: str) -> float:
    registry = runtime(app).metrics.registry
    value = registry.get_sample_value(
        "chatbot_commands_total", {"command": command, "outcome": outcome}
    )
    return value or 0.0


def forge_press(api, conv, message, data: str) -> str:
    """What a modified client can send: a press on `message` carrying any callback data."""
    log = api.world.chat_log(conv.chat.id)
    return api.world.press(log, conv.user, message, Button("forged", data))


# --- button presses ---------------------------------------------------------------------------


async def test_sixty_chart_presses_render_at_most_the_button_limit(api, bot_with):
    async with bot_with(CHATBOT_BUTTON_LIMIT="10"):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        quote = await ask(alice, "/price ETH")
        presses = await asyncio.gather(*(alice.press(quote, "Chart ETHUSDT") for _ in range(60)))
        answers = await asyncio.gather(*(alice.answer(q, timeout=30) for q in presses))
        refused = [a for a in answers if (a.text or "").startswith("Too many taps")]
        assert len(refused) == 50
        assert sum(a.show_alert for a in refused) == 1  # a popup once, then short notes
        charts = lambda: [m for m in alice.messages if m.photo is not None]  # noqa: E731
        await alice.wait_for(lambda: len(charts()) >= 10, timeout=60)
        assert len(charts()) == 10


async def test_double_tap_on_confirm_is_answered_when_commands_are_used_up(api, exchange, bot_with):
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET, balances={"USDT": Decimal("1000")})
    async with bot_with(CHATBOT_COMMAND_LIMIT="2"):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        assert "stored" in (await ask(alice, f"/setkey {ALICE_KEY} {ALICE_SECRET}")).text
        preview = await ask(alice, "/buy BTCUSDT 0.001")
        assert "faster than the bot can serve" in (await ask(alice, "/help")).text
        presses = [await alice.press(preview, "Confirm") for _ in range(2)]
        # Either press may reach the database first (PostgreSQL's pool runs them side by side):
        # one places the order, the other is told so.
        answers = sorted([(await alice.answer(press)).text for press in presses])
        assert answers[0].startswith("Already") and answers[1] == "Placing the order…", answers
        await alice.wait_for(lambda: "Filled" in alice.current(preview).text, 15)
        assert len(exchange.orders_for(ALICE_KEY)) == 1


# --- strangers ----------------------------------------------------------------------------------


async def test_a_stranger_is_refused_once_then_ignored(api, running_bot):
    stranger = api.conversation(api.user(STRANGER, first_name="Eve"))
    for _ in range(40):
        await stranger.send("/price BTC")
    await until(lambda: counted(running_bot, "stranger", "denied") == 40)
    refusals = await stranger.wait_for(lambda: [m for m in stranger.messages if m.from_bot] or None)
    assert len(refusals) == 1 and str(STRANGER) in refusals[0].text
    assert counted(running_bot, "/price", "denied") == 0  # one label, whatever they type


# --- the alert cap ------------------------------------------------------------------------------


def set_replies(conv):
    return [m for m in conv.messages if m.from_bot and " set: " in m.text]


def active(records):
    return [r for r in records if r.state == "active"]


def bot_said(conv):
    return [m for m in conv.messages if m.from_bot]


async def test_alert_cap_holds_for_concurrent_commands(api, exchange, bot_with):
    async with bot_with(CHATBOT_COMMAND_LIMIT="1000") as app:
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        exchange.set_price("BTCUSDT", Decimal("60000"))
        for i in range(130):
            await alice.send(f"/alert BTC > {61000 + i}")
        await alice.wait_for(lambda: len(bot_said(alice)) >= 130, timeout=60)
        texts = [m.text for m in bot_said(alice)]
        assert sum("the most allowed" in t for t in texts) == 30
        assert len(set_replies(alice)) == 100
        assert len(active(await runtime(app).services.alerts.list(ALICE))) == 100


async def test_alert_cap_holds_for_concurrent_set_again_presses(api, exchange, bot_with):
    async with bot_with(CHATBOT_COMMAND_LIMIT="1000", CHATBOT_BUTTON_LIMIT="1000") as app:
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        exchange.set_price("BTCUSDT", Decimal("60000"))
        await ask(alice, "/alert BTC > 60500")
        await watching(app, "BTCUSDT")
        exchange.set_price("BTCUSDT", Decimal("60600"))
        fired = await alice.wait_for(
            lambda: next((m for m in alice.messages if "crossed at" in m.text), None)
        )
        exchange.set_price("BTCUSDT", Decimal("60000"))
        for i in range(95):  # 95 active: room for 5 more
            await alice.send(f"/alert BTC > {61000 + i}")
        await alice.wait_for(lambda: len(set_replies(alice)) >= 96, timeout=60)
        presses = await asyncio.gather(*(alice.press(fired, "Set again") for _ in range(30)))
        answers = await asyncio.gather(*(alice.answer(q, timeout=30) for q in presses))
        assert sum("the most allowed" in (a.text or "") for a in answers) == 25
        await alice.wait_for(lambda: len(set_replies(alice)) >= 96 + 5, timeout=30)
        assert len(active(await runtime(app).services.alerts.list(ALICE))) == 100


async def test_concurrent_alerts_and_listings_never_go_wrong(api, exchange, bot_with):
    """A new alert read back on the other connection was sometimes not there yet (an
    AssertionError, "Something went wrong"): the insert now returns its own row."""
    async with bot_with(CHATBOT_COMMAND_LIMIT="1000"):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        exchange.set_price("BTCUSDT", Decimal("60000"))
        for i in range(90):
            await alice.send(f"/alert BTC > {61000 + i}")
            if i % 3 == 0:
                await alice.send("/alerts")
        await alice.wait_for(lambda: len(bot_said(alice)) >= 120, timeout=60)
        assert not [m.text for m in bot_said(alice) if "Something went wrong" in m.text]
        assert len(set_replies(alice)) == 90


# --- metrics labels and log lines ---------------------------------------------------------------


async def test_forged_callback_data_and_odd_commands_never_become_labels_or_log_lines(
    api, alice, running_bot, bot_log
):
    quote = await ask(alice, "/price ETH")
    forged = [
        "evil\n2099-01-01 00:00:00,000 INFO chatbot.app: operator approved:1",
        "x" * 60,
        "chartx:BTC",
        "\u2028fake:1",
    ]
    for data in forged:
        await alice.answer(forge_press(api, alice, quote, data))
    for text in ("/frobnicate", "/price\u2028INFO"):
        await alice.send(text)
        await alice.reply()
    metrics = runtime(running_bot).metrics.render().decode()
    labels = {line.split('command="')[1].split('"')[0] for line in metrics.splitlines()
              if line.startswith("chatbot_commands_total{")}  # fmt: skip
    assert labels <= {"/price", "button:other", "other"}, labels
    assert counted(running_bot, "button:other", "allowed") == len(forged)
    lines = bot_log.getvalue().splitlines()
    assert not [line for line in lines if line.startswith("2099-")]
    assert not [line for line in lines if "operator approved" in line]
