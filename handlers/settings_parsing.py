"""The grammar of /settings and /digest (the other commands' is handlers/parsing.py).

/settings                          the settings message, with its buttons
/settings tz Europe/Berlin         the time zone (an IANA name, any case)
/settings quiet 23:00-07:00        quiet hours; /settings quiet off
/settings fills silent             a kind's mode (alerts, fills, orders, digests, system)
/digest daily 08:00 | weekly mon 08:00 | off    and /digest alone shows the schedule
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass

from chatbot.services.delivery import (
    DigestEvery,
    DigestSchedule,
    MessageKind,
    Mode,
    QuietHours,
    zone_named,
)
from handlers.parsing import CommandError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])\Z")
_KIND_WORDS = {
    "alerts": MessageKind.ALERTS,
    "alert": MessageKind.ALERTS,
    "fills": MessageKind.FILLS,
    "fill": MessageKind.FILLS,
    "orders": MessageKind.ORDERS,
    "order": MessageKind.ORDERS,
    "digests": MessageKind.DIGESTS,
    "digest": MessageKind.DIGESTS,
    "system": MessageKind.SYSTEM,
}
SETTINGS_USAGE = (
    "Type /settings to see and change them, /settings tz Europe/Berlin for your time zone, "
    "/settings quiet 23:00-07:00 (or off) for quiet hours, or /settings fills silent "
    "(alerts, fills, orders, digests, system; on, silent, off)."
)
DIGEST_USAGE = "Type /digest daily 08:00, /digest weekly mon 08:00 or /digest off."


@dataclass(frozen=True)
class SettingsChange:
    """What a typed /settings asks for: one of zone, quiet (None with `quiet_off`), a mode."""

    zone: str | None = None
    quiet: QuietHours | None = None
    quiet_off: bool = False
    kind: MessageKind | None = None
    mode: Mode | None = None


def parse_settings(args: list[str]) -> SettingsChange | None:
    """None for /settings alone (show them); raises CommandError for anything it cannot read."""
    if not args:
        return None
    word, rest = args[0].lower(), args[1:]
    if word in ("tz", "timezone", "zone"):
        if len(rest) != 1:
            raise CommandError(f"Which time zone? {SETTINGS_USAGE}")
        return SettingsChange(zone=parse_zone(rest[0]))
    if word == "quiet":
        if len(rest) == 1 and rest[0].lower() in ("off", "none"):
            return SettingsChange(quiet_off=True)
        if len(rest) != 1:
            raise CommandError(f"Quiet hours are typed like 23:00-07:00. {SETTINGS_USAGE}")
        return SettingsChange(quiet=parse_quiet(rest[0]))
    if word in _KIND_WORDS and len(rest) == 1 and rest[0].lower() in {m.value for m in Mode}:
        return SettingsChange(kind=_KIND_WORDS[word], mode=Mode(rest[0].lower()))
    raise CommandError(f"I did not understand that setting. {SETTINGS_USAGE}")


def parse_zone(text: str) -> str:
    """An IANA zone's name, any case ("europe/berlin" -> "Europe/Berlin"). Only a name not
    typed as tzdata spells it reads the list of zones (once, ~10 ms)."""
    zone = zone_named(text)
    name = zone.key if zone is not None else _zone_names().get(text.lower(), text)
    if zone_named(name) is None:
        raise CommandError(
            f"{text[:40]} is not a time zone I know. Use a name like Europe/Berlin, "
            "America/New_York, Asia/Tokyo or UTC: /settings tz Europe/Berlin"
        )
    return name


def parse_quiet(text: str) -> QuietHours:
    start, sep, end = text.replace("–", "-").partition("-")
    if not sep:
        raise CommandError(f"Quiet hours are typed like 23:00-07:00. {SETTINGS_USAGE}")
    quiet = QuietHours(parse_time(start), parse_time(end))
    if quiet.start == quiet.end:
        raise CommandError("Quiet hours must start and end at different times, e.g. 23:00-07:00.")
    return quiet


def parse_time(text: str) -> int:
    """ "08:00" -> minutes of the day."""
    match = _TIME.match(text.strip())
    if match is None:
        raise CommandError(f"{text[:20]} is not a time of day: use HH:MM, e.g. 08:00 or 23:30.")
    return int(match[1]) * 60 + int(match[2])


def parse_digest(args: list[str]) -> DigestSchedule | None:
    """The schedule asked for, None for /digest off (the handler shows it for /digest alone)."""
    words = [a.lower() for a in args]
    if words == ["off"]:
        return None
    if words[0] == "daily" and len(words) == 2:
        return DigestSchedule(DigestEvery.DAILY, parse_time(words[1]))
    if words[0] == "weekly" and len(words) == 3:
        day = words[1][:3]
        if day not in WEEKDAYS:
            raise CommandError(f"Which day? Use mon, tue … sun. {DIGEST_USAGE}")
        return DigestSchedule(DigestEvery.WEEKLY, parse_time(words[2]), WEEKDAYS.index(day))
    raise CommandError(f"I did not understand that schedule. {DIGEST_USAGE}")


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every zone's name by its lower case (read once from tzdata)."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}
