"""The Telegram send pacer on a clock the test owns: `sleep` moves that clock on, so pacing is
read off the times each request went out, never measured in real time."""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram.error import NetworkError, RetryAfter

from chatbot.telegram_pacing import PrioritySendPacer, SendPriority

URGENT, REPLY, BULK = SendPriority.URGENT, SendPriority.REPLY, SendPriority.BULK
GAP = 1 / 28


class VirtualTime:
    """A clock that moves only from one sleeper's wake-up time to the next, once every task
    that can run has run (so concurrent sleeps overlap, as real ones do)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + seconds, next(self._order), future))
        await future

    async def run(self) -> None:
        while True:
            for _ in range(20):  # let everything that is ready run at this instant
                await asyncio.sleep(0)
            if self._timers:
                wake, _, future = heapq.heappop(self._timers)
                self.now = max(self.now, wake)
                if not future.done():
                    future.set_result(None)


@pytest.fixture
async def clock() -> AsyncIterator[VirtualTime]:
    virtual = VirtualTime()
    driver = asyncio.create_task(virtual.run())
    yield virtual
    driver.cancel()


class Telegram:
    """Records what went out, when, in order; may refuse with RetryAfter."""

    def __init__(self, clock: VirtualTime) -> None:
        self.clock = clock
        self.sent: list[tuple[str, float]] = []
        self.refuse: dict[str, int] = {}  # label -> RetryAfter answers still to give

    async def call(self, label: str) -> bool:
        if self.refuse.get(label):
            self.refuse[label] -= 1
            raise RetryAfter(dt.timedelta(seconds=2))
        self.sent.append((label, self.clock.now))
        return True


def pacer(clock: VirtualTime, **options: Any) -> PrioritySendPacer:
    return PrioritySendPacer(clock=clock, sleep=clock.sleep, **options)


async def send(
    p: PrioritySendPacer,
    telegram: Telegram,
    label: str,
    priority: SendPriority | None = None,
    chat_id: int | str | None = 1,
) -> Any:
    data = {} if chat_id is None else {"chat_id": chat_id}
    return await p.process_request(telegram.call, (label,), {}, "sendMessage", data, priority)


async def test_queued_sends_go_urgent_first_then_replies_then_bulk_each_in_arrival_order(clock):
    p, telegram = pacer(clock), Telegram(clock)
    asks = [("b1", BULK), ("r1", None), ("u1", URGENT), ("r2", REPLY), ("b2", BULK), ("u2", URGENT)]

    await asyncio.gather(*(send(p, telegram, label, prio) for label, prio in asks))

    assert [label for label, _ in telegram.sent] == ["u1", "u2", "r1", "r2", "b1", "b2"]


async def test_an_alert_arriving_behind_queued_replies_goes_next(clock):
    p, telegram = pacer(clock), Telegram(clock)
    late: list[asyncio.Task[Any]] = []

    async def reply(n: int) -> None:
        await send(p, telegram, f"r{n}", REPLY)
        if n == 2:  # the third reply is out; an alert fires now
            late.append(asyncio.create_task(send(p, telegram, "alert", URGENT)))

    await asyncio.gather(*(reply(n) for n in range(10)))
    await asyncio.gather(*late)

    order = [label for label, _ in telegram.sent]
    assert order.index("alert") == 3, order


async def test_sends_are_spaced_at_28_a_second_with_no_burst(clock):
    p, telegram = pacer(clock), Telegram(clock)

    await asyncio.gather(*(send(p, telegram, f"m{n}", REPLY, chat_id=n) for n in range(60)))

    times = [at for _, at in telegram.sent]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) == pytest.approx(GAP)
    assert sum(1 for at in times if at < times[0] + 1.0) <= 29  # any one second from the first


@pytest.mark.parametrize("replicas", [1, 3])
async def test_live_replicas_share_the_bots_pace(clock, replicas):
    p, telegram = pacer(clock), Telegram(clock)
    p.share_among(replicas)  # what the lease keeper calls at each beat

    await asyncio.gather(*(send(p, telegram, f"m{n}", REPLY, chat_id=n) for n in range(30)))

    times = [at for _, at in telegram.sent]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) == pytest.approx(GAP * replicas)


async def test_requests_without_a_chat_are_not_paced(clock):
    p, telegram = pacer(clock), Telegram(clock)

    await asyncio.gather(*(send(p, telegram, f"a{n}", chat_id=None) for n in range(10)))

    assert {at for _, at in telegram.sent} == {1000.0}


async def test_a_group_gets_20_a_minute_and_other_chats_are_not_held_by_it(clock):
    p, telegram = pacer(clock), Telegram(clock)

    await asyncio.gather(*(send(p, telegram, f"g{n}", chat_id=-100) for n in range(21)))
    await send(p, telegram, "private", chat_id=7)

    group = [at for label, at in telegram.sent if label.startswith("g")]
    assert group[20] - group[0] >= 3.0 - 1e-9  # the 21st waits for a token: 60 s / 20
    assert dict(telegram.sent)["private"] - group[-1] <= GAP + 1e-9


async def test_retry_after_pauses_every_send_then_retries_in_its_place(clock):
    p, telegram = pacer(clock), Telegram(clock)
    telegram.refuse["first"] = 1

    await asyncio.gather(send(p, telegram, "first"), send(p, telegram, "second"))

    (first, at_first), (second, at_second) = telegram.sent
    assert (first, second) == ("first", "second")  # the retried send kept its turn
    assert at_first >= 1000.0 + 2.1 - 1e-9 and at_second > at_first


async def test_after_three_retries_the_flood_error_reaches_the_caller(clock):
    p, telegram = pacer(clock), Telegram(clock)
    telegram.refuse["doomed"] = 4

    with pytest.raises(RetryAfter):
        await send(p, telegram, "doomed")
    assert telegram.refuse["doomed"] == 0  # one try and three retries
    assert await send(p, telegram, "next")


async def test_a_cancelled_send_gives_up_its_place_and_the_waiting_counts_follow(clock):
    p, telegram = pacer(clock), Telegram(clock)
    first = asyncio.create_task(send(p, telegram, "first"))
    typing = asyncio.create_task(send(p, telegram, "typing", BULK))
    await asyncio.sleep(0)
    assert p.waiting == {URGENT: 0, REPLY: 1, BULK: 1}

    typing.cancel()
    await first

    assert [label for label, _ in telegram.sent] == ["first"]
    assert p.waiting == {URGENT: 0, REPLY: 0, BULK: 0}


async def test_a_send_still_queued_at_shutdown_fails_as_not_sent_instead_of_hanging(clock):
    p, telegram = pacer(clock), Telegram(clock)
    sends = [asyncio.create_task(send(p, telegram, f"m{n}")) for n in range(3)]
    await sends[0]

    await p.shutdown()

    results = await asyncio.gather(*sends[1:], return_exceptions=True)
    assert [type(r) for r in results] == [NetworkError, NetworkError]
    assert [label for label, _ in telegram.sent] == ["m0"]


async def test_a_channel_named_by_username_gets_a_groups_limit(clock):
    p, telegram = pacer(clock), Telegram(clock)

    await asyncio.gather(*(send(p, telegram, f"c{n}", chat_id="@news") for n in range(21)))

    times = [at for _, at in telegram.sent]
    assert times[20] - times[0] >= 3.0 - 1e-9
