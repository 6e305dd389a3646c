"""The limiter of WebSocket connection attempts, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from chatbot.exchange.ws.attempts import ConnectionAttempts


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_limit_passes_at_once_and_the_next_attempt_waits_for_the_oldest():
    clock = FakeClock()
    attempts = ConnectionAttempts(3, 10.0, margin=1.0, clock=clock)
    for _ in range(3):
        assert attempts.wait_time() == 0.0
        await attempts.acquire()  # no wait: it counts at once
        clock.now += 1.0
    assert attempts.used == 3
    assert attempts.wait_time() == pytest.approx(8.0)  # first at 1000, counted 11 s: until 1011

    clock.now = 1011.0
    assert attempts.wait_time() == 0.0 and attempts.used == 2


async def test_the_window_slides_so_no_span_holds_more_than_the_limit():
    clock = FakeClock()
    attempts = ConnectionAttempts(2, 5.0, margin=0.0, clock=clock)
    times: list[float] = []
    for step in range(40):  # try every half second; record only what the limiter allows
        clock.now = 1000.0 + step * 0.5
        if attempts.wait_time() == 0.0:
            await attempts.acquire()
            times.append(clock.now)
    for start in times:
        assert sum(start <= t < start + 5.0 for t in times) <= 2
    assert len(times) == 8  # and it does allow the limit: two in every five seconds


async def test_a_burst_of_openers_is_spread_over_windows():
    attempts = ConnectionAttempts(3, 0.2, margin=0.05)
    made: list[float] = []
    loop = asyncio.get_running_loop()

    async def opener() -> None:
        await attempts.acquire()
        made.append(loop.time())

    await asyncio.gather(*(opener() for _ in range(7)))
    made.sort()
    assert len(made) == 7
    for start in made:
        assert sum(start <= t < start + 0.2 for t in made) <= 3
    assert attempts.delayed == 4 and attempts.waiting == 0


async def test_a_cancelled_waiter_leaves_no_trace():
    attempts = ConnectionAttempts(1, 60.0)
    await attempts.acquire()
    waiter = asyncio.create_task(attempts.acquire())
    await asyncio.sleep(0)
    assert attempts.waiting == 1
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert attempts.waiting == 0 and attempts.used == 1


def test_nonsense_limits_are_refused():
    with pytest.raises(ValueError):
        ConnectionAttempts(0, 300.0)
    with pytest.raises(ValueError):
        ConnectionAttempts(300, 0.0)
