"""What the end-to-end tests share: waiting for the bot's facts (an alert told, a fill noticed, a
stream following a user, a later message that proves an earlier one would have come), pressing
through a preview, and setting up what an earlier run left behind.

Each helper waits for a fact, never for time: a test that counts messages first waits for a
later one (a sentinel) that can only arrive after any duplicate would have.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from pydantic import SecretStr
from telegram.ext import Application

from chatbot.config import Settings
from chatbot.database_url import DatabaseKind
from chatbot.key_types import KeyType
from chatbot.runtime import runtime
from chatbot.sandbox.botapi import Conversation
from chatbot.sandbox.botapi.models import ChatMessage
from chatbot.sandbox.exchange import ExchangeSimulator
from chatbot.sandbox.exchange.orders import Order
from chatbot.storage.database import open_database
from chatbot.storage.vault import CredentialVault
from tests.e2e.conftest import ALICE, ALICE_KEY, ALICE_SECRET, ask

T = TypeVar("T")

WATCH = 3  # seconds the bot keeps asking about an order whose answer was lost (CHATBOT_ORDER_WATCH)
OTHERS = range(3000, 3034)  # with Alice, 35 users whose keys were stored before a restart


# -- waiting ----------------------------------------------------------------------------------


async def until(fact: Callable[[], T], seconds: float = 10.0) -> T:
    """Wait for a fact the Bot API emulator does not signal (a counter in the bot)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not (result := fact()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the fact never held")
        await asyncio.sleep(0.02)
    return result


async def until_async(condition: Callable[[], Awaitable[Any]], within: float = 15.0) -> None:
    """Wait for a fact that takes a query to read (the database), polling it."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.05)


def said(conv: Conversation, text: str) -> bool:
    """Whether the bot ever showed `text`, in a message or in any version of one."""
    return any(text in event.message.text for event in conv.history if event.message.from_bot)


# -- orders -----------------------------------------------------------------------------------


def orders_at_exchange(exchange: ExchangeSimulator) -> list[Order]:
    """Alice's orders as the simulator holds them (what really reached Binance)."""
    return exchange.orders_for(ALICE_KEY)


async def confirm(conv: Conversation, preview: ChatMessage) -> ChatMessage:
    """Press Confirm and return the preview once it shows the outcome (past "Sending…")."""
    await press_confirm(conv, preview)
    return conv.current(preview)


async def press_confirm(conv: Conversation, preview: ChatMessage) -> None:
    """Press Confirm and wait until the preview shows more than "Sending…"."""
    await conv.press(preview, "Confirm")
    await conv.wait_for(
        lambda: (
            conv.current(preview).text != preview.text
            and "Sending" not in conv.current(preview).text
        ),
        timeout=15,
    )


def ticket_of(preview: ChatMessage) -> str:
    """The ticket id a preview's buttons carry."""
    return preview.buttons[0][0].callback_data.split(":")[2]


async def place_resting_buy(
    alice: Conversation, exchange: ExchangeSimulator, price: str = "55000"
) -> ChatMessage:
    """A limit buy of 0.001 BTC below the market (60,000), confirmed from the chat: it rests."""
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice, f"/buy BTCUSDT 0.001 @ {price}")
    result = await confirm(alice, preview)
    assert "is open" in result.text
    return result


def notices(conv: Conversation) -> list[ChatMessage]:
    """Messages the bot sent on its own about an order (not previews edited into outcomes)."""
    return [
        m
        for m in conv.messages
        if m.from_bot and not m.edited and m.text.startswith(("✅", "🔸", "✖", "⌛"))
    ]


def notice_texts(conv: Conversation) -> list[str]:
    """The texts of the bot's own new messages about orders (not edited previews), the
    outcomes of a lost answer (📌, ❌) included."""
    return [
        m.text
        for m in conv.messages
        if m.from_bot and not m.edited and m.text.startswith(("✅", "🔸", "✖", "⌛", "📌", "❌"))
    ]


def price_of(message: ChatMessage) -> str | None:
    """The average price a fill notice names, as typed (55,000 -> "55000")."""
    marker = "Average price "
    if marker not in message.text:
        return None
    return message.text.split(marker, 1)[1].split()[0].replace(",", "")


async def sentinel_filled(
    alice: Conversation, exchange: ExchangeSimulator, price: str = "54000"
) -> None:
    """A later fact to wait for: a second resting buy fills and its notice arrives. The
    user-data stream delivers one user's events in order, so every notice an earlier event
    could cause has arrived by then: a late duplicate is counted instead of slipping past."""
    await place_resting_buy(alice, exchange, price)
    exchange.set_price("BTCUSDT", Decimal(price) - 10)
    await alice.wait_for(lambda: any(price_of(m) == price for m in notices(alice)), timeout=15)


async def following(running_bot: Application, subscribed: bool = True) -> None:
    """Wait until the live stream (started in the background) follows Alice, or, with
    `subscribed=False`, has dropped her."""
    for _ in range(500):
        stream = runtime(running_bot).fill_feed.stream
        if stream.connected and (ALICE in stream.subscribed_users) == subscribed:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the user-data stream never reached the expected state")


async def process_dies(running_bot: Application) -> None:
    """The bot stops answering and following orders, as if its process were killed (its
    tickets and tracked orders stay in the database for the next start)."""
    await running_bot.updater.stop()
    await running_bot.stop()
    await runtime(running_bot).fill_feed.stop()


# -- alerts -----------------------------------------------------------------------------------


def fired(conv: Conversation) -> list[ChatMessage]:
    """The bot's messages telling alerts fired (not the "Alert #n set" replies)."""
    return [
        m for m in conv.messages if m.from_bot and m.text.startswith("🔔") and "set" not in m.text
    ]


def told(conv: Conversation) -> list[int]:
    """The alert ids the bot has told fired, in order (single and merged messages alike)."""
    return [int(t) for m in fired(conv) for t in re.findall(r"#(\d+)", m.text)]


async def sentinel_fires(
    conv: Conversation, exchange: ExchangeSimulator, symbol: str, level: str
) -> None:
    """A later fact to wait for: a fresh alert `symbol > level` is set, the price moves past
    it, and its message arrives. Trades reach the book in order and the outbox sends in order,
    so every message an earlier trade could cause has arrived by then: a late duplicate is
    counted instead of slipping past the test."""
    reply = await ask(conv, f"/alert {symbol} > {level} sentinel")
    set_as = re.search(r"Alert #(\d+) set", reply.text)
    assert set_as is not None, reply.text  # a late message came before the reply
    sentinel = int(set_as.group(1))
    exchange.set_price(symbol, Decimal(level) + 1)
    await conv.wait_for(lambda: sentinel in told(conv), timeout=15)


async def watching(running_bot: Application, symbol: str) -> None:
    """Wait until the market stream follows `symbol` and Binance confirmed the subscription."""
    live = runtime(running_bot).alert_feed
    for _ in range(500):
        if symbol in live.stream.symbols and live.stream.connected:
            await asyncio.wait_for(live.stream.settle(), 10)  # Binance confirmed it
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{symbol} never watched")


# -- the process and its surroundings ------------------------------------------------------------


async def get(url: str) -> tuple[int, str]:
    """GET `url` (the bot's HTTP endpoints): the status and the body."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def store_keys(
    settings: Settings, exchange: ExchangeSimulator, user_ids: Iterable[int]
) -> None:
    """Keys stored by an earlier run (sealed in the bot's database), of funded accounts."""
    db = await open_database(settings.database_url)
    try:
        vault = CredentialVault(db, settings.master_key_bytes)
        for user_id in user_ids:
            key, secret = (
                (ALICE_KEY, ALICE_SECRET)
                if user_id == ALICE
                else (f"Key{user_id}".ljust(64, "k"), f"Secret{user_id}".ljust(64, "s"))
            )
            exchange.add_account(key, secret=secret, balances={"USDT": Decimal("1000")})
            permissions = {"trade": True, "withdraw": False, "ip_restricted": False}
            await vault.store(user_id, KeyType.HMAC, SecretStr(key), SecretStr(secret), permissions)
    finally:
        await db.close()


async def everything_stored(settings: Settings) -> bytes:
    """Every byte the bot's database holds, to search for a plaintext secret: SQLite's files
    (the database, its WAL and shared memory), or every row of every table on PostgreSQL (whose
    own files belong to the server)."""
    url = settings.database_url
    if url.kind is DatabaseKind.SQLITE:
        folder = Path(url.target).parent
        return b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())
    db = await open_database(url)
    try:
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        tables = [row["table_name"] for row in await db.fetch_all(query)]
        rows = [dict(r) for t in tables for r in await db.fetch_all(f'SELECT * FROM "{t}"')]
    finally:
        await db.close()
    assert "credentials" in tables and rows, tables
    return repr(rows).encode()


async def users_synced(database: str) -> int:
    """How many users' start-up re-read of their open orders is done (`database`: CHATBOT_DB)."""
    db = await open_database(database)
    try:
        row = await db.fetch_one("SELECT COUNT(*) AS n FROM order_sync")
    finally:
        await db.close()
    return int(row["n"]) if row else 0
