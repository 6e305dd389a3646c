"""Writes that return what they wrote, and reads that see every commit made before them, with
many coroutines reading and writing the one database at once (as 100 users do)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from chatbot.storage.alerts import AlertDirection, AlertRepository, AlertState
from chatbot.storage.sqlite import SqliteDatabase as Database
from chatbot.storage.tickets import TicketKind, TicketRepository, TicketState


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.open(tmp_path / "bot.sqlite3")
    yield db
    await db.close()


@asynccontextmanager
async def busy_readers(read: Callable[[], Awaitable[object]]) -> AsyncIterator[None]:
    """Other users' reads running the whole time on the read connection."""
    stop = asyncio.Event()

    async def keep_reading() -> None:
        while not stop.is_set():
            await read()

    tasks = [asyncio.create_task(keep_reading()) for _ in range(5)]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_a_read_sees_every_write_committed_before_it(database):
    await database.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    for _ in range(100):
        await database.execute("INSERT INTO notes (body) VALUES ('old')")

    async def write_then_read() -> bool:
        [row] = await database.write_returning("INSERT INTO notes (body) VALUES ('n') RETURNING id")
        note_id = row[0]
        return await database.fetch_one("SELECT 1 FROM notes WHERE id = ?", (note_id,)) is not None

    async with busy_readers(lambda: database.fetch_all("SELECT * FROM notes")):
        seen = await asyncio.gather(*(write_then_read() for _ in range(200)))
    assert all(seen)


async def test_a_new_ticket_comes_back_from_its_insert(database):
    tickets = TicketRepository(database)

    async def preview(user_id: int):
        return await tickets.create(
            user_id=user_id, chat_id=user_id, kind=TicketKind.ORDER, symbol="BTCUSDT",
            side="BUY", order_type="MARKET", quantity=Decimal("0.001"),
            preview_price=Decimal("60000.10"),
        )  # fmt: skip

    async with busy_readers(lambda: tickets.in_states((TicketState.DRAFT,))):
        made = await asyncio.gather(*(preview(user) for user in range(100)))
    assert [t.user_id for t in made] == list(range(100))
    assert {t.state for t in made} == {TicketState.DRAFT}
    assert made[0].quantity == Decimal("0.001") and made[0].preview_price == Decimal("60000.10")
    assert len({t.id for t in made}) == 100


async def alert(alerts: AlertRepository, user_id: int, symbol: str = "BTCUSDT"):
    return await alerts.create(
        user_id=user_id, chat_id=user_id, symbol=symbol, direction=AlertDirection.ABOVE,
        threshold=Decimal("70000"), condition="> 70000", note=None, repeat=False,
        cooldown=0.0, limit=50,
    )  # fmt: skip


async def test_an_alert_created_a_moment_ago_can_be_deleted(database):
    alerts = AlertRepository(database)

    async def create_then_delete(user_id: int) -> list[int]:
        record = await alert(alerts, user_id)
        return [a.id for a in await alerts.delete(user_id, [record.id])]

    async with busy_readers(alerts.active):
        deleted = await asyncio.gather(*(create_then_delete(user) for user in range(100)))
    assert all(len(ids) == 1 for ids in deleted)
    assert await alerts.active() == []


async def test_delete_returns_the_users_own_alerts_only(database):
    alerts = AlertRepository(database)
    mine = [await alert(alerts, 1, "BTCUSDT"), await alert(alerts, 1, "ETHUSDT")]
    theirs = await alert(alerts, 2)
    removed = await alerts.delete(1, [theirs.id, mine[1].id, mine[1].id])
    assert [(a.id, a.symbol, a.state) for a in removed] == [
        (mine[1].id, "ETHUSDT", AlertState.DELETED)
    ]
    assert [a.id for a in await alerts.delete(1)] == [mine[0].id]
    assert await alerts.delete(1, []) == []
    assert [a.id for a in await alerts.active()] == [theirs.id]
