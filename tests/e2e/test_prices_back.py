"""After a long market stream outage, chats with alerts hear that live prices are back: the
alert feed (services/alert_feed.py) decides, the chat notifier (handlers/notifications.py)
words it. How long counts as long is `CHATBOT_PRICE_DELAY_NOTICE`; 0 here, so that the
outage a test causes counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from telegram.ext import Application

from chatbot.sandbox.botapi import BotApiEmulator, ChatMessage, Conversation
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.conftest import ALICE, BOB, ask
from tests.e2e.helpers import watching

ANY_OUTAGE = {"CHATBOT_PRICE_DELAY_NOTICE": "0"}


def back(conv: Conversation) -> list[ChatMessage]:
    return [m for m in conv.messages if m.from_bot and "Live prices are back" in m.text]


@pytest.mark.parametrize("overrides", [ANY_OUTAGE])
async def test_users_with_alerts_hear_when_live_prices_are_back(
    alice: Conversation, exchange: ExchangeSimulator, running_bot: Application
) -> None:
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000")
    await watching(running_bot, "BTCUSDT")
    await exchange.drop_websockets()  # the stream comes back up on its own
    [message] = await alice.wait_for(lambda: back(alice), timeout=15)
    assert "your alerts were checked against the prices now" in message.text


@pytest.mark.parametrize("overrides", [ANY_OUTAGE])
async def test_a_group_hears_once_however_many_of_its_users_have_alerts(
    api: BotApiEmulator, exchange: ExchangeSimulator, running_bot: Application
) -> None:
    """Two users with alerts in one group: one "back" message there, not one per user."""
    group = api.group_chat(-100777, title="Traders")
    alice = api.conversation(api.user(ALICE, first_name="Alice"), group)
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000")
    bob = api.conversation(api.user(BOB, first_name="Bob"), group)
    await ask(bob, "/alert BTC > 62000")
    await watching(running_bot, "BTCUSDT")
    await exchange.drop_websockets()
    await alice.wait_for(lambda: back(alice), timeout=15)
    # The later fact: a second outage that only Alice's private chat hears of. Notices wait
    # their turn in the order they were queued (a reply would overtake them), so any second
    # notice to the group was sent before this one.
    await ask(alice, "/unalert all")
    await ask(bob, "/unalert all")
    private = api.conversation(api.user(ALICE, first_name="Alice"))
    await ask(private, "/alert BTC > 61000")
    await watching(running_bot, "BTCUSDT")
    await exchange.drop_websockets()
    await private.wait_for(lambda: back(private), timeout=15)
    assert len(back(alice)) == 1
