"""Who may use the bot, and how fast: the allow-list and a per-user command rate limit.

The rate limit protects the Binance request-weight budget, which Binance counts per IP and so is
shared by every user of one bot: one user hammering /balance must not lock the others out.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from chatbot.config import AllowedUsers


class Verdict(Enum):
    ALLOWED = "allowed"
    DENIED = "denied"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    retry_in: float = 0.0
    warn: bool = False  # tell the user (once per window), or stay quiet


class AccessPolicy:
    """Allow-list check plus a sliding-window limit of `limit` commands per `window` seconds."""

    def __init__(
        self,
        allowed: AllowedUsers,
        *,
        limit: int = 20,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allowed = allowed
        self._limit = limit
        self._window = window
        self._clock = clock
        self._recent: dict[int, deque[float]] = {}
        self._warned_at: dict[int, float] = {}

    def check(self, user_id: int, *, counted: bool = True) -> Decision:
        """Decide on one incoming message or button press; counts it against the rate limit
        when `counted`. Button presses are not counted: a press costs Binance nothing unless it
        wins a ticket, and a double tap must get its "already placed" answer, not a refusal."""
        if not self._allowed.allows(user_id):
            return Decision(Verdict.DENIED)
        if not counted:
            return Decision(Verdict.ALLOWED)
        now = self._clock()
        recent = self._recent.setdefault(user_id, deque())
        while recent and now - recent[0] >= self._window:
            recent.popleft()
        if len(recent) >= self._limit:
            retry_in = self._window - (now - recent[0])
            warn = now - self._warned_at.get(user_id, now - self._window) >= self._window
            if warn:
                self._warned_at[user_id] = now
            return Decision(Verdict.RATE_LIMITED, retry_in=retry_in, warn=warn)
        recent.append(now)
        return Decision(Verdict.ALLOWED)
