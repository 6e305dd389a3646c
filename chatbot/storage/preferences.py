"""Each user's choices for the messages the bot sends on its own (the user_settings table).

One row per user who changed anything; no row means the defaults (`UserSettings.default`).
Every read is a primary-key read, made for each message, so a change made on one replica holds
on every replica at once, with nothing cached to invalidate. A write is an upsert of the
columns it changes.

The digest is claimed once across replicas and polls (`claim_digest`): a conditional UPDATE
moves `digest_next` on only WHERE it still holds the value the poller read; the one UPDATE that
changed a row sends that digest, every other finds nothing to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from chatbot.services.delivery import (
    DigestEvery,
    DigestSchedule,
    MessageKind,
    Mode,
    QuietHours,
    UserSettings,
)
from chatbot.storage.database import Database, Row

_COLUMNS = frozenset(
    {*(kind.value for kind in MessageKind), "time_zone", "quiet_start", "quiet_end"}
    | {"digest_every", "digest_weekday", "digest_minute", "digest_next", "digest_last"}
    | {"digest_last_usdt"}
)
_CLAIM = (
    "UPDATE user_settings SET digest_next = ? "
    "WHERE user_id = ? AND digest_next = ? AND digest_every IS NOT NULL"
)


class PreferenceRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: int) -> UserSettings:
        """The user's settings (the defaults without a row)."""
        row = await self._db.fetch_one("SELECT * FROM user_settings WHERE user_id = ?", (user_id,))
        return _settings(row) if row else UserSettings.default(user_id)

    async def set_mode(self, user_id: int, kind: MessageKind, mode: Mode) -> None:
        await self._upsert(user_id, {kind.value: mode.value})

    async def set_zone(self, user_id: int, name: str, digest_next: float | None) -> None:
        """A new zone moves the next digest too (the same local time, in the new zone)."""
        await self._upsert(user_id, {"time_zone": name, "digest_next": digest_next})

    async def set_quiet(self, user_id: int, quiet: QuietHours | None) -> None:
        start, end = (quiet.start, quiet.end) if quiet else (None, None)
        await self._upsert(user_id, {"quiet_start": start, "quiet_end": end})

    async def set_digest(
        self, user_id: int, schedule: DigestSchedule | None, digest_next: float | None
    ) -> None:
        values = {"digest_every": None, "digest_weekday": None, "digest_minute": None}
        if schedule is not None:
            values = {
                "digest_every": schedule.every.value,
                "digest_weekday": schedule.weekday,
                "digest_minute": schedule.minute,
            }
        await self._upsert(user_id, {**values, "digest_next": digest_next})

    async def due_digests(self, now: float, limit: int = 100) -> list[UserSettings]:
        """The users whose digest is due at `now`, the longest due first."""
        rows = await self._db.fetch_all(
            "SELECT * FROM user_settings WHERE digest_next <= ? AND digest_every IS NOT NULL "
            "ORDER BY digest_next LIMIT ?",
            (now, limit),
        )
        return [_settings(row) for row in rows]

    async def claim_digest(self, user_id: int, was_due: float, next_due: float) -> bool:
        """Move the user's next digest from `was_due` (as read) to `next_due`; True for the one
        caller that moved it, which sends the digest."""
        return await self._db.execute(_CLAIM, (next_due, user_id, was_due)) == 1

    async def record_digest(self, user_id: int, at: float, total_usdt: Decimal | None) -> None:
        """The digest sent at `at` and the balance it showed (None: it showed none; the last
        known balance is kept, so the next change is against it)."""
        values: dict[str, Any] = {"digest_last": at}
        if total_usdt is not None:
            values["digest_last_usdt"] = format(total_usdt, "f")
        await self._upsert(user_id, values)

    async def _upsert(self, user_id: int, values: Mapping[str, Any]) -> None:
        unknown = set(values) - _COLUMNS
        if unknown:  # the names are the code's own, never the user's: a bug
            raise ValueError(f"not a user_settings column: {sorted(unknown)}")
        names = list(values)
        marks = ", ".join("?" for _ in names)
        sets = ", ".join(f"{name} = excluded.{name}" for name in names)
        await self._db.execute(
            f"INSERT INTO user_settings (user_id, {', '.join(names)}) VALUES (?, {marks}) "
            f"ON CONFLICT (user_id) DO UPDATE SET {sets}",
            (user_id, *values.values()),
        )


def _settings(row: Row) -> UserSettings:
    modes = {kind: _mode(row[kind.value]) for kind in MessageKind}
    quiet = None
    if row["quiet_start"] is not None and row["quiet_end"] is not None:
        quiet = QuietHours(int(row["quiet_start"]), int(row["quiet_end"]))
    return UserSettings(
        user_id=int(row["user_id"]),
        modes=modes,
        time_zone=str(row["time_zone"]),
        quiet=quiet,
        digest=_schedule(row),
        digest_next=_float(row["digest_next"]),
        digest_last=_float(row["digest_last"]),
        digest_last_usdt=_decimal(row["digest_last_usdt"]),
    )


def _schedule(row: Row) -> DigestSchedule | None:
    if row["digest_every"] is None or row["digest_minute"] is None:
        return None
    try:
        every = DigestEvery(row["digest_every"])
    except ValueError:
        return None
    weekday = row["digest_weekday"]
    if every is DigestEvery.DAILY or weekday is None:
        return DigestSchedule(DigestEvery.DAILY, int(row["digest_minute"]))
    return DigestSchedule(every, int(row["digest_minute"]), int(weekday))


def _mode(value: object) -> Mode:
    try:
        return Mode(str(value))
    except ValueError:  # a value this version does not know: the message is sent
        return Mode.ON


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _decimal(value: object) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None
