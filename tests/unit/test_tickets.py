"""Order tickets in a real SQLite file: the strings they keep, and the clock they keep time by."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatbot.exchange.side import Side
from chatbot.exchange.signing import encode_params
from chatbot.storage.db import Database
from chatbot.storage.tickets import TicketKind, TicketRepository


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.open(tmp_path / "bot.sqlite3")
    yield db
    await db.close()


async def test_a_side_is_written_and_sent_as_binances_own_string(database: Database) -> None:
    tickets = TicketRepository(database)
    ticket = await tickets.create(
        user_id=1, chat_id=1, kind=TicketKind.ORDER, symbol="BTCUSDT", side=Side.SELL
    )
    sql = "SELECT side, typeof(side) AS t FROM tickets WHERE id = ?"
    row = await database.fetch_one(sql, (ticket.id,))
    assert row is not None and (row["side"], row["t"]) == ("SELL", "text")
    read = await tickets.get(ticket.id)
    assert read is not None and read.side is Side.SELL
    assert encode_params([("side", Side.BUY)]) == "side=BUY"
    assert f"{Side.BUY}" == str(Side.BUY) == "BUY"
