"""What a user chose for the messages the bot sends on its own, and what that means for one
message: the kinds of message, the modes, the time zone, quiet hours and the digest's schedule.

Pure: no I/O and no clock of its own (instants are passed in, as `time.time()` seconds), so the
storage (`chatbot/storage/preferences.py`), the service (`chatbot/services/preferences.py`) and
the tests share one meaning. A user without a row has `UserSettings.default`: every kind on,
UTC, no quiet hours, no digest.

Modes: ON rings, SILENT is sent with Telegram's `disable_notification`, OFF is not sent. A
critical message (a stop-loss fill, a key that stopped working) is always sent and always rings,
whatever the mode; during quiet hours every other message that is sent at all goes silently
(never dropped: the user reads it in the morning).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_A_DAY = 24 * 60
UTC_NAME = "UTC"


class MessageKind(StrEnum):
    """A kind of message the bot sends on its own; the value is its column in user_settings."""

    ALERTS = "alerts"  # a fired alert
    FILLS = "fills"  # an order (or an order list's leg) filled, in part or in full
    ORDERS = "orders"  # an order placed, cancelled, expired or rejected
    DIGESTS = "digests"  # the daily or weekly digest
    SYSTEM = "system"  # prices back, paused alerts active again, a key that does not open


class Mode(StrEnum):
    ON = "on"
    SILENT = "silent"  # sent with disable_notification: no sound, no vibration
    OFF = "off"

    def next(self) -> Mode:
        """The mode a settings button press moves to: on -> silent -> off -> on."""
        order = list(Mode)
        return order[(order.index(self) + 1) % len(order)]


@dataclass(frozen=True)
class Delivery:
    """What to do with one message: send it or not, and if so whether silently."""

    send: bool
    silent: bool = False


RING = Delivery(send=True)
SILENT = Delivery(send=True, silent=True)
DROP = Delivery(send=False)


@dataclass(frozen=True)
class QuietHours:
    """Minutes of the local day: from `start` (included) to `end` (excluded), across midnight
    when `start` > `end` (23:00-07:00). `start` == `end` is refused by the grammar."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        if self.start <= self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


class DigestEvery(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class DigestSchedule:
    """Every day, or every week on `weekday` (0 = Monday), at `minute` of the local day."""

    every: DigestEvery
    minute: int
    weekday: int | None = None  # weekly only

    def next_after(self, now: float, zone: ZoneInfo) -> float:
        """The first instant after `now` at which the schedule's local time comes in `zone`.
        Across a DST change zoneinfo places the wall time (a time the spring gap skips is
        read with the offset before the gap, so it still comes once, an hour later)."""
        local = datetime.fromtimestamp(now, zone)
        hour, minute = divmod(self.minute, 60)
        ahead = 0 if self.weekday is None else (self.weekday - local.weekday()) % 7
        step = 1 if self.weekday is None else 7
        day = local.date() + timedelta(days=ahead)
        while True:
            at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp()
            if at > now:
                return at
            day += timedelta(days=step)


@dataclass(frozen=True)
class UserSettings:
    """One user's row of user_settings, as the service reads it on each decision."""

    user_id: int
    modes: dict[MessageKind, Mode] = field(default_factory=dict)
    time_zone: str = UTC_NAME
    quiet: QuietHours | None = None
    digest: DigestSchedule | None = None
    digest_next: float | None = None  # the instant the next digest is due
    digest_last: float | None = None  # the instant of the last digest sent
    digest_last_usdt: Decimal | None = None  # the total balance that digest showed

    @classmethod
    def default(cls, user_id: int) -> UserSettings:
        return cls(user_id)

    def mode(self, kind: MessageKind) -> Mode:
        return self.modes.get(kind, Mode.ON)

    def with_mode(self, kind: MessageKind, mode: Mode) -> UserSettings:
        return replace(self, modes={**self.modes, kind: mode})

    @property
    def zone(self) -> ZoneInfo:
        """The user's zone; UTC if the stored name no longer opens (a tzdata without it)."""
        return zone_named(self.time_zone) or ZoneInfo(UTC_NAME)

    def decide(self, kind: MessageKind, now: float, *, critical: bool = False) -> Delivery:
        """What to do with a message of `kind` sent at `now`: see the module docstring."""
        if critical:
            return RING
        mode = self.mode(kind)
        if mode is Mode.OFF:
            return DROP
        if mode is Mode.SILENT or self.quiet_at(now):
            return SILENT
        return RING

    def quiet_at(self, now: float) -> bool:
        if self.quiet is None:
            return False
        local = datetime.fromtimestamp(now, self.zone)
        return self.quiet.contains(local.hour * 60 + local.minute)


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA zone called `name` ("Europe/Berlin"), None when there is none such."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
