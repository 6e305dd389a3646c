"""Who may use the bot, and how fast: the allow-list and per-user rate limits.

The limits protect what every user of one bot shares: the Binance request-weight budget, which
Binance counts per IP, and the bot's Telegram send budget (about 30 messages a second). One user
hammering /balance or the Chart button must not lock the others out, and a stranger must not
spend the send budget on refusals.

Commands and button presses count in separate windows: a press is usually cheaper, and users tap
more than they type, so the button limit is the more generous one; a double tap on Confirm stays
well inside it and gets its "already placed" answer.

The counts and the "already warned" times live in the database (storage/rate_limits.py), not in
this process: with several replicas behind one webhook a user's next message may reach any of
them, and a limit counted per process would let a burst through once per replica (and warn once
per replica). The clock is wall time for the same reason: every replica reads the same rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from chatbot.config import AllowedUsers
from chatbot.storage.rate_limits import RateLimitRepository

DEFAULT_COMMAND_LIMIT = 20  # per user per window
DEFAULT_BUTTON_LIMIT = 40
WINDOW = 60.0  # seconds


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
    """Allow-list check, then a per-user limit for commands and another for button presses,
    each at most `limit` events per `window` seconds as a sliding window. Over the limit an
    event is refused (and not counted), with `warn` set on the first refusal of a window only.

    A stranger (not on the allow-list) is refused; only the first refusal in a window is to be
    answered (`warn`), the rest get silence, so forty messages cost one reply, not forty."""

    def __init__(
        self,
        allowed: AllowedUsers,
        counts: RateLimitRepository,
        *,
        limit: int = DEFAULT_COMMAND_LIMIT,
        button_limit: int = DEFAULT_BUTTON_LIMIT,
        window: float = WINDOW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._allowed = allowed
        self._counts = counts
        self._limits = {"command": limit, "button": button_limit}
        self._window = window
        self._clock = clock
        self._swept_at = clock()

    async def check(self, user_id: int, *, button: bool = False) -> Decision:
        """Decide on one incoming message (or, with `button`, one button press)."""
        now = self._clock()
        if now - self._swept_at >= self._window:
            self._swept_at = now  # this replica's turn; sweeping twice is harmless
            await self._counts.sweep(now - self._window)
        if not self._allowed.allows(user_id):
            hit = await self._counts.hit(user_id, "stranger", 0, now, self._window)
            return Decision(Verdict.DENIED, retry_in=self._retry_in(hit.since, now), warn=hit.warn)
        kind = "button" if button else "command"
        hit = await self._counts.hit(user_id, kind, self._limits[kind], now, self._window)
        if hit.counted:
            return Decision(Verdict.ALLOWED)
        return Decision(
            Verdict.RATE_LIMITED, retry_in=self._retry_in(hit.since, now), warn=hit.warn
        )

    def _retry_in(self, since: float | None, now: float) -> float:
        return 0.0 if since is None else max(0.0, self._window - (now - since))
