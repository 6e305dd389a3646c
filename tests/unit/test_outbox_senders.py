"""Several outbox senders (one per replica) on one database, on each engine: each message is
sent once, no chat is sent to by two senders at once, a chat's pacing holds for every sender,
and a sender that stops mid-send has its chats taken over once its claim expires."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from decimal import Decimal

import pytest

from chatbot.services.outbox import Delivery, OutboxSender, SendResult
from chatbot.storage.database import Database
from chatbot.storage.outbox import DEFAULT_CLAIM, FiredAlert, OutboxRepository, queue

T0 = 1_700_000_000.0


class Clock:
    """The outbox's clock, moved by the test: claims and a chat's pacing are read from it."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def queue_alerts(db: Database, chat_id: int, first_id: int, count: int) -> list[int]:
    """`count` fired alerts' messages for `chat_id`, alert ids from `first_id`."""
    ids = list(range(first_id, first_id + count))
    async with db.transaction() as tx:
        for alert_id in ids:
            alert = FiredAlert(alert_id, chat_id, "BTCUSDT", "≥ 1", Decimal(2), T0)
            await queue(tx, chat_id, alert)
    return ids


async def states(db: Database) -> list[str]:
    return [r["state"] for r in await db.fetch_all("SELECT state FROM outbox ORDER BY id")]


async def nothing(chat_id: int) -> None:
    return None


async def test_two_senders_send_every_message_once_and_never_to_one_chat_at_once(database, other):
    sent: Counter[int] = Counter()
    by_sender: Counter[str] = Counter()
    in_flight: dict[int, str] = {}
    overlaps: list[tuple[int, str, str]] = []

    def sender(db: Database, name: str) -> OutboxSender:
        async def send(chat_id: int, alerts: list[FiredAlert]) -> SendResult:
            if chat_id in in_flight:
                overlaps.append((chat_id, in_flight[chat_id], name))
            in_flight[chat_id] = name
            await asyncio.sleep(0.002)  # the request on the wire: the other sender runs
            del in_flight[chat_id]
            sent.update(a.alert_id for a in alerts)
            by_sender[name] += 1
            return SendResult(Delivery.SENT)

        repo = OutboxRepository(db)
        return OutboxSender(
            repo, send, nothing, asyncio.Event(), per_second=1000, per_chat_interval=0.05,
            owner=name, chats_per_claim=5,
        )  # fmt: skip

    senders = [sender(database, "here"), sender(other, "there")]
    queued = [i for chat in range(40) for i in await queue_alerts(database, chat, chat * 100, 5)]

    async def drain_until_all_sent(sender: OutboxSender) -> None:
        deadline = time.monotonic() + 60
        while len(sent) < len(queued):
            assert time.monotonic() < deadline, "the senders stopped sending"
            await asyncio.sleep(min(await sender.drain(), 0.02))

    async def second_wave() -> None:
        for chat in range(0, 40, 2):  # more for half the chats while the senders drain
            queued.extend(await queue_alerts(other, chat, chat * 100 + 50, 3))

    await asyncio.gather(*(drain_until_all_sent(s) for s in senders), second_wave())

    assert overlaps == []
    assert sorted(sent) == sorted(queued) and set(sent.values()) == {1}
    assert set(await states(database)) == {"sent"}
    assert by_sender["here"] > 0 and by_sender["there"] > 0  # the chats were shared out


async def test_a_chats_pacing_holds_for_every_sender(database, other):
    clock = Clock()
    sends: list[tuple[str, float]] = []

    def sender(db: Database, name: str) -> OutboxSender:
        async def send(chat_id: int, alerts: list[FiredAlert]) -> SendResult:
            sends.append((name, clock.now))
            return SendResult(Delivery.SENT)

        repo = OutboxRepository(db, clock=clock)
        return OutboxSender(repo, send, nothing, asyncio.Event(), per_chat_interval=1.0)

    here, there = sender(database, "here"), sender(other, "there")
    await queue_alerts(database, 7, 1, 1)
    await here.drain()
    await queue_alerts(database, 7, 2, 1)
    clock.now += 0.5
    assert await there.drain() == pytest.approx(0.5)  # chat 7 is due in half a second
    # a sender that read "due" just before that send cannot claim the chat either
    assert (await OutboxRepository(other, clock=clock).claim("late", 10)).items == []
    assert sends == [("here", T0)]
    clock.now += 0.5
    await there.drain()
    assert sends == [("here", T0), ("there", T0 + 1.0)]


async def test_a_429_holds_the_chat_for_every_sender(database, other):
    clock = Clock()
    results = [SendResult(Delivery.RETRY, retry_after=5.0), SendResult(Delivery.SENT)]
    sends: list[float] = []

    async def send(chat_id: int, alerts: list[FiredAlert]) -> SendResult:
        sends.append(clock.now)
        return results.pop(0)

    here, there = (
        OutboxSender(OutboxRepository(db, clock=clock), send, nothing, asyncio.Event())
        for db in (database, other)
    )
    await queue_alerts(database, 7, 1, 1)
    await here.drain()
    clock.now += 4.9
    await there.drain()
    assert sends == [T0]
    clock.now += 0.1
    await there.drain()
    assert sends == [T0, T0 + 5.0] and await states(database) == ["sent"]


async def test_a_sender_stopped_mid_send_has_its_chat_sent_by_another_once_its_claim_expires(
    database, other
):
    """The documented choice: the stopped sender never recorded its send, so the message is
    sent again by the sender that takes the expired claim (as a restart mid-send would), and
    the stopped sender's late result, should it come, changes nothing."""
    clock = Clock()
    on_the_wire, answer = asyncio.Event(), asyncio.Event()
    sends: list[tuple[str, list[int]]] = []

    async def stuck(chat_id: int, alerts: list[FiredAlert]) -> SendResult:
        sends.append(("stuck", [a.alert_id for a in alerts]))
        on_the_wire.set()
        await answer.wait()  # the process hangs (or is partitioned) mid-send
        return SendResult(Delivery.SENT)

    async def send(chat_id: int, alerts: list[FiredAlert]) -> SendResult:
        sends.append(("other", [a.alert_id for a in alerts]))
        return SendResult(Delivery.SENT)

    first = OutboxSender(OutboxRepository(database, clock=clock), stuck, nothing, asyncio.Event())
    second = OutboxSender(OutboxRepository(other, clock=clock), send, nothing, asyncio.Event())
    await queue_alerts(database, 7, 1, 2)
    stopped = asyncio.create_task(first.drain())
    await asyncio.wait_for(on_the_wire.wait(), 10)

    clock.now += DEFAULT_CLAIM - 1  # the claim still holds: the chat is left alone
    await second.drain()
    assert sends == [("stuck", [1, 2])]
    clock.now += 1
    await second.drain()
    assert sends == [("stuck", [1, 2]), ("other", [1, 2])]

    answer.set()  # the first sender's answer comes after all: its claim is gone
    await asyncio.wait_for(stopped, 10)
    rows = await database.fetch_all("SELECT state, attempts, claimed_by FROM outbox")
    assert [(r["state"], r["attempts"], r["claimed_by"]) for r in rows] == [("sent", 1, None)] * 2


async def test_a_live_sender_renews_its_claim_so_a_slow_send_is_not_sent_twice(database, other):
    """A send held up (Telegram's flood pause) longer than a claim: the sender is alive, renews
    its claim while it waits, and the other sender leaves the chat alone."""
    clock = Clock()
    on_the_wire, answer = asyncio.Event(), asyncio.Event()
    sends: list[tuple[str, list[int]]] = []

    async def slow(chat_id: int, alerts: list[FiredAlert]) -> SendResult:
        sends.append(("slow", [a.alert_id for a in alerts]))
        on_the_wire.set()
        await answer.wait()
        return SendResult(Delivery.SENT)

    async def send(chat_id: int, alerts: list[FiredAlert]) -> SendResult:
        sends.append(("other", [a.alert_id for a in alerts]))
        return SendResult(Delivery.SENT)

    repo = OutboxRepository(database, clock=clock)
    first = OutboxSender(repo, slow, nothing, asyncio.Event(), renew_every=0.01)
    second = OutboxSender(OutboxRepository(other, clock=clock), send, nothing, asyncio.Event())
    await queue_alerts(database, 7, 1, 2)
    sending = asyncio.create_task(first.drain())
    await asyncio.wait_for(on_the_wire.wait(), 10)

    for _ in range(3):  # three claims' lives pass while the send waits
        clock.now += DEFAULT_CLAIM - 1
        renewed = clock.now + DEFAULT_CLAIM
        await until_row(database, lambda r, at=renewed: r["claimed_until"] >= at)
        await second.drain()
    assert sends == [("slow", [1, 2])]

    answer.set()
    await asyncio.wait_for(sending, 10)
    rows = await database.fetch_all("SELECT state, attempts, claimed_by FROM outbox")
    assert [(r["state"], r["attempts"], r["claimed_by"]) for r in rows] == [("sent", 1, None)] * 2


async def until_row(db: Database, check, within: float = 10.0) -> None:
    """Wait until every outbox row passes `check` (the renewal is written by another task)."""
    deadline = time.monotonic() + within
    while True:
        rows = await db.fetch_all("SELECT claimed_until FROM outbox")
        if rows and all(check(r) for r in rows):
            return
        assert time.monotonic() < deadline, [dict(r) for r in rows]
        await asyncio.sleep(0.01)


async def test_a_sender_finds_what_another_replica_queued_without_being_woken(database, other):
    sent = asyncio.Event()

    async def send(chat_id: int, alerts: list[FiredAlert]) -> SendResult:
        sent.set()
        return SendResult(Delivery.SENT)

    sender = OutboxSender(OutboxRepository(database), send, nothing, asyncio.Event(), poll=0.1)
    sender.start()
    try:
        await queue_alerts(other, 7, 1, 1)  # fired on the other replica: nobody wakes us
        await asyncio.wait_for(sent.wait(), 10)
        await recorded_as_sent(database)
    finally:
        await sender.stop()


async def recorded_as_sent(db: Database) -> None:
    """Wait for the row to be written `sent` (the send comes first, the write just after)."""
    deadline = time.monotonic() + 10
    while await states(db) != ["sent"]:
        assert time.monotonic() < deadline, "the send was never recorded"
        await asyncio.sleep(0.02)
