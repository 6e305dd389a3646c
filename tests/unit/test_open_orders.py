"""When the open-orders record may answer, and a queued sync a user raises: unit tests with a
stand-in tracker and client (no wire: the end-to-end ones are in tests/e2e/test_weight_per_user)."""

from __future__ import annotations

import asyncio

import pytest

from chatbot.exchange.errors import RateLimited
from chatbot.exchange.weight_governor import Priority, background, current_priority
from chatbot.services.open_orders import OpenOrderMirror
from chatbot.storage.database import Database
from chatbot.storage.tracked_orders import TrackedOrderRepository


class Tracker:
    """Syncs that end as told, each once its `release` is set; each notes its lane."""

    def __init__(self, results: list[bool]) -> None:
        self.results = results
        self.lanes: list[Priority] = []
        self.release = [asyncio.Event() for _ in results]

    async def sync(self, user_id: int) -> bool:
        await self.release[len(self.lanes)].wait()
        self.lanes.append(current_priority())
        return self.results[len(self.lanes) - 1]


class Client:
    """Binance refusing a user's call: the budget is spent."""

    async def open_orders(self, credentials, symbol=None):
        raise RateLimited(30.0, code=-1003, status=429)


@pytest.fixture
def tracked(database: Database) -> TrackedOrderRepository:
    return TrackedOrderRepository(database)


async def test_a_user_raises_a_queued_sync_and_a_refused_one_goes_on_in_the_background(tracked):
    tracker = Tracker([False, True])
    mirror = OpenOrderMirror(Client(), tracker, tracked)  # type: ignore[arg-type]
    mirror.attach(lambda _: 1)
    with background():
        queued = asyncio.create_task(mirror.sync(7))
    await asyncio.sleep(0)
    asking = asyncio.create_task(mirror.open_orders(7, None))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    tracker.release[0].set()
    with pytest.raises(RateLimited):  # the raised sync was refused: the user is told at once
        await asking
    tracker.release[1].set()
    await queued
    assert tracker.lanes == [Priority.USER, Priority.BACKGROUND]
    assert await mirror.open_orders(7, None) == []  # type: ignore[arg-type]
    assert mirror.served == 1


async def test_a_gap_ends_the_trust(tracked):
    epoch = {7: 1}
    tracker = Tracker([True])
    mirror = OpenOrderMirror(Client(), tracker, tracked)  # type: ignore[arg-type]
    mirror.attach(epoch.get)
    tracker.release[0].set()
    await mirror.sync(7)
    assert await mirror.open_orders(7, None) == []  # type: ignore[arg-type]
    epoch[7] = None  # type: ignore[assignment]  # the stream is down: Binance is asked
    with pytest.raises(RateLimited):
        await mirror.open_orders(7, None)  # type: ignore[arg-type]
