"""What a conversation needs between two messages lives in the database: each step below is
handled by a different bot process on one database (one stops, a fresh one starts), as the
next message may reach another replica. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from telegram.ext import Application

from chatbot.app import running_bot
from chatbot.config import Settings
from chatbot.database_url import DatabaseKind
from chatbot.sandbox.botapi import BotApiEmulator, Conversation
from chatbot.storage.conversations import LATE_ANSWERS, TIMEOUT
from chatbot.storage.database import open_database
from tests.e2e.clock import ShiftedClock
from tests.e2e.conftest import ALICE, BOB, POLL_TIMEOUT, SettingsFactory, ask

# Neither is shaped like a Binance key, so only the stored step can tell the bot to delete them.
STEP_KEY = "alice-step-by-step-api-key"
STEP_SECRET = "alice step by step secret"


@pytest.fixture
def settings(
    settings_factory: SettingsFactory, overrides: dict[str, str], database_target: str
) -> Settings:
    """The bots' settings on each engine in turn (`database_target`: SQLite, PostgreSQL)."""
    return settings_factory(CHATBOT_DB=database_target, **overrides)


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def alice(api: BotApiEmulator) -> Conversation:
    return api.conversation(api.user(ALICE, first_name="Alice"))


@pytest.fixture
def bot(settings: Settings, clock: ShiftedClock):
    """`async with bot():` runs one bot process's life on the test's database."""

    @asynccontextmanager
    async def run() -> AsyncIterator[Application]:
        async with running_bot(settings, poll_timeout=POLL_TIMEOUT, clock=clock) as app:
            yield app

    return run


async def raw_rows(settings: Settings) -> list[str]:
    """Every stored /setkey step as text, each column as the database holds it."""
    db = await open_database(settings.database_url)
    try:
        rows = await db.fetch_all("SELECT * FROM setkey_steps")
    finally:
        await db.close()
    return [repr([row[name] for name in list(row.keys())]) for row in rows]


def sqlite_bytes(settings: Settings) -> bytes:
    """The SQLite file and its WAL as bytes (empty on PostgreSQL)."""
    url = settings.database_url
    if url.kind is not DatabaseKind.SQLITE:
        return b""
    paths = [url.target, f"{url.target}-wal"]
    return b"".join(open(p, "rb").read() for p in paths if os.path.exists(p))


async def test_setkey_steps_handled_by_three_bots_in_turn(bot, alice, exchange, settings):
    exchange.add_account(STEP_KEY, secret=STEP_SECRET)
    async with bot():
        assert "API key" in (await ask(alice, "/setkey")).text
    async with bot():
        key_message = await alice.send(STEP_KEY)
        assert "Now send the secret" in (await alice.reply()).text
        assert await alice.wait_for(lambda: alice.current(key_message).deleted)
    rows = await raw_rows(settings)
    assert len(rows) == 1 and "secret" in rows[0]
    assert STEP_KEY not in rows[0]  # sealed, not stored as it came
    assert STEP_KEY.encode() not in sqlite_bytes(settings)
    async with bot():
        secret_message = await alice.send(STEP_SECRET)
        assert "Key verified and stored" in (await alice.reply()).text
        assert alice.current(secret_message).deleted
        assert "HMAC" in (await ask(alice, "/keyinfo")).text
    assert await raw_rows(settings) == []  # the conversation is over


async def test_cancel_on_another_bot_ends_the_conversation(bot, alice):
    async with bot():
        await ask(alice, "/setkey")
    async with bot():
        assert "Cancelled; no key was stored" in (await ask(alice, "/cancel")).text
        sent = await alice.send(STEP_KEY)  # no longer an answer
        assert "I did not understand" in (await alice.reply()).text
        assert not alice.current(sent).deleted


async def test_cancel_without_a_conversation_is_the_orders_cancel(bot, alice, clock):
    async with bot():
        assert "/cancel 123456" in (await ask(alice, "/cancel")).text  # the orders' usage
        await ask(alice, "/setkey")
        clock.advance(TIMEOUT + 1)  # an expired /setkey does not take an order's /cancel
        assert "/cancel 123456" in (await ask(alice, "/cancel")).text


async def test_long_after_the_expiry_text_is_ordinary_again(bot, alice, clock):
    async with bot():
        await ask(alice, "/setkey")
        clock.advance(TIMEOUT + LATE_ANSWERS + 1)
        sent = await alice.send("what is the price of bitcoin")
        assert "I did not understand" in (await alice.reply()).text
        assert not alice.current(sent).deleted


async def test_a_late_secret_is_deleted_and_told_to_start_again(bot, alice, clock, settings):
    async with bot():
        assert "Now send the secret" in (await ask(alice, f"/setkey {STEP_KEY}")).text
    clock.advance(TIMEOUT + 1)
    async with bot():
        late = await alice.send(STEP_SECRET)
        reply = await alice.reply()
        assert "Let's start again: /setkey" in reply.text and "nothing was stored" in reply.text
        assert alice.current(late).deleted
        assert await raw_rows(settings) == []
        assert "no Binance API key" in (await ask(alice, "/balance")).text


async def test_a_late_api_key_is_deleted_too(bot, alice, clock):
    async with bot():
        await ask(alice, "/setkey")
        clock.advance(TIMEOUT + 1)
        late = await alice.send(STEP_KEY)
        assert "Let's start again: /setkey" in (await alice.reply()).text
        assert alice.current(late).deleted


async def test_a_file_is_not_an_api_key(bot, alice):
    async with bot():
        await ask(alice, "/setkey")
        await alice.send_document("key.txt", STEP_KEY.encode())
        assert "Send the API key as text" in (await alice.reply()).text
        assert "Now send the secret" in (await ask(alice, STEP_KEY)).text


@pytest.mark.parametrize("overrides", [{"CHATBOT_COMMAND_LIMIT": "3"}])
async def test_the_rate_limit_carries_over_to_another_bot(bot, alice):
    async with bot():
        for _ in range(3):
            assert "faster than" not in (await ask(alice, "/help")).text
    async with bot():  # the fourth command in the window, on a fresh process
        assert "faster than the bot can serve" in (await ask(alice, "/help")).text


async def test_two_users_conversations_are_their_own(bot, api, alice, exchange):
    bob = api.conversation(api.user(BOB, first_name="Bob"))
    exchange.add_account(STEP_KEY, secret=STEP_SECRET)
    async with bot():
        await ask(alice, "/setkey")
        assert "I did not understand" in (await ask(bob, STEP_KEY)).text
        assert "Now send the secret" in (await ask(alice, STEP_KEY)).text
