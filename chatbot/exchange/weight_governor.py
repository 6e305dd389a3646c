"""One request-weight budget for the whole bot, shared by every user, paced by priority.

Binance counts request weight per IP in fixed one-minute windows (`REQUEST_WEIGHT` in
`exchangeInfo.rateLimits`, spent as reported by `X-MBX-USED-WEIGHT-1M`). Every REST call of
`BinanceClient` passes through `WeightGovernor.acquire` before it leaves, so the bot stays under
`share` of that limit however many users it serves.

Priorities: a call is `USER` unless the code that runs it said otherwise with `trading()` or
`background()` (a context variable, so it reaches every call made underneath, also in tasks
started there, without threading a parameter through the services). Trading calls (a confirmed
order, a cancel, the lookup of an order whose answer was lost) may spend the whole budget and
go before any waiting read: a user's order must not queue behind a thousand users' /orders.
User reads may spend the budget less the `trade_reserve` kept for trading. Background work
(start-up and reconnect resync, reconcile, the order watch, health checks) may spend only the
budget less the `reserve` kept for users, is spread over the minute rather than sent in a
burst, always lets a waiting user call go first, and leaves what users asked for in the
previous minute (spent or refused) to them: a busy minute is followed by a slower background.
A block's priority is a `Lane`, which may be raised while its calls wait (a user now waits for
that background re-read).

A 429 pauses every call until its `Retry-After` has passed: nothing goes out meanwhile, so
Binance never sees the calls that turn a 429 into a 418 ban. A user call waits silently for up
to `user_wait` seconds; beyond that it raises `RateLimited` with the wait, which the chat shows.

No library is used: the well-kept limiters (aiolimiter, pyrate-limiter) model a leaky bucket
with one rate, not Binance's fixed windows fed back from response headers, nor priorities.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from enum import Enum
from typing import Any

from chatbot.exchange.errors import RateLimited

DEFAULT_WEIGHT_LIMIT = 6000  # Binance Spot's documented REQUEST_WEIGHT per minute
MINUTE = 60.0
EDGE = 1.0  # seconds after Binance's minute turns before the new window is trusted (clock skew)
BURST = 10.0  # seconds' worth of background budget that may go out at once
USER_WAIT = 5.0  # seconds a user's call waits silently before the user is told
_RECHECK = 0.5  # seconds between checks while waiting (the budget frees in steps)
BACKGROUND_FLOOR = 0.1  # of the budget, background work may spend however busy users are


class Priority(Enum):
    TRADE = "trade"  # an order, a cancel or an order lookup a user is waiting for
    USER = "user"  # someone is waiting for this answer right now
    BACKGROUND = "background"  # start-up, resync, periodic checks: may wait their turn


class Lane:
    """The priority of the calls made in a block (and in tasks started there). It may be
    raised while they wait: a background re-read that a user now waits for goes as theirs."""

    def __init__(self, priority: Priority) -> None:
        self.priority = priority


_LANE: ContextVar[Lane | None] = ContextVar("binance_lane", default=None)


@contextlib.contextmanager
def lane(priority: Priority) -> Iterator[Lane]:
    """Run the block's Binance calls at `priority` (see `Lane`)."""
    token = _LANE.set(Lane(priority))
    try:
        yield _LANE.get() or Lane(priority)
    finally:
        _LANE.reset(token)


def background() -> contextlib.AbstractContextManager[Lane]:
    """Run the block's Binance calls (and those of tasks it starts) as background work."""
    return lane(Priority.BACKGROUND)


def trading() -> contextlib.AbstractContextManager[Lane]:
    """Run the block's Binance calls as trading: ahead of users' reads, with headroom of their
    own (see the module docstring)."""
    return lane(Priority.TRADE)


def current_priority() -> Priority:
    current = _LANE.get()
    return Priority.USER if current is None else current.priority


def minute_limit(rate_limits: Iterable[dict[str, Any]], kind: str = "REQUEST_WEIGHT") -> int | None:
    """The per-minute limit of `kind` announced in `rateLimits`, or None when absent."""
    seconds = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}
    for rule in rate_limits:
        if rule.get("rateLimitType") != kind:
            continue
        span = seconds.get(str(rule.get("interval")), 0) * int(rule.get("intervalNum", 1))
        if span == 60:
            return int(rule["limit"])
    return None


class WeightGovernor:
    """The bot's share of Binance's per-IP weight budget; see the module docstring."""

    def __init__(
        self,
        *,
        share: float = 0.8,
        reserve: float = 0.25,
        trade_reserve: float = 0.1,
        user_wait: float = USER_WAIT,
        server_time: Callable[[], float] = time.time,
        limit: int = DEFAULT_WEIGHT_LIMIT,
    ) -> None:
        self.share = share
        self.reserve = reserve  # the part of the budget background work may not touch
        self.trade_reserve = trade_reserve  # the part only trading calls may spend
        self.user_wait = user_wait
        self.limit = limit
        self.used = 0  # weight spent in the current window, by our count or Binance's
        self.waiting = {priority: 0 for priority in Priority}
        self._server_time = server_time  # seconds on Binance's clock
        self._window = self._window_now()
        self._paused_until = 0.0  # monotonic
        self._asked = 0  # weight users' calls asked for this window (sent or refused)
        self._asked_before = 0  # ... and in the window before

    # -- what Binance tells us -----------------------------------------------------------------

    def set_limits(self, rate_limits: Iterable[dict[str, Any]]) -> None:
        """Adopt the REQUEST_WEIGHT limit from `exchangeInfo.rateLimits`."""
        limit = minute_limit(rate_limits)
        if limit is not None and limit > 0:
            self.limit = limit

    def observe(self, used: int) -> None:
        """A response's `X-MBX-USED-WEIGHT-1M`: Binance's count wins when it is higher (other
        processes on the same IP spend the same budget)."""
        self._roll()
        self.used = max(self.used, used)

    def pause(self, seconds: float) -> None:
        """A 429 or 418: nothing goes out for `seconds`."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    @property
    def budget(self) -> int:
        return int(self.limit * self.share)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - time.monotonic())

    # -- spending ------------------------------------------------------------------------------

    async def acquire(self, weight: int, priority: Priority | None = None) -> None:
        """Wait until `weight` fits the budget, then count it as spent.

        Raises `RateLimited` (with the remaining wait) when a user's call (trading or a read)
        would wait longer than `user_wait`; background calls wait as long as it takes."""
        fixed = priority
        priority = fixed or current_priority()
        started = time.monotonic()
        self.waiting[priority] += 1
        try:
            while (delay := self._delay(weight, priority)) > 0:
                if (
                    priority is not Priority.BACKGROUND
                    and time.monotonic() + delay > started + self.user_wait
                ):
                    self._asked += weight
                    raise RateLimited(max(1.0, delay), code=-1003, status=429)
                await asyncio.sleep(min(delay, _RECHECK))
                if fixed is None and (now := current_priority()) is not priority:
                    self.waiting[priority] -= 1  # the lane was raised: a user waits now
                    priority, started = now, time.monotonic()
                    self.waiting[priority] += 1
        finally:
            self.waiting[priority] -= 1
        self.used += weight
        if priority is not Priority.BACKGROUND:
            self._asked += weight

    def _delay(self, weight: int, priority: Priority) -> float:
        """Seconds before `weight` may go out now; 0 when it may go at once."""
        paused = self.paused_for
        if paused > 0:
            return paused
        self._roll()
        if priority is Priority.TRADE:
            return self._fits(weight, self.budget)
        if self.waiting[Priority.TRADE]:
            return _RECHECK  # an order goes first
        if priority is Priority.USER:
            return self._fits(weight, self.budget * (1 - self.trade_reserve))
        if self.waiting[Priority.USER]:
            return _RECHECK  # a user goes first
        cap = self._background_cap()
        if self.used + weight > cap and self.used > 0:
            return self._to_next_window()
        # spread over the minute: by second t of the window, (t + BURST) / 60 of the cap
        elapsed = self._server_time() - self._window * MINUTE - EDGE
        due = (self.used + weight) / cap * MINUTE - BURST
        return max(0.0, due - elapsed) if self.used > 0 else 0.0

    def _background_cap(self) -> float:
        """Background work's part of this window: the budget less the users' reserve, and
        less what users asked for in the previous window, but never below the floor."""
        left_by_users = self.budget * (1 - self.trade_reserve) - self._asked_before
        cap = min(self.budget * (1 - self.reserve), left_by_users)
        return max(self.budget * BACKGROUND_FLOOR, cap)

    def _fits(self, weight: int, cap: float) -> float:
        """0 when `weight` fits under `cap` this window (or the window is fresh), else the
        wait until the next one."""
        return 0.0 if self.used + weight <= cap or self.used == 0 else self._to_next_window()

    def _window_now(self) -> int:
        return int((self._server_time() - EDGE) // MINUTE)

    def _roll(self) -> None:
        window = self._window_now()
        if window != self._window:
            self._asked_before = self._asked if window == self._window + 1 else 0
            self._window, self.used, self._asked = window, 0, 0

    def _to_next_window(self) -> float:
        return max(0.05, (self._window + 1) * MINUTE + EDGE - self._server_time())
