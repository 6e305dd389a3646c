"""/digest: a daily or weekly summary at a local time, and the digest message itself."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import Update

from chatbot.exchange.models import Order
from chatbot.services.delivery import DigestEvery, DigestSchedule, UserSettings, zone_named
from chatbot.services.digest import Digest
from chatbot.storage.alerts import AlertRecord
from handlers.alert_messages import fired_value, shown
from handlers.common import esc, num, reply, user_id
from handlers.context import BotContext
from handlers.settings_parsing import WEEKDAYS, parse_digest

MAX_LINES = 15  # orders or alerts listed at most; the rest are counted


async def digest(update: Update, context: BotContext) -> None:
    """/digest daily 08:00 | weekly mon 08:00 | off; /digest alone shows the schedule."""
    preferences = context.services.preferences
    uid = user_id(update)
    if not context.args:
        await reply(update, render_schedule(await preferences.settings(uid)))
        return
    settings = await preferences.set_digest(uid, parse_digest(context.args))
    await reply(update, render_schedule(settings, changed=True))


def describe_schedule(schedule: DigestSchedule | None, zone: str) -> str:
    if schedule is None:
        return "off"
    at = f"{schedule.minute // 60:02d}:{schedule.minute % 60:02d}"
    if schedule.every is DigestEvery.WEEKLY and schedule.weekday is not None:
        return f"weekly on {WEEKDAYS[schedule.weekday].capitalize()} at {at} ({esc(zone)})"
    return f"daily at {at} ({esc(zone)})"


def render_schedule(settings: UserSettings, *, changed: bool = False) -> str:
    if settings.digest is None:
        head = "Digest stopped." if changed else "You have no digest."
        return f"{head} Start one with /digest daily 08:00 or /digest weekly mon 08:00."
    when = describe_schedule(settings.digest, settings.time_zone)
    lines = [f"📰 Digest: {when}."]
    if settings.digest_next is not None:
        lines.append(f"Next: {_local(settings.digest_next, settings.zone)}.")
    lines.append("Your time zone: /settings tz Europe/Berlin · stop it: /digest off")
    return "\n".join(lines)


def render_digest(d: Digest) -> str:
    zone = zone_named(d.time_zone) or ZoneInfo("UTC")
    title = "weekly" if d.every is DigestEvery.WEEKLY else "daily"
    lines = [f"📰 <b>Your {title} digest</b> ({_local(d.at, zone)})", _balance_line(d)]
    if d.has_key and not d.unreadable:
        lines += _orders(d.open_orders)
    lines += _alerts(d.fired)
    if d.unprotected:
        assets = ", ".join(esc(a) for a in d.unprotected)
        lines.append(f"⚠️ Without protection: {assets} — /risk shows a Protect button.")
    return "\n".join(lines)


def _balance_line(d: Digest) -> str:
    if not d.has_key:
        return "Balances need your Binance API key: /setkey."
    if d.total_usdt is None:
        return "Balance: Binance could not be read just now; /balance asks again."
    change = ""
    if d.change_usdt is not None:
        sign = "+" if d.change_usdt >= 0 else "−"
        change = f" ({sign}{num(abs(d.change_usdt), 2)} since the last digest)"
    return f"Balance: ≈ {num(d.total_usdt, 2)} USDT{change}"


def _orders(orders: list[Order]) -> list[str]:
    if not orders:
        return ["No open orders."]
    lines = [f"Open orders ({len(orders)}):"]
    for o in orders[:MAX_LINES]:
        price = f" @ {num(o.price)}" if o.price else ""
        lines.append(
            f"  #{o.order_id} {o.side} {esc(o.type)} {esc(o.symbol)} {num(o.orig_qty)}{price}"
        )
    if len(orders) > MAX_LINES:
        lines.append(f"  … and {len(orders) - MAX_LINES} more: /orders")
    return lines


def _alerts(fired: list[AlertRecord]) -> list[str]:
    if not fired:
        return ["No alerts fired since the last digest."]
    lines = [f"Alerts fired since the last digest ({len(fired)}):"]
    for a in fired[-MAX_LINES:]:
        at = f" at {fired_value(a.kind, a.fired_price)}" if a.fired_price is not None else ""
        condition = shown(a.kind, a.params, a.condition, a.symbol)
        lines.append(f"  #{a.id} {esc(a.symbol)} {esc(condition)}{at}")
    if len(fired) > MAX_LINES:
        lines.append(f"  … and {len(fired) - MAX_LINES} more: /alerts")
    return lines


def _local(instant: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(instant, zone).strftime("%a %d %b %H:%M")
