"""The order lists the bot follows, on each engine: a list's end is claimed by exactly one
teller, also when two replicas (two connections) try at once, and an ended list is never
recorded open again by an older answer."""

from __future__ import annotations

import asyncio
import time

from chatbot.storage.database import Database
from chatbot.storage.order_lists import KnownList, OrderListRepository

OCO = KnownList(7, "BTCUSDT", 12, "OCO", "EXECUTING", (101, 102))


async def test_a_lists_end_is_claimed_once_across_replicas(database: Database, other: Database):
    mine, theirs = OrderListRepository(database), OrderListRepository(other)
    await mine.record(OCO)
    claims = await asyncio.gather(
        *(repo.claim_told(7, "BTCUSDT", 12) for repo in (mine, theirs, mine, theirs))
    )
    assert sorted(claims) == [False, False, False, True]
    assert await mine.untold(7) == []


async def test_an_ended_list_stays_ended_and_keeps_its_legs_in_order(database: Database):
    repo = OrderListRepository(database)
    otoco = KnownList(7, "BTCUSDT", 13, "OTO", "ALL_DONE", (205, 203, 204))
    await repo.record(otoco)
    await repo.record(KnownList(7, "BTCUSDT", 13, "OTO", "EXECUTING", (205, 203, 204)))
    known = await repo.get(7, "BTCUSDT", 13)
    assert known is not None and not known.is_open and known.working_order_id == 205


async def test_told_lists_are_pruned_and_a_users_lists_forgotten(database: Database):
    repo = OrderListRepository(database)
    await repo.record(OCO)
    await repo.record(KnownList(7, "ETHUSDT", 3, "OCO", "EXECUTING", (1, 2)))
    await repo.claim_told(7, "BTCUSDT", 12)
    assert await repo.prune(time.time() + 1) == 1
    assert [k.symbol for k in await repo.untold(7)] == ["ETHUSDT"]
    await repo.forget_user(7)
    assert await repo.untold(7) == []
