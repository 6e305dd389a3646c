"""The allow-list and the per-user command rate limit."""

from chatbot.config import AllowedUsers
from chatbot.services.access import AccessPolicy, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_nobody_is_allowed_by_default():
    assert AccessPolicy(AllowedUsers()).check(1).verdict is Verdict.DENIED


def test_listed_user_and_star():
    assert AccessPolicy(AllowedUsers(frozenset({1}))).check(1).verdict is Verdict.ALLOWED
    assert AccessPolicy(AllowedUsers(everyone=True)).check(99).verdict is Verdict.ALLOWED


def test_rate_limit_warns_once_then_recovers():
    clock = Clock()
    policy = AccessPolicy(AllowedUsers(everyone=True), limit=3, window=60, clock=clock)
    assert [policy.check(1).verdict for _ in range(3)] == [Verdict.ALLOWED] * 3
    first = policy.check(1)
    assert first.verdict is Verdict.RATE_LIMITED and first.warn and first.retry_in == 60
    second = policy.check(1)
    assert second.verdict is Verdict.RATE_LIMITED and not second.warn
    assert policy.check(2).verdict is Verdict.ALLOWED  # other users are not affected
    clock.now += 60
    assert policy.check(1).verdict is Verdict.ALLOWED


def test_button_presses_have_their_own_more_generous_window():
    clock = Clock()
    policy = AccessPolicy(AllowedUsers(everyone=True), limit=2, button_limit=4, clock=clock)
    assert [policy.check(1).verdict for _ in range(3)][-1] is Verdict.RATE_LIMITED
    presses = [policy.check(1, button=True) for _ in range(5)]
    assert [p.verdict for p in presses] == [Verdict.ALLOWED] * 4 + [Verdict.RATE_LIMITED]
    assert presses[-1].warn and not policy.check(1, button=True).warn
    clock.now += 60
    assert policy.check(1, button=True).verdict is Verdict.ALLOWED


def test_a_stranger_is_warned_once_a_window():
    clock = Clock()
    policy = AccessPolicy(AllowedUsers(frozenset({1})), clock=clock)
    decisions = [policy.check(9) for _ in range(40)]
    assert all(d.verdict is Verdict.DENIED for d in decisions)
    assert [d.warn for d in decisions] == [True] + [False] * 39
    assert policy.check(9, button=True).verdict is Verdict.DENIED  # presses too
    assert policy.check(8).warn  # another stranger is told once too
    clock.now += 60
    assert policy.check(9).warn
