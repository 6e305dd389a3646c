"""The outbox sender on a real database, on each engine: what each Telegram failure means, and
a loop that no failure ends. (The wire itself is covered end to end in
tests/e2e/test_lost_work.py.)"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import httpx
import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from chatbot.health import HealthBoard
from chatbot.services.outbox import ERROR_PAUSE, MAX_CRASHES, Delivery, OutboxSender, SendResult
from chatbot.storage.alerts import AlertDirection, AlertRepository
from chatbot.storage.outbox import FiredAlert, OutboxRepository
from handlers.alerts import delivery_after, render_fired


class Clock:
    """The outbox's clock, moved by the test: claims and a chat's pacing are read from it."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def caused(error, cause):
    error.__cause__ = cause
    return error


REQUEST = httpx.Request("POST", "http://127.0.0.1/bot/sendMessage")


@pytest.mark.parametrize(
    ("error", "delivery"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), Delivery.BLOCKED),
        (BadRequest("Chat not found"), Delivery.BLOCKED),
        (BadRequest("Can't parse entities: unsupported start tag"), Delivery.REFUSED),
        (RetryAfter(3), Delivery.RETRY),
        (NetworkError("Bad Gateway"), Delivery.RETRY),  # Telegram answered: not delivered
        (caused(NetworkError("x"), httpx.ConnectError("refused", request=REQUEST)), Delivery.RETRY),
        (caused(TimedOut(), httpx.ConnectTimeout("t", request=REQUEST)), Delivery.RETRY),
        (caused(TimedOut(), httpx.PoolTimeout("t", request=REQUEST)), Delivery.RETRY),
        (caused(TimedOut(), httpx.ReadTimeout("t", request=REQUEST)), Delivery.UNKNOWN),
        (caused(NetworkError("x"), httpx.ReadError("reset", request=REQUEST)), Delivery.UNKNOWN),
    ],
)
def test_only_a_failure_that_proves_nothing_arrived_is_retried(error, delivery):
    result = delivery_after(error, 3)
    assert result.delivery is delivery
    if delivery is Delivery.UNKNOWN:
        assert result.sent == 3  # the alerts that message held are never sent again


@pytest.fixture
async def repo(database):
    return AlertRepository(database)


async def queue(repo: AlertRepository, chat_id: int) -> None:
    record = await repo.create(
        user_id=chat_id, chat_id=chat_id, symbol="BTCUSDT", direction=AlertDirection.ABOVE,
        threshold=Decimal(1), condition="≥ 1", note=None, repeat=False, cooldown=0.0, limit=100,
    )  # fmt: skip
    await repo.fire([record.id], Decimal(2), time.time())


async def states(repo: AlertRepository) -> list[str]:
    rows = await repo._db.fetch_all("SELECT state FROM outbox ORDER BY id")
    return [r["state"] for r in rows]


async def test_a_message_whose_send_keeps_crashing_is_dropped(repo):
    await queue(repo, 1)

    async def crash(chat_id, payloads):
        raise KeyError("price")  # a bug in rendering, not Telegram

    clock = Clock()
    outbox = OutboxRepository(repo._db, clock=clock)
    sender = OutboxSender(outbox, crash, _nothing, asyncio.Event())
    for _ in range(MAX_CRASHES):
        await sender.drain()
        clock.now += ERROR_PAUSE  # the chat is held that long after a crash
    assert await states(repo) == ["dropped"]


async def test_a_damaged_payload_is_dropped_and_the_rest_still_go(repo):
    await queue(repo, 1)
    await queue(repo, 2)
    await repo._db.execute("UPDATE outbox SET payload = '{cut' WHERE chat_id = 1")
    sent = []

    async def send(chat_id, payloads):
        sent.append(chat_id)
        return SendResult(Delivery.SENT)

    await OutboxSender(repo.outbox, send, _nothing, asyncio.Event()).drain()
    assert sent == [2] and await states(repo) == ["dropped", "sent"]


async def test_the_loop_survives_a_failure_and_reports_it(repo):
    await queue(repo, 1)
    health, wake, sent = HealthBoard(), asyncio.Event(), asyncio.Event()

    async def send(chat_id, payloads):
        if chat_id == 1:
            return SendResult(Delivery.BLOCKED)
        sent.set()
        return SendResult(Delivery.SENT)

    async def pause_fails(chat_id):
        raise RuntimeError("pausing failed")

    sender = OutboxSender(repo.outbox, send, pause_fails, wake, health=health)
    sender.start()
    try:
        for _ in range(200):
            if "outbox" in health.failures():
                break
            await asyncio.sleep(0.01)
        assert health.failures()["outbox"].error == "RuntimeError"
        await queue(repo, 2)
        wake.set()
        await asyncio.wait_for(sent.wait(), 10)  # the loop still runs
    finally:
        await sender.stop()


async def _nothing(chat_id: int) -> None:
    return None


# What the outbox held before `FiredAlert`: a dict with the time already worded for the chat.
LEGACY_PAYLOAD = {
    "symbol": "BTCUSDT",
    "condition": "≥ 61000",
    "price": "61000.5",
    "time": "12:00:00 UTC",
    "note": "left behind",
    "repeat": False,
}


async def test_a_row_written_before_fired_alerts_were_typed_is_still_sent(repo):
    """A restart in the middle of a delivery, across the upgrade: the row the previous code
    queued is read back as a `FiredAlert`, its time from the row's own `created_at`."""
    record = await repo.create(
        user_id=7, chat_id=-100, symbol="BTCUSDT", direction=AlertDirection.ABOVE,
        threshold=Decimal(61000), condition="≥ 61000", note="left behind", repeat=False,
        cooldown=0.0, limit=100,
    )  # fmt: skip
    fired_at = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
    payload = json.dumps({"alert_id": record.id, "user_id": 7, **LEGACY_PAYLOAD})
    await repo._db.execute(
        "INSERT INTO outbox (chat_id, user_id, alert_id, payload, state, created_at) "
        "VALUES (?, ?, ?, ?, 'pending', ?)",
        (-100, 7, record.id, payload, fired_at),
    )
    sent: list[list[FiredAlert]] = []

    async def send(chat_id, alerts):
        sent.append(alerts)
        return SendResult(Delivery.SENT)

    await OutboxSender(repo.outbox, send, _nothing, asyncio.Event()).drain()

    expected = FiredAlert(
        alert_id=record.id, user_id=7, symbol="BTCUSDT", condition="≥ 61000",
        price=Decimal("61000.5"), fired_at=fired_at, note="left behind", repeat=False,
    )  # fmt: skip
    assert sent == [[expected]] and await states(repo) == ["sent"]
    text, count = render_fired(sent[0])
    assert count == 1 and "crossed at 61,000.5 (22:13:20 UTC)" in text and "left behind" in text


async def test_a_fired_alert_comes_back_from_the_outbox_as_it_was_queued(repo):
    record = await repo.create(
        user_id=7, chat_id=7, symbol="ETHUSDT", direction=AlertDirection.BELOW,
        threshold=Decimal("2500.5"), condition="-5% (≤ 2500.5)", note=None, repeat=True,
        cooldown=0.0, limit=100,
    )  # fmt: skip
    [written] = await repo.fire([record.id], Decimal("2500.25"), 1_700_000_000.5)
    [item] = await repo.outbox.pending()
    assert item.alert == written.fired(Decimal("2500.25"), 1_700_000_000.5)
    assert item.alert.repeat and item.alert.price == Decimal("2500.25")
