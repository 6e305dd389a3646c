"""Who may use the bot, and how fast: the allow-list and per-user rate limits.

The limits protect what every user of one bot shares: the Binance request-weight budget, which
Binance counts per IP, and the bot's Telegram send budget (about 30 messages a second). One user
hammering /balance or the Chart button must not lock the others out, and a stranger must not
spend the send budget on refusals.

Commands and button presses count in separate windows: a press is usually cheaper, and users tap
more than they type, so the button limit is the more generous one; a double tap on Confirm stays
well inside it and gets its "already placed" answer.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from chatbot.config import AllowedUsers

DEFAULT_COMMAND_LIMIT = 20  # per user per window
DEFAULT_BUTTON_LIMIT = 40
WINDOW = 60.0  # seconds
USERS_KEPT = 10_000  # users remembered before expired entries are swept


class Verdict(Enum):
    ALLOWED = "allowed"
    DENIED = "denied"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    retry_in: float = 0.0
    warn: bool = False  # tell the user (once per window), or stay quiet


class SlidingLimit:
    """At most `limit` events per `window` seconds for each user, as a sliding window."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._recent: dict[int, deque[float]] = {}
        self._warned_at: dict[int, float] = {}

    def hit(self, user_id: int) -> Decision:
        """Count one event; over the limit it is refused (and not counted), with `warn` set on
        the first refusal of a window only."""
        now = self._clock()
        if user_id not in self._recent and len(self._recent) >= USERS_KEPT:
            self._sweep(now)
        recent = self._recent.setdefault(user_id, deque())
        while recent and now - recent[0] >= self._window:
            recent.popleft()
        if len(recent) < self._limit:
            recent.append(now)
            return Decision(Verdict.ALLOWED)
        retry_in = self._window - (now - recent[0])
        warn = now - self._warned_at.get(user_id, now - self._window) >= self._window
        if warn:
            self._warned_at[user_id] = now
        return Decision(Verdict.RATE_LIMITED, retry_in=retry_in, warn=warn)

    def _sweep(self, now: float) -> None:
        """Forget users with nothing left in their window (with CHATBOT_ALLOWED_USERS=*
        anyone may write, and the table must not grow with every passer-by)."""
        self._recent = {
            uid: hits
            for uid, hits in self._recent.items()
            if hits and now - hits[-1] < self._window
        }
        self._warned_at = {
            uid: at for uid, at in self._warned_at.items() if now - at < self._window
        }


class AccessPolicy:
    """Allow-list check, then a per-user limit for commands and another for button presses.

    A stranger (not on the allow-list) is refused; only the first refusal in a window is to be
    answered (`warn`), the rest get silence, so forty messages cost one reply, not forty."""

    def __init__(
        self,
        allowed: AllowedUsers,
        *,
        limit: int = DEFAULT_COMMAND_LIMIT,
        button_limit: int = DEFAULT_BUTTON_LIMIT,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allowed = allowed
        self._window = window
        self._clock = clock
        self._commands = SlidingLimit(limit, window, clock)
        self._buttons = SlidingLimit(button_limit, window, clock)
        self._refused_at: dict[int, float] = {}

    def check(self, user_id: int, *, button: bool = False) -> Decision:
        """Decide on one incoming message (or, with `button`, one button press)."""
        if not self._allowed.allows(user_id):
            return self._refuse_stranger(user_id)
        return (self._buttons if button else self._commands).hit(user_id)

    def _refuse_stranger(self, user_id: int) -> Decision:
        now = self._clock()
        last = self._refused_at.get(user_id)
        if last is not None and now - last < self._window:
            return Decision(Verdict.DENIED, retry_in=self._window - (now - last))
        if len(self._refused_at) >= USERS_KEPT:
            self._refused_at = {
                uid: at for uid, at in self._refused_at.items() if now - at < self._window
            }
        self._refused_at[user_id] = now
        return Decision(Verdict.DENIED, warn=True)
