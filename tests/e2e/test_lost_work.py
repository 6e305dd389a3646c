"""Faults never lose work silently: a locked database, a dead chat, a slow Telegram, a key row
that no longer decrypts. Each is reproduced against the real bot between the Bot API emulator
and the exchange simulator, on each engine; the locked database on a real SQLite file held by a
second connection (`@SQLITE_ONLY`: PostgreSQL has no database-wide write lock to hold).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal

import aiosqlite
import pytest

from chatbot.config import Settings
from chatbot.runtime import runtime
from chatbot.sandbox.exchange.engine import OrderRequest as SimOrder
from chatbot.storage.alerts import AlertDirection
from chatbot.storage.database import open_database
from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import ALICE, ALICE_KEY, BOB, ask
from tests.e2e.helpers import fired, process_dies, said, ticket_of, until, until_async, watching

BOB_KEY = "BobApiKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"[:64]
BOB_SECRET = "BobSecret0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"[:64]


class WriteLock:
    """Another process holding the database's write lock (a backup, `sqlite3` in a shell):
    the bot's writes wait out their busy timeout, then fail with "database is locked"."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: aiosqlite.Connection | None = None

    async def take(self) -> None:
        self._conn = await aiosqlite.connect(self._path, isolation_level=None)
        await self._conn.execute("BEGIN IMMEDIATE")

    async def release(self) -> None:
        if self._conn is not None:
            await self._conn.execute("ROLLBACK")
            await self._conn.close()
            self._conn = None


@pytest.fixture
async def write_lock(settings: Settings) -> AsyncIterator[WriteLock]:
    lock = WriteLock(settings.db_path)
    try:
        yield lock
    finally:
        await lock.release()


async def failure_reported(app, part: str) -> None:
    """Wait until the bot has recorded a background failure of `part` (for /healthz)."""
    health = runtime(app).health
    await until(lambda: part in health.failures(), seconds=20)


async def outbox_states(app) -> list[str]:
    repo = runtime(app).services.alerts.repository
    rows = await repo._db.fetch_all("SELECT state FROM outbox ORDER BY id")
    return [r["state"] for r in rows]


# -- alerts ------------------------------------------------------------------------------------


@SQLITE_ONLY
async def test_alert_fired_while_the_database_is_locked_is_sent_once_it_is_written(
    alice, exchange, running_bot, write_lock, bot_log
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000 locked out")
    await watching(running_bot, "BTCUSDT")
    await write_lock.take()
    exchange.set_price("BTCUSDT", Decimal("61500"))  # fires; its write waits, then fails
    await failure_reported(running_bot, "alert-firing")
    await write_lock.release()
    message = await alice.reply(timeout=15)
    assert "crossed at 61,500" in message.text and "locked out" in message.text
    await until_async(lambda: _all_sent(running_bot))
    assert len(fired(alice)) == 1
    assert "alert-firing" not in runtime(running_bot).health.failures()  # recovered
    assert "Task exception was never retrieved" not in bot_log.getvalue()


async def _all_sent(app) -> bool:
    states = await outbox_states(app)
    return bool(states) and all(s == "sent" for s in states)


@SQLITE_ONLY
async def test_outbox_survives_a_locked_database_and_sends_each_alert_once(
    alice, api, exchange, running_bot, write_lock, bot_log
):
    exchange.set_price("ETHUSDT", Decimal("3000"))
    await ask(alice, "/alert ETH > 3100 first")
    await ask(alice, "/alert ETH > 3200 second")
    await watching(running_bot, "ETHUSDT")
    api.delay_next("sendMessage", 1.0, chat=alice.chat)  # the lock is taken meanwhile
    exchange.set_price("ETHUSDT", Decimal("3150"))
    await until_async(lambda: _pending(running_bot))
    await write_lock.take()  # Telegram takes the message; writing "sent" waits, then fails
    await failure_reported(running_bot, "outbox")
    await write_lock.release()
    assert "first" in (await alice.reply(timeout=15)).text
    exchange.set_price("ETHUSDT", Decimal("3250"))  # the sender still runs
    assert "second" in (await alice.reply(timeout=15)).text
    await until_async(lambda: _all_sent(running_bot))
    assert [m.text.count("first") for m in fired(alice)] == [1, 0]
    assert "Task exception was never retrieved" not in bot_log.getvalue()


async def _pending(app) -> bool:
    return "pending" in await outbox_states(app)


async def test_chat_not_found_drops_the_message_and_pauses_the_chat_until_it_writes(
    alice, api, exchange, running_bot
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000")
    await ask(alice, "/alert BTC < 50000 still armed")
    await watching(running_bot, "BTCUSDT")
    sends = len(api.calls_to("sendMessage"))
    api.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found")
    exchange.set_price("BTCUSDT", Decimal("61500"))
    await until_async(lambda: _dropped(running_bot))  # not retried every 2 s forever
    assert runtime(running_bot).services.alerts.is_paused(alice.chat.id)
    assert len(api.calls_to("sendMessage")) == sends + 1
    listing = await ask(alice, "/alerts")  # the chat writes again: its alerts resume
    assert "#2 BTCUSDT ≤ 50000 · paused — still armed" in listing.text
    resumed = await alice.reply(timeout=10)
    assert "1 paused alert(s) in this chat are active again" in resumed.text
    exchange.set_price("BTCUSDT", Decimal("49000"))
    assert "still armed" in (await alice.reply(timeout=20)).text


async def _dropped(app) -> bool:
    return await outbox_states(app) == ["dropped"]


async def test_slow_send_message_is_not_sent_again(alice, api, exchange, running_bot):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000 slow")
    await ask(alice, "/alert BTC > 62000 after")
    await watching(running_bot, "BTCUSDT")
    api.delay_next("sendMessage", 7.0, chat=alice.chat)  # longer than the bot waits (5 s)
    exchange.set_price("BTCUSDT", Decimal("61500"))
    await until_async(lambda: _unknown(running_bot))  # the bot gave up waiting: fate unknown
    assert "slow" in (await alice.reply(timeout=15)).text  # Telegram delivered it anyway
    exchange.set_price("BTCUSDT", Decimal("62500"))
    assert "after" in (await alice.reply(timeout=15)).text
    assert sum("slow" in m.text for m in fired(alice)) == 1


async def _unknown(app) -> bool:
    return "unknown" in await outbox_states(app)


# -- /alerts and the retention period ----------------------------------------------------------


async def _fire_many(app, count: int, fired_at: float) -> None:
    """`count` one-shot alerts of Alice's that fired at `fired_at` (their messages long sent)."""
    repo = runtime(app).services.alerts.repository
    for index in range(count):
        record = await repo.create(
            user_id=ALICE, chat_id=ALICE, symbol="BTCUSDT", direction=AlertDirection.ABOVE,
            threshold=Decimal(70000 + index), condition=f"≥ {70000 + index}", note=None,
            repeat=False, cooldown=900.0, limit=100,
        )  # fmt: skip
        await repo._db.execute(
            "UPDATE alerts SET state = 'fired', fired_at = ?, fired_price = ? WHERE id = ?",
            (fired_at, str(70000 + index), record.id),
        )


async def test_alerts_lists_one_page_of_the_most_recent(alice, api, running_bot):
    await _fire_many(running_bot, 158, time.time())
    listing = await ask(alice, "/alerts")
    assert "Your alerts (158)" in listing.text
    assert "#158 BTCUSDT ≥ 70157" in listing.text and "#1 BTCUSDT" not in listing.text
    assert "older alert(s) not shown" in listing.text
    await ask(alice, "/help")  # whatever /alerts sent came before this answer
    pages = [m for m in alice.messages if m.from_bot and "Your alerts" in m.text]
    continued = [m for m in alice.messages if m.from_bot and m.text.startswith("#")]
    assert len(pages) == 1 and continued == []


async def test_fired_alerts_are_forgotten_after_the_retention_period(
    api, exchange, settings, alice, running_bot
):
    from chatbot.app import running_bot as run

    await _fire_many(running_bot, 3, time.time() - 31 * 86_400)  # a month ago
    await _fire_many(running_bot, 1, time.time())
    await running_bot.updater.stop()
    await running_bot.stop()
    await runtime(running_bot).alert_feed.stop()
    async with run(settings, poll_timeout=1) as app:
        alerts = runtime(app).services.alerts

        async def forgotten() -> bool:
            return len(await alerts.list(ALICE)) == 1

        await until_async(forgotten)
        conv = api.conversation(api.user(ALICE, first_name="Alice"))
        listing = await ask(conv, "/alerts")
        assert "Your alerts (1)" in listing.text and "#4 BTCUSDT" in listing.text


# -- orders ------------------------------------------------------------------------------------


@SQLITE_ONLY
async def test_order_answered_while_the_database_is_locked_still_shows_its_outcome(
    alice_with_key, exchange, running_bot, write_lock
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    exchange.faults.hang_next("/api/v3/order", seconds=1.0, execute=True)  # placed; slow answer
    await alice_with_key.press(preview, "Confirm")
    await until(lambda: exchange.orders_for(ALICE_KEY))  # placed; its answer is still on the way
    await write_lock.take()  # the answer arrives while the database is locked
    await failure_reported(running_bot, "orders")
    await write_lock.release()
    await alice_with_key.wait_for(lambda: "Filled" in alice_with_key.current(preview).text, 20)
    tickets = runtime(running_bot).services.orders.ticket_repository
    assert (await tickets.get(ticket_of(preview))).state == "FILLED"
    assert len(exchange.orders_for(ALICE_KEY)) == 1


async def test_restart_settles_everyone_when_one_key_does_not_decrypt(
    api, exchange, settings, alice_with_key, running_bot
):
    from chatbot.app import running_bot as run
    from chatbot.storage.tickets import TicketState

    exchange.add_account(BOB_KEY, secret=BOB_SECRET, balances={"USDT": Decimal("1000")})
    bob = api.conversation(api.user(BOB, first_name="Bob"))
    assert "stored" in (await ask(bob, f"/setkey {BOB_KEY} {BOB_SECRET}")).text
    services = runtime(running_bot).services
    tickets = services.orders.ticket_repository
    alices = await ask(alice_with_key, "/buy BTCUSDT 0.001")  # sent; its answer was lost
    assert await tickets.claim(ticket_of(alices), ALICE, 0)
    await tickets.move(ticket_of(alices), (TicketState.CONFIRMING,), TicketState.UNKNOWN)
    bobs = await ask(bob, "/buy BTCUSDT 0.001")  # sent, executed, then the process died
    assert await tickets.claim(ticket_of(bobs), BOB, 0)
    await tickets.move(ticket_of(bobs), (TicketState.CONFIRMING,), TicketState.SUBMITTED)
    spec = exchange.catalog.get("BTCUSDT")
    order = SimOrder(spec, "BUY", "MARKET", None, Decimal("0.001"), None, None, ticket_of(bobs))
    exchange.engine.place(exchange.account(BOB_KEY), order)
    await process_dies(running_bot)
    db = await open_database(settings.database_url)  # Alice's row is damaged on disk
    try:
        query = "SELECT ciphertext FROM credentials WHERE user_id = ?"
        blob = bytes((await db.fetch_one(query, (ALICE,)))["ciphertext"])
        damaged = blob[:-1] + bytes([blob[-1] ^ 0x01])
        await db.execute(
            "UPDATE credentials SET ciphertext = ? WHERE user_id = ?", (damaged, ALICE)
        )
    finally:
        await db.close()
    async with run(settings, poll_timeout=1):
        bob = api.conversation(api.user(BOB, first_name="Bob"))
        await bob.wait_for(lambda: "Filled" in bob.current(bobs).text, 15)
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        await alice.wait_for(lambda: "/setkey" in alice.current(alices).text, 15)
        assert "can no longer be read" in alice.current(alices).text
        await alice.wait_for(lambda: said(alice, "⚠️ Your stored Binance API key"), 15)
