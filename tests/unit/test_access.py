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
