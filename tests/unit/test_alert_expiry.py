"""Alerts that expire (`until`, `for`) and firings that carry what was measured, on each
engine: an expired alert is marked and told once however many replicas sweep, its message
waits in the outbox like a firing's, and the user still sees (and can remove) it."""

from __future__ import annotations

import asyncio
import time
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chatbot.errors import UserError
from chatbot.services.alert_kinds import Expiry, Move, to_json
from chatbot.services.alert_levels import expiry_instant
from chatbot.storage.alerts import AlertDirection, AlertRecord, AlertRepository, AlertState
from chatbot.storage.outbox import AlertEvent, FiredAlert

T0 = 1_790_000_000.0  # 2026-09-21


async def make_alert(repo: AlertRepository, expires_at: float | None) -> AlertRecord:
    move = Move(Decimal(3), 900)
    return await repo.create(
        user_id=1, chat_id=7, symbol="BTCUSDT", direction=AlertDirection.ABOVE,
        threshold=Decimal(3), condition="+3% 15m", note="breakout", repeat=False,
        cooldown=900.0, limit=1000, kind="move", params=to_json(move), expires_at=expires_at,
    )  # fmt: skip


async def test_two_sweeps_expire_each_alert_once_and_queue_one_message(database, other):
    repo = AlertRepository(database)
    due = [await make_alert(repo, T0 - n) for n in range(5)]
    later = await make_alert(repo, T0 + 3600)
    forever = await make_alert(repo, None)

    first, second = await asyncio.gather(
        AlertRepository(database).expire_due(T0), AlertRepository(other).expire_due(T0)
    )
    assert sorted(a.id for a in first + second) == [a.id for a in due]
    pending = await repo.outbox.pending()
    assert sorted(item.alert_id for item in pending) == [a.id for a in due]
    for item in pending:
        assert item.alert.event is AlertEvent.EXPIRED
        assert (item.alert.price, item.alert.kind, item.alert.note) == (None, "move", "breakout")
        assert item.alert.params == to_json(Move(Decimal(3), 900))
    states = {a.id: a.state for a in await repo.for_user(1)}
    assert states == {**{a.id: AlertState.EXPIRED for a in due},
                      later.id: AlertState.ACTIVE, forever.id: AlertState.ACTIVE}  # fmt: skip
    assert await repo.expire_due(T0) == []  # told once


async def test_an_expired_alert_can_be_removed_and_is_pruned_with_the_fired(database):
    repo = AlertRepository(database)
    gone, kept = await make_alert(repo, T0 - 10), await make_alert(repo, T0 - 5)
    await repo.expire_due(T0)
    assert [a.id for a in await repo.delete(1, [gone.id])] == [gone.id]
    assert await repo.prune(time.time() + 1) == 2  # the deleted one and the expired one
    assert kept.id not in {a.id for a in await repo.for_user(1)}


async def test_a_firing_keeps_what_was_measured_each_at_its_own_price(database):
    repo = AlertRepository(database)
    a, b = await make_alert(repo, None), await make_alert(repo, None)
    firings = {a.id: (Decimal("69144.5"), Decimal("3.2")), b.id: (Decimal("69150"), None)}
    fired = await repo.fire_each(firings, T0)
    assert {r.id: r.fired_price for r in fired} == {a.id: Decimal("69144.5"), b.id: Decimal(69150)}
    by_id = {item.alert_id: item.alert for item in await repo.outbox.pending()}
    assert (by_id[a.id].price, by_id[a.id].measured) == (Decimal("69144.5"), Decimal("3.2"))
    assert (by_id[b.id].measured, by_id[b.id].event) == (None, AlertEvent.FIRED)


def test_a_message_queued_before_the_new_fields_still_reads():
    payload = (
        '{"alert_id": 3, "user_id": 1, "symbol": "BTCUSDT", "condition": "≥ 70000", '
        '"price": "70001", "note": null, "repeat": false}'
    )
    alert = FiredAlert.from_json(payload, T0)
    assert (alert.kind, alert.params, alert.measured) == ("price", None, None)
    assert (alert.event, alert.price) == (AlertEvent.FIRED, Decimal(70001))
    assert FiredAlert.from_json(alert.to_json(), T0) == alert


def test_until_is_the_end_of_that_day_in_the_users_zone():
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 12, 6, 12, 0, tzinfo=berlin).timestamp()
    instant = expiry_instant(Expiry(until=date(2026, 12, 31)), now, berlin)
    assert datetime.fromtimestamp(instant, berlin) == datetime(2027, 1, 1, 0, 0, tzinfo=berlin)
    utc_instant = expiry_instant(Expiry(until=date(2026, 12, 31)), now, ZoneInfo("UTC"))
    assert utc_instant - instant == 3600  # Berlin's midnight comes an hour before UTC's
    assert expiry_instant(Expiry(lasts=7 * 86_400), now, berlin) == now + 7 * 86_400


@pytest.mark.parametrize(
    ("expiry", "message"),
    [
        (Expiry(until=date(2026, 12, 5)), "has passed already"),
        (Expiry(until=date(2028, 1, 1)), "a year at most"),
        (Expiry(lasts=400 * 86_400), "a year at most"),
    ],
)
def test_an_expiry_in_the_past_or_beyond_a_year_is_refused(expiry, message):
    now = datetime(2026, 12, 6, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    with pytest.raises(UserError, match=message):
        expiry_instant(expiry, now, ZoneInfo("UTC"))
