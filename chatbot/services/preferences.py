"""The user's say over the messages the bot sends on its own: `decide` for each such message,
and the changes /settings and /digest make.

Each decision reads the user's row (a primary-key read) rather than a cache, so a change made
through any replica holds on every replica for the very next message. Replies to a user's own
commands never come here: they always ring.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from chatbot.services.delivery import (
    Delivery,
    DigestSchedule,
    MessageKind,
    Mode,
    QuietHours,
    UserSettings,
    zone_named,
)
from chatbot.storage.preferences import PreferenceRepository


class PreferenceService:
    def __init__(
        self, repo: PreferenceRepository, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._repo = repo
        self.clock = clock  # the digest scheduler and quiet hours read the same time

    async def decide(
        self, user_id: int, kind: MessageKind, *, critical: bool = False, now: float | None = None
    ) -> Delivery:
        """Whether a message of `kind` goes to the user now, and silently or not (a critical
        one always goes, ringing)."""
        if critical:  # no read needed: nothing the user chose changes it
            return Delivery(send=True)
        settings = await self._repo.get(user_id)
        return settings.decide(kind, self.clock() if now is None else now)

    async def settings(self, user_id: int) -> UserSettings:
        return await self._repo.get(user_id)

    async def zone(self, user_id: int) -> ZoneInfo:
        """The user's time zone (UTC until they choose one): an alert's `until` ends the day
        there."""
        return (await self._repo.get(user_id)).zone

    async def cycle(self, user_id: int, kind: MessageKind) -> UserSettings:
        """The settings button of `kind`: on -> silent -> off -> on."""
        current = await self._repo.get(user_id)
        await self._repo.set_mode(user_id, kind, current.mode(kind).next())
        return await self._repo.get(user_id)

    async def set_mode(self, user_id: int, kind: MessageKind, mode: Mode) -> UserSettings:
        await self._repo.set_mode(user_id, kind, mode)
        return await self._repo.get(user_id)

    async def set_zone(self, user_id: int, name: str) -> UserSettings:
        """`name` must be a zone (`zone_named`); a digest keeps its local time in the new one."""
        zone = zone_named(name)
        if zone is None:
            raise ValueError(f"not a time zone: {name!r}")
        current = await self._repo.get(user_id)
        due = current.digest.next_after(self.clock(), zone) if current.digest else None
        await self._repo.set_zone(user_id, zone.key, due)
        return await self._repo.get(user_id)

    async def set_quiet(self, user_id: int, quiet: QuietHours | None) -> UserSettings:
        await self._repo.set_quiet(user_id, quiet)
        return await self._repo.get(user_id)

    async def set_digest(self, user_id: int, schedule: DigestSchedule | None) -> UserSettings:
        """Start (or change) the digest, first due at the schedule's next local time; None
        stops it."""
        current = await self._repo.get(user_id)
        due = schedule.next_after(self.clock(), current.zone) if schedule else None
        await self._repo.set_digest(user_id, schedule, due)
        return await self._repo.get(user_id)
