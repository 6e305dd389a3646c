"""Firing an alert when several replicas see the same prices, on each engine: the database's
conditional update decides, so an alert fires once and queues one message whichever replica's
book saw the crossing, and a repeating alert inside its cooldown is not fired by another."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from chatbot.services.alerts import AlertService
from chatbot.storage.alerts import AlertDirection, AlertRecord, AlertRepository
from chatbot.storage.database import Database

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def make_alert(repo: AlertRepository, level: int, *, repeat: bool = False) -> AlertRecord:
    return await repo.create(
        user_id=1, chat_id=1, symbol="BTCUSDT", direction=AlertDirection.ABOVE,
        threshold=Decimal(level), condition=f"≥ {level}", note=None, repeat=repeat,
        cooldown=900.0, limit=1000,
    )  # fmt: skip


def replica(db: Database, clock: Clock) -> AlertService:
    """No market service: firing never quotes a price nor resolves a symbol."""
    market = None
    return AlertService(AlertRepository(db), market, clock=clock)


async def outbox_alert_ids(db: Database) -> list[int]:
    rows = await db.fetch_all("SELECT alert_id FROM outbox ORDER BY alert_id")
    return [int(r["alert_id"]) for r in rows]


async def recorded(service: AlertService) -> None:
    """Wait until the service has written the firing of its last tick (whatever it fired)."""
    await asyncio.wait_for(service.fired.wait(), 10)
    service.fired.clear()


async def test_two_replicas_on_the_same_tick_fire_each_alert_once(database, other):
    clock = Clock()
    made = [await make_alert(AlertRepository(database), 70_000 + n, repeat=n % 2 == 0)
            for n in range(30)]  # fmt: skip
    here, there = replica(database, clock), replica(other, clock)
    assert await here.load() == await there.load() == 30

    here.scope.on_price("BTCUSDT", Decimal(80_000))
    there.scope.on_price("BTCUSDT", Decimal(80_000))
    await asyncio.gather(recorded(here), recorded(there))

    assert here.fired_total + there.fired_total == 30
    assert await outbox_alert_ids(database) == sorted(a.id for a in made)


async def test_a_repeating_alert_in_its_cooldown_is_not_fired_by_another_replica(database, other):
    clock = Clock()
    alert = await make_alert(AlertRepository(database), 70_000, repeat=True)
    here, there = replica(database, clock), replica(other, clock)
    await here.load()
    await there.load()

    here.scope.on_price("BTCUSDT", Decimal(71_000))
    await recorded(here)
    clock.now += 0.5  # the other replica's stream delivers the same crossing a moment later
    there.scope.on_price("BTCUSDT", Decimal(71_000))
    await recorded(there)

    assert (here.fired_total, there.fired_total) == (1, 0)
    assert await outbox_alert_ids(database) == [alert.id]
    stored = await AlertRepository(database).get(alert.id)
    assert stored is not None and stored.fire_count == 1 and stored.fired_at == T0


async def test_a_repeating_alert_fires_again_once_its_cooldown_is_over(database):
    repo = AlertRepository(database)
    alert = await make_alert(repo, 70_000, repeat=True)
    assert [a.id for a in await repo.fire([alert.id], Decimal(71_000), T0)] == [alert.id]
    assert await repo.fire([alert.id], Decimal(71_000), T0 + 899.9) == []
    assert [a.id for a in await repo.fire([alert.id], Decimal(71_000), T0 + 900)] == [alert.id]
    assert await outbox_alert_ids(database) == [alert.id, alert.id]


async def test_replicas_firing_the_same_alerts_in_opposite_orders_neither_deadlock_nor_double(
    database, other
):
    """On PostgreSQL each update holds its row until COMMIT: two transactions taking the same
    rows in opposite orders would deadlock, so `fire` takes them in ascending id order."""
    made = [await make_alert(AlertRepository(database), 70_000 + n) for n in range(50)]
    ids = [a.id for a in made]
    rounds = [
        AlertRepository(db).fire(order, Decimal(80_000), T0)
        for db, order in ((database, ids), (other, ids[::-1])) * 3
    ]
    fired = [a.id for batch in await asyncio.gather(*rounds) for a in batch]
    assert sorted(fired) == ids
    assert await outbox_alert_ids(database) == ids


async def test_after_an_outage_both_replicas_saw_each_chat_hears_prices_are_back_once(
    database, other
):
    """Each replica's stream was down; each asks to tell its chats. A chat with alerts on both
    replicas' symbols is told by one of them; the next outage is told again."""
    here, there = AlertRepository(database), AlertRepository(other)
    down_at, back_here, back_there = T0, T0 + 120, T0 + 121

    told_here, told_there = await asyncio.gather(
        here.claim_prices_back([1, 2], since=down_at, now=back_here),
        there.claim_prices_back([2, 3], since=down_at + 0.5, now=back_there),
    )

    assert sorted(told_here + told_there) == [1, 2, 3]  # chat 2 once, by whichever came first
    again = await there.claim_prices_back([2], since=T0 + 600, now=T0 + 700)
    assert again == [2]
