"""Order tickets in a real database, on each engine: the strings they keep, and the clock they
keep time by."""

from __future__ import annotations

import asyncio

from chatbot.exchange.signing import encode_params
from chatbot.side import Side
from chatbot.storage.database import Database, open_database
from chatbot.storage.tickets import TicketKind, TicketRepository


async def test_a_side_is_written_and_sent_as_binances_own_string(database: Database) -> None:
    tickets = TicketRepository(database)
    ticket = await tickets.create(
        user_id=1, chat_id=1, kind=TicketKind.ORDER, symbol="BTCUSDT", side=Side.SELL
    )
    row = await database.fetch_one("SELECT side FROM tickets WHERE id = ?", (ticket.id,))
    assert row is not None and type(row["side"]) is str and row["side"] == "SELL"
    read = await tickets.get(ticket.id)
    assert read is not None and read.side is Side.SELL
    assert encode_params([("side", Side.BUY)]) == "side=BUY"
    assert f"{Side.BUY}" == str(Side.BUY) == "BUY"


async def test_a_ticket_is_timed_and_claimed_by_the_repositorys_clock(database: Database) -> None:
    now = [1_000.0]
    tickets = TicketRepository(database, clock=lambda: now[0])
    ticket = await tickets.create(user_id=1, chat_id=1, kind=TicketKind.ORDER, symbol="BTCUSDT")
    assert ticket.created_at == ticket.updated_at == 1_000.0
    now[0] = 1_030.0  # a claim needs the ticket created after `created_after`
    assert not await tickets.claim(ticket.id, 1, created_after=1_000.0)
    assert await tickets.claim(ticket.id, 1, created_after=999.0)
    claimed = await tickets.get(ticket.id)
    assert claimed is not None and claimed.updated_at == 1_030.0


async def test_of_fifty_presses_at_once_exactly_one_claims_the_ticket(database: Database) -> None:
    """DRAFT -> CONFIRMING is one conditional UPDATE: on SQLite the single writer orders the
    presses, on PostgreSQL the row lock does (each waiting press finds the state moved on)."""
    tickets = TicketRepository(database)
    ticket = await tickets.create(user_id=1, chat_id=1, kind=TicketKind.ORDER, symbol="BTCUSDT")
    claims = await asyncio.gather(
        *(tickets.claim(ticket.id, 1, created_after=ticket.created_at - 60) for _ in range(50))
    )
    assert claims.count(True) == 1


async def test_of_fifty_presses_spread_over_three_replicas_exactly_one_claims_the_ticket(
    database: Database, database_target: str
) -> None:
    """Each press through a TicketRepository of its own, on three replicas' own connections
    to one database: the claim is decided by the database, not by any one process."""
    replicas = [database, *[await open_database(database_target) for _ in range(2)]]
    try:
        ticket = await TicketRepository(database).create(
            user_id=1, chat_id=1, kind=TicketKind.ORDER, symbol="BTCUSDT"
        )
        presses = [
            TicketRepository(replicas[n % 3]).claim(ticket.id, 1, ticket.created_at - 60)
            for n in range(50)
        ]
        assert (await asyncio.gather(*presses)).count(True) == 1
        claimed = await TicketRepository(replicas[2]).get(ticket.id)
        assert claimed is not None and claimed.state == "CONFIRMING"
    finally:
        for db in replicas[1:]:
            await db.close()
