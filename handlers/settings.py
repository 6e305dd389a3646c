"""/settings: how the messages the bot sends on its own reach the user (on, silent, off per
kind), the time zone and quiet hours. One message with buttons; a press changes one thing and
edits the message to show the new state. Only its owner may press (the button data holds the
owner's id, as /delkey's does)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler

from chatbot.services.delivery import MessageKind, Mode, QuietHours, UserSettings
from handlers.common import Buttons, edit, esc, press_of, pressed_message, reply, user_id
from handlers.context import BotContext
from handlers.digest import describe_schedule
from handlers.parsing import button_fields
from handlers.settings_parsing import parse_settings

# Button data: the owner, then m:<kind> (cycle its mode), z:<preset> (a zone), q:<preset>|off.
SETTINGS_BUTTON = r"^set:([0-9]{1,19}):([mzq]):([a-z0-9]{1,10})\Z"

LABELS = {
    MessageKind.ALERTS: "Fired alerts",
    MessageKind.FILLS: "Fills",
    MessageKind.ORDERS: "Order updates",
    MessageKind.DIGESTS: "Digests",
    MessageKind.SYSTEM: "System notices",
}
MODE_WORDS = {Mode.ON: "🔔 on", Mode.SILENT: "🔕 silent", Mode.OFF: "🚫 off"}
ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Singapore",
    "Asia/Tokyo",
)
QUIET = (QuietHours(22 * 60, 7 * 60), QuietHours(23 * 60, 7 * 60), QuietHours(0, 8 * 60))


async def settings(update: Update, context: BotContext) -> None:
    """/settings, or a typed change: tz NAME, quiet HH:MM-HH:MM|off, KIND on|silent|off."""
    preferences = context.services.preferences
    uid = user_id(update)
    change = parse_settings(context.args or [])
    if change is None:
        current = await preferences.settings(uid)
    elif change.zone is not None:
        current = await preferences.set_zone(uid, change.zone)
    elif change.kind is not None and change.mode is not None:
        current = await preferences.set_mode(uid, change.kind, change.mode)
    else:
        current = await preferences.set_quiet(uid, change.quiet)
    await reply(update, render_settings(current), settings_buttons(current))


async def settings_button(update: Update, context: BotContext) -> None:
    query = press_of(update)
    owner, action, value = button_fields(context.match)
    if int(owner) != query.from_user.id:
        await query.answer("These are someone else's settings: /settings shows yours.")
        return
    message = pressed_message(query)
    preferences = context.services.preferences
    uid = query.from_user.id
    if action == "m" and value in {k.value for k in MessageKind}:
        current = await preferences.cycle(uid, MessageKind(value))
    elif action == "z" and value.isdigit() and int(value) < len(ZONES):
        current = await preferences.set_zone(uid, ZONES[int(value)])
    elif action == "q" and (value == "off" or (value.isdigit() and int(value) < len(QUIET))):
        current = await preferences.set_quiet(uid, None if value == "off" else QUIET[int(value)])
    else:
        await query.answer("This button is no longer active.")
        return
    await query.answer()
    await edit(message, render_settings(current), settings_buttons(current))


def settings_button_handler() -> CallbackQueryHandler:
    return CallbackQueryHandler(settings_button, pattern=SETTINGS_BUTTON)


def render_settings(s: UserSettings) -> str:
    lines = ["<b>Notifications</b> (messages the bot sends on its own)"]
    lines += [f"{LABELS[kind]}: {MODE_WORDS[s.mode(kind)]}" for kind in MessageKind]
    lines.append(f"Time zone: {esc(s.time_zone)}")
    quiet = f"{_hhmm(s.quiet.start)}–{_hhmm(s.quiet.end)}" if s.quiet else "none"
    lines.append(f"Quiet hours: {quiet}")
    lines.append(f"Digest: {describe_schedule(s.digest, s.time_zone)}")
    lines.append(
        "\nPress a kind to change it: on → silent (no sound) → off. During quiet hours "
        "messages come silently; stop-loss fills and a key that stopped working always ring.\n"
        "Any zone: /settings tz Europe/Berlin · quiet hours: /settings quiet 23:00-07:00 or "
        "off · digest: /digest daily 08:00"
    )
    return "\n".join(lines)


def settings_buttons(s: UserSettings) -> Buttons:
    owner = s.user_id
    rows: list[list[tuple[str, str]]] = [
        [(f"{LABELS[kind]}: {MODE_WORDS[s.mode(kind)]}", f"set:{owner}:m:{kind.value}")]
        for kind in MessageKind
    ]
    zones = [(_mark(z == s.time_zone) + z, f"set:{owner}:z:{i}") for i, z in enumerate(ZONES)]
    rows += [zones[:3], zones[3:]]
    quiet = [
        (_mark(q == s.quiet) + f"🌙 {_hhmm(q.start)}-{_hhmm(q.end)}", f"set:{owner}:q:{i}")
        for i, q in enumerate(QUIET)
    ]
    rows.append([*quiet, (_mark(s.quiet is None) + "No quiet hours", f"set:{owner}:q:off")])
    return rows


def _mark(chosen: bool) -> str:
    return "✓ " if chosen else ""


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
