"""Faults a test asks for, and Telegram's flood limits when a test wants them enforced.

`fail_next` answers the next calls of a method with an error instead of running them;
`delay_next` holds them before running them (the call succeeds on Telegram's side even if the
client has given up: the "did my message go out?" case). Flood control is off by default so
ordinary tests never see a 429 they did not ask for.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import ApiError, injected, too_many_requests


@dataclass
class Fault:
    """What to do to the next `remaining` matching calls."""

    remaining: int
    error: ApiError | None
    delay: float = 0.0
    chat_id: int | None = None


@dataclass
class FaultPlan:
    """Queued faults per method, consumed in order by matching calls."""

    _faults: dict[str, deque[Fault]] = field(default_factory=dict)

    def fail_next(
        self,
        method: str,
        *,
        count: int,
        error_code: int,
        retry_after: int | None,
        description: str | None,
        chat_id: int | None,
        delay: float,
    ) -> None:
        error = injected(error_code, description, retry_after)
        self._add(method, Fault(count, error, delay, chat_id))

    def delay_next(self, method: str, *, seconds: float, count: int, chat_id: int | None) -> None:
        self._add(method, Fault(count, None, seconds, chat_id))

    def _add(self, method: str, fault: Fault) -> None:
        self._faults.setdefault(method.lower(), deque()).append(fault)

    def take(self, method: str, chat_id: int | None) -> Fault | None:
        """The fault for this call, if one matches; consumes one use of it."""
        queue = self._faults.get(method.lower())
        if not queue:
            return None
        for fault in queue:
            if fault.chat_id is None or fault.chat_id == chat_id:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_needed(self) -> float:
        """Seconds until a whole token is free (0: one is free now)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class FloodControl:
    """Telegram's sending limits: about 1 message/s per private chat (short bursts allowed),
    20 per minute per group, 30/s overall. Over a limit: 429 with retry_after."""

    def __init__(
        self,
        *,
        per_chat: float = 1.0,
        chat_burst: int = 3,
        per_group_minute: int = 20,
        overall: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_chat = per_chat
        self._chat_burst = chat_burst
        self._per_group = per_group_minute / 60.0
        self._group_burst = per_group_minute
        self._clock = clock
        now = clock()
        self._overall = TokenBucket(overall, overall, overall, now)
        self._chats: dict[int, TokenBucket] = {}
        self.refused = 0

    def check(self, chat_id: int, is_group: bool) -> None:
        """Count one message to `chat_id`; ApiError 429 if it is over a limit."""
        now = self._clock()
        bucket = self._chats.get(chat_id)
        if bucket is None:
            rate, burst = (
                (self._per_group, self._group_burst)
                if is_group
                else (self._per_chat, self._chat_burst)
            )
            bucket = self._chats[chat_id] = TokenBucket(rate, burst, burst, now)
        for limit in (bucket, self._overall):
            limit.refill(now)
        wait = max(bucket.wait_needed(), self._overall.wait_needed())
        if wait > 0:
            self.refused += 1
            raise too_many_requests(max(1, math.ceil(wait)))
        bucket.tokens -= 1
        self._overall.tokens -= 1
