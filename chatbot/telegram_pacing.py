"""Every request to Telegram paced within its limits, the most urgent first.

Telegram allows about 30 messages a second to different chats and 20 a minute to one group;
past that it answers 429 with `retry_after`. The bot sends at most `per_second` (28) requests a
second with a bucket of one, so no busy second ever carries more than 29. When users want more
replies than that, requests queue, and the queue is served by priority, FIFO within one:

- URGENT: what a trader must see first, whatever else is waiting: a fired alert, a fill or other
  order notice, the edit of a confirmed preview into its result, a key that stopped working.
- REPLY (the default): the answer to a command someone just typed.
- BULK: what the bot says on its own and can wait: "your paused alerts are active again",
  "live prices are back", the "typing…" action (dropped if its reply goes out first).

A caller names the priority per call through PTB's `rate_limit_args`
(`bot.send_message(..., rate_limit_args=SendPriority.URGENT)`); services never see it.

Kept from PTB's `AIORateLimiter`, which this replaces: requests without a `chat_id`
(answerCallbackQuery, getMe, setMyCommands) are not paced; group chats (negative ids, @names)
also wait for their own 20 a minute; a `RetryAfter` pauses every paced request for its
`retry_after` (+0.1 s) and the request is tried again, `max_retries` times at most, keeping its
place in the queue.

Why not a library: `AIORateLimiter` and the `aiolimiter` it builds on grant capacity to waiters
in arrival order (and wake them all to race for it); neither can let a later, more urgent request
overtake queued ones, and with a 15 s reply queue at 1,000 users that put alerts 90 s late.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from telegram.error import NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter, ExtBot

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Result = bool | dict[str, Any] | list[dict[str, Any]]
MAX_GROUPS = 512  # group buckets kept before the full (idle) ones are forgotten


class SendPriority(IntEnum):
    """Lower goes first. None is 0: PTB drops a falsy `rate_limit_args` on the way."""

    URGENT = 1
    REPLY = 2
    BULK = 3


PacedBot = ExtBot[SendPriority]  # the bot whose methods take `rate_limit_args=SendPriority...`


@dataclass
class _GroupBucket:
    """A token bucket of `burst` refilled at `rate` a second (a group's 20 a minute)."""

    rate: float
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take a token if one is free (returns 0), else the seconds until one is."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def full(self, now: float) -> bool:
        return self.tokens + (now - self.stamp) * self.rate >= self.burst


class PrioritySendPacer(BaseRateLimiter[SendPriority]):
    """PTB's rate limiter for the bot: see the module docstring. `clock` and `sleep` are for
    tests that move time themselves."""

    def __init__(
        self,
        *,
        per_second: float = 28.0,
        group_per_minute: int = 20,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._per_second = per_second
        self._gap = 1.0 / per_second
        self._group_rate, self._group_burst = group_per_minute / 60.0, float(group_per_minute)
        self._max_retries = max_retries
        self._clock, self._sleep = clock, sleep
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._next_slot = 0.0  # clock time from which the next request may go
        self._paused_until = 0.0  # after a RetryAfter
        self._groups: dict[int | str, _GroupBucket] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self.waiting = dict.fromkeys(SendPriority, 0)  # requests queued now, for /metrics

    def share_among(self, replicas: int) -> None:
        """Telegram's 30 a second is the bot's, whichever replica sends: with `replicas`
        live (the lease keeper counts them at each beat), each sends its part of the pace."""
        self._gap = max(1, replicas) / self._per_second

    async def initialize(self) -> None:
        """Nothing to open: the queue is built as requests come."""

    async def shutdown(self) -> None:
        """Stop the dispatcher; a request still waiting fails with NetworkError (it was not
        sent, so a caller that retries, like the outbox, sends it after the next start)."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
        for *_, future in self._queue:
            if not future.done():
                future.set_exception(NetworkError("the bot stopped before this was sent"))
        self._queue.clear()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: SendPriority | None,
    ) -> Result:
        priority = SendPriority.REPLY if rate_limit_args is None else rate_limit_args
        chat_id = data.get("chat_id")
        group = _group_of(chat_id)
        place = next(self._order)  # kept across retries: a retried request keeps its turn
        for attempt in range(self._max_retries + 1):
            if group is not None:
                await self._group_turn(group)
            if chat_id is not None:
                await self._turn(priority, place)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self._max_retries:
                    log.warning("%s refused by Telegram's flood limit %d times", endpoint, attempt)
                    raise
                pause = _seconds(exc.retry_after) + 0.1
                log.info("Telegram flood limit on %s: every send waits %.1f s", endpoint, pause)
                self._paused_until = max(self._paused_until, self._clock() + pause)
                if chat_id is None:  # not queued, so nothing else holds it back
                    await self._sleep(pause)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _turn(self, priority: SendPriority, place: int) -> None:
        """Wait until the dispatcher lets this request go."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (priority, place, future))
        self.waiting[priority] += 1
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="telegram-pacer")
        try:
            await future  # cancelled with its caller: the dispatcher then skips it
        finally:
            self.waiting[priority] -= 1

    async def _dispatch(self) -> None:
        """Let the most urgent waiting request go, one per `gap`, none during a pause; end
        when no one waits (the next request starts a new dispatcher)."""
        while self._queue:
            now = self._clock()
            start = max(self._next_slot, self._paused_until)
            if start > now:
                await self._sleep(start - now)  # requests arriving meanwhile join the heap
                continue
            *_, future = heapq.heappop(self._queue)
            if future.done():  # its caller gave up (a "typing…" whose reply went first)
                continue
            future.set_result(None)
            self._next_slot = now + self._gap

    async def _group_turn(self, group: int | str) -> None:
        """A group chat's own limit, before its place in the overall queue."""
        now = self._clock()
        bucket = self._groups.get(group)
        if bucket is None:
            if len(self._groups) >= MAX_GROUPS:
                self._groups = {k: b for k, b in self._groups.items() if not b.full(now)}
            bucket = self._groups[group] = _GroupBucket(
                self._group_rate, self._group_burst, self._group_burst, now
            )
        while (wait := bucket.take(self._clock())) > 0:
            await self._sleep(wait)


def _group_of(chat_id: object) -> int | str | None:
    """A group's or channel's id (negative, or an @username), None for a private chat."""
    if isinstance(chat_id, str):
        try:
            chat_id = int(chat_id)
        except ValueError:
            return chat_id
    return chat_id if isinstance(chat_id, int) and chat_id < 0 else None


def _seconds(value: object) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)  # type: ignore[arg-type]
