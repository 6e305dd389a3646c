"""The allow-list and the per-user rate limits, counted in a real database on each engine."""

import asyncio

import pytest

from chatbot.config import AllowedUsers
from chatbot.services.access import AccessPolicy, Verdict
from chatbot.storage.database import open_database
from chatbot.storage.rate_limits import RateLimitRepository


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counts(database) -> RateLimitRepository:
    return RateLimitRepository(database)


async def test_nobody_is_allowed_by_default(counts):
    assert (await AccessPolicy(AllowedUsers(), counts).check(1)).verdict is Verdict.DENIED


async def test_listed_user_and_star(counts):
    listed = AccessPolicy(AllowedUsers(frozenset({1})), counts)
    assert (await listed.check(1)).verdict is Verdict.ALLOWED
    everyone = AccessPolicy(AllowedUsers(everyone=True), counts)
    assert (await everyone.check(99)).verdict is Verdict.ALLOWED


async def test_rate_limit_warns_once_then_recovers(counts):
    clock = Clock()
    policy = AccessPolicy(AllowedUsers(everyone=True), counts, limit=3, window=60, clock=clock)
    assert [(await policy.check(1)).verdict for _ in range(3)] == [Verdict.ALLOWED] * 3
    first = await policy.check(1)
    assert first.verdict is Verdict.RATE_LIMITED and first.warn and first.retry_in == 60
    second = await policy.check(1)
    assert second.verdict is Verdict.RATE_LIMITED and not second.warn
    assert (await policy.check(2)).verdict is Verdict.ALLOWED  # other users are not affected
    clock.now += 60
    assert (await policy.check(1)).verdict is Verdict.ALLOWED


async def test_the_window_slides(counts):
    clock = Clock()
    policy = AccessPolicy(AllowedUsers(everyone=True), counts, limit=2, window=60, clock=clock)
    await policy.check(1)
    clock.now += 30
    await policy.check(1)
    clock.now += 29  # the first hit is 59 s old: still in the window
    refused = await policy.check(1)
    assert refused.verdict is Verdict.RATE_LIMITED and refused.retry_in == pytest.approx(1)
    clock.now += 1  # now it is out, the second one is not
    assert (await policy.check(1)).verdict is Verdict.ALLOWED
    assert (await policy.check(1)).verdict is Verdict.RATE_LIMITED


async def test_button_presses_have_their_own_more_generous_window(counts):
    clock = Clock()
    policy = AccessPolicy(AllowedUsers(everyone=True), counts, limit=2, button_limit=4, clock=clock)
    assert [(await policy.check(1)).verdict for _ in range(3)][-1] is Verdict.RATE_LIMITED
    presses = [await policy.check(1, button=True) for _ in range(5)]
    assert [p.verdict for p in presses] == [Verdict.ALLOWED] * 4 + [Verdict.RATE_LIMITED]
    assert presses[-1].warn and not (await policy.check(1, button=True)).warn
    clock.now += 60
    assert (await policy.check(1, button=True)).verdict is Verdict.ALLOWED


async def test_a_stranger_is_warned_once_a_window(counts):
    clock = Clock()
    policy = AccessPolicy(AllowedUsers(frozenset({1})), counts, clock=clock)
    decisions = [await policy.check(9) for _ in range(40)]
    assert all(d.verdict is Verdict.DENIED for d in decisions)
    assert [d.warn for d in decisions] == [True] + [False] * 39
    assert (await policy.check(9, button=True)).verdict is Verdict.DENIED  # presses too
    assert (await policy.check(8)).warn  # another stranger is told once too
    clock.now += 60
    assert (await policy.check(9)).warn


async def test_the_limit_is_counted_across_two_bots_on_one_database(database_target):
    """Two bots (each its own connection to the database, as two replicas have) share one
    user's count and one warning: the next message may reach either."""
    clock = Clock()
    first, second = await open_database(database_target), await open_database(database_target)
    try:
        policies = [
            AccessPolicy(AllowedUsers(everyone=True), RateLimitRepository(db), limit=4, clock=clock)
            for db in (first, second)
        ]
        verdicts = [(await policies[i % 2].check(1)).verdict for i in range(6)]
        assert verdicts == [Verdict.ALLOWED] * 4 + [Verdict.RATE_LIMITED] * 2
        refusals = [await policies[i % 2].check(1) for i in range(4)]
        assert [r.warn for r in refusals] == [False] * 4  # the 5th hit above was the warned one
        clock.now += 60
        assert (await policies[1].check(1)).verdict is Verdict.ALLOWED
    finally:
        await first.close()
        await second.close()


async def test_a_burst_through_two_bots_at_once_never_exceeds_the_limit(database_target):
    """Sixty messages of one user at once, half through each bot: exactly the limit pass, and
    the user is warned once."""
    first, second = await open_database(database_target), await open_database(database_target)
    try:
        policies = [
            AccessPolicy(AllowedUsers(everyone=True), RateLimitRepository(db), limit=20)
            for db in (first, second)
        ]
        decisions = await asyncio.gather(*(policies[i % 2].check(7) for i in range(60)))
        verdicts = [d.verdict for d in decisions]
        assert verdicts.count(Verdict.ALLOWED) == 20
        assert verdicts.count(Verdict.RATE_LIMITED) == 40
        assert sum(d.warn for d in decisions) == 1
    finally:
        await first.close()
        await second.close()
