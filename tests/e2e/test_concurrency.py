"""A hundred users at once against the real bot, between the Bot API emulator and the exchange
simulator on real sockets: alerts, quotes, balances and orders, all in flight together. Every
command is answered, nothing fails inside the bot, no Confirm places two orders, and every alert
is delivered once."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from chatbot.config import Settings
from chatbot.runtime import runtime
from tests.e2e.conftest import SettingsFactory, ask
from tests.e2e.fuzz_harness import GENERIC, failures
from tests.e2e.helpers import fired, watching

USERS = 100
# Every eighth user has a key and trades (13 of them): the whole test then spends about half
# of Binance's request weight per minute (a key's first sync alone weighs 160).
TRADING = range(0, USERS, 8)
FIRST_USER = 5000


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Settings:
    return settings_factory(CHATBOT_ALLOWED_USERS="*")


def key_of(index: int) -> tuple[str, str]:
    return f"CrowdKey{index:03d}".ljust(64, "k"), f"CrowdSecret{index:03d}".ljust(64, "s")


class User:
    """One user's chat, and what the bot told them."""

    def __init__(self, api, index: int) -> None:
        self.index = index
        self.conv = api.conversation(api.user(FIRST_USER + index, first_name=f"User{index}"))
        self.trades = index in TRADING

    async def setkey(self, exchange) -> None:
        key, secret = key_of(self.index)
        exchange.add_account(key, secret=secret, balances={"USDT": Decimal("1000")})
        stored = await ask(self.conv, f"/setkey {key} {secret}")
        assert "stored" in stored.text, stored.text

    async def session(self) -> None:
        """What this user does, one command after another (the users run side by side)."""
        level = 61_000 + self.index
        made = await ask(self.conv, f"/alert BTC > {level}")
        assert "set: BTCUSDT ≥ " + str(level) in made.text, made.text
        quote = await ask(self.conv, "/price BTC")
        assert "BTCUSDT" in quote.text, quote.text
        if not self.trades:
            return
        balance = await ask(self.conv, "/balance")
        assert "USDT" in balance.text, balance.text
        preview = await ask(self.conv, "/buy BTCUSDT 0.001")
        assert any(b.text.endswith("Confirm") for row in preview.buttons for b in row), preview.text
        presses = await asyncio.gather(*(self.conv.press(preview, "Confirm") for _ in range(2)))
        answers = await asyncio.gather(*(self.conv.answer(q, timeout=20) for q in presses))
        assert sorted(a.text == "Placing the order…" for a in answers) == [False, True], answers
        await self.conv.wait_for(lambda: "Filled" in self.conv.current(preview).text, 20)


async def test_a_hundred_users_at_once(api, exchange, running_bot, caplog):
    caplog.set_level(logging.INFO)
    exchange.set_price("BTCUSDT", Decimal("60000"))
    users = [User(api, i) for i in range(USERS)]
    await asyncio.gather(*(u.setkey(exchange) for u in users if u.trades))

    await asyncio.gather(*(u.session() for u in users))
    for user in users:
        if user.trades:  # two presses of Confirm, one order
            assert len(exchange.orders_for(key_of(user.index)[0])) == 1

    await watching(running_bot, "BTCUSDT")
    exchange.set_price("BTCUSDT", Decimal("62000"))
    async with asyncio.timeout(30):
        await asyncio.gather(*(u.conv.wait_for(lambda u=u: fired(u.conv), 30) for u in users))
    sender = runtime(running_bot).alert_feed.sender
    await users[0].conv.wait_for(lambda: sender.backlog == 0, 10)  # nothing more to send
    assert [len(fired(u.conv)) for u in users] == [1] * USERS

    told = [m.text for u in users for m in u.conv.messages if m.from_bot]
    assert not [t for t in told if GENERIC in t]
    assert not failures(caplog.records)


async def test_alerts_set_while_the_bot_starts_are_each_delivered_once(
    api, exchange, settings, caplog
):
    """The bot takes commands while it loads the alerts it already holds: an alert created in
    that moment is both in the start-up read and in its own /alert, and must be kept once."""
    from chatbot.app import running_bot as run

    exchange.set_price("BTCUSDT", Decimal("60000"))
    exchange.faults.hang_next("/stream", seconds=1.5)  # the market stream is slow to open
    users = [User(api, i) for i in range(20)]
    async with run(settings, poll_timeout=1) as app:
        made = await asyncio.gather(
            *(ask(u.conv, f"/alert BTC > {61_000 + u.index}") for u in users)
        )
        assert all("set: BTCUSDT" in m.text for m in made), [m.text for m in made]
        await watching(app, "BTCUSDT")
        exchange.set_price("BTCUSDT", Decimal("62000"))
        async with asyncio.timeout(20):
            await asyncio.gather(*(u.conv.wait_for(lambda u=u: fired(u.conv), 20) for u in users))
        sender = runtime(app).alert_feed.sender
        await users[0].conv.wait_for(lambda: sender.backlog == 0, 10)
    assert [len(fired(u.conv)) for u in users] == [1] * len(users)
    assert not failures(caplog.records)
