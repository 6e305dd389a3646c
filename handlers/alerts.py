"""/alert, /alerts and /unalert; the alert messages the outbox sends, and their buttons."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from telegram import Bot, Message, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.ext import CallbackQueryHandler, ContextTypes

from chatbot.services.alerts import NewAlert
from chatbot.services.outbox import Delivery, SendResult
from chatbot.storage.alerts import AlertRecord, AlertState
from handlers import orders
from handlers.common import esc, keyboard, num, reply, services, typing, user_id
from handlers.parsing import ALERT_BUTTON, button_fields, parse_alert, parse_unalert

MAX_TEXT = 4096


async def alert(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/alert SYMBOL > PRICE | < PRICE | +5% [note] [repeat]: a price alert (no key needed)."""
    spec = parse_alert(context.args or [])
    assert update.effective_chat is not None
    async with typing(update):
        new = await services(context).alerts.create(user_id(update), update.effective_chat.id, spec)
    await reply(update, render_new(new))


async def alerts(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/alerts: the user's alerts and their state."""
    records = await services(context).alerts.list(user_id(update))
    await reply(update, render_list(records, services(context).alerts.delayed_since()))


async def unalert(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unalert ID [ID ...] | /unalert all."""
    ids = parse_unalert(context.args or [])
    deleted = await services(context).alerts.delete(user_id(update), ids)
    if not deleted:
        await reply(update, "No such alert of yours. /alerts lists them.")
        return
    await reply(update, f"Removed {len(deleted)} alert(s): " + ", ".join(f"#{i}" for i in deleted))


async def alert_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Under an alert message: "Set again" (the same condition from the price now) or
    "Trade" (an order preview to confirm)."""
    query = update.callback_query
    assert query is not None and query.data is not None and isinstance(query.message, Message)
    action, alert_id = button_fields(context.match)
    owner, chat_id = query.from_user.id, query.message.chat_id
    if action == "again":
        # answered after the service, so a refusal (the alert cap) reaches the press as a popup
        new = await services(context).alerts.again(owner, int(alert_id))
        await query.answer()
        await query.message.reply_text(render_new(new), parse_mode=ParseMode.HTML)
        return
    await query.answer()
    intent = await services(context).alerts.trade_intent(owner, int(alert_id))
    preview = await services(context).orders.preview(owner, chat_id, intent)
    await orders.show_preview(chat_id, context, preview)


def alert_button_handler() -> CallbackQueryHandler:
    return CallbackQueryHandler(alert_button, pattern=ALERT_BUTTON)


# -- rendering -----------------------------------------------------------------------------------


def render_new(new: NewAlert) -> str:
    record = new.record
    extra = " · repeats" if record.repeat else ""
    note = f"\nNote: {esc(record.note)}" if record.note else ""
    return (
        f"🔔 Alert #{record.id} set: {esc(record.symbol)} {esc(record.condition)}{extra}\n"
        f"Now {num(new.price)}, {num(abs(new.distance_pct), 2)}% away.{note}"
    )


def render_list(records: list[AlertRecord], down_since: float | None) -> str:
    lines = []
    if down_since is not None:
        lines.append(f"⚠️ Live prices delayed since {_hm(down_since)} UTC.")
    if not records:
        lines.append("You have no alerts. Example: /alert BTCUSDT > 70000")
        return "\n".join(lines)
    lines.append(f"<b>Your alerts</b> ({len(records)})")
    for r in records:
        lines.append(f"#{r.id} {esc(r.symbol)} {esc(r.condition)} · {_state(r)}" + _note(r))
    lines.append("Remove with /unalert ID or /unalert all")
    return "\n".join(lines)


def _state(r: AlertRecord) -> str:
    fired = ""
    if r.fired_at is not None and r.fired_price is not None:
        when = datetime.fromtimestamp(r.fired_at, UTC)
        fired = f"fired at {num(r.fired_price)} on {when:%m-%d %H:%M} UTC"
    if r.state is AlertState.FIRED:
        return fired
    if r.state is AlertState.PAUSED:
        return "paused"
    return "active" + (" (repeats; last " + fired + ")" if r.repeat and fired else "")


def _note(r: AlertRecord) -> str:
    return f" — {esc(r.note)}" if r.note else ""


def _hm(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M")


def render_fired(payloads: list[dict[str, Any]]) -> tuple[str, int]:
    """The message for alerts due to one chat, and how many of them it holds: one alert in
    full; a burst one short line each, as many as fit in Telegram's 4096 characters (the
    outbox sends the rest next)."""
    if len(payloads) <= 3:
        return "\n".join(_full_line(p) for p in payloads), len(payloads)
    head = f"🔔 <b>{{count}} alerts fired</b> ({esc(payloads[0]['time'])})"
    lines: list[str] = []
    size = len(head) + 10
    for p in payloads:
        line = (
            f"#{p['alert_id']} <b>{esc(p['symbol'])}</b> {esc(p['condition'])} "
            f"@ {num(Decimal(p['price']))}"
        )
        if size + len(line) + 1 > MAX_TEXT:
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join([head.format(count=len(lines)), *lines]), len(lines)


def _full_line(p: dict[str, Any]) -> str:
    note = f" — {esc(p['note'])}" if p.get("note") else ""
    return (
        f"🔔 <b>{esc(p['symbol'])}</b> {esc(p['condition'])}: crossed at "
        f"{num(Decimal(p['price']))} ({esc(p['time'])}) · alert #{p['alert_id']}{note}"
    )


async def send_fired(
    bot: Bot, chat_id: int, payloads: list[dict[str, Any]], *, can_trade: bool = False
) -> SendResult:
    """The outbox's way out: one message for what is due to this chat (as much as fits). A
    single alert gets "Set again", and "Trade" when its owner has a key."""
    text, count = render_fired(payloads)
    buttons = None
    if count == 1:
        alert_id = payloads[0]["alert_id"]
        row = [("🔁 Set again", f"a:again:{alert_id}")]
        if can_trade:
            row.append(("💱 Trade", f"a:trade:{alert_id}"))
        buttons = keyboard([row])
    try:
        await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=buttons)
    except RetryAfter as exc:
        return SendResult(Delivery.RETRY, _seconds(exc.retry_after))
    except Forbidden:
        return SendResult(Delivery.BLOCKED)
    except TelegramError:  # network trouble or a server error: try again soon
        return SendResult(Delivery.RETRY, 2.0)
    return SendResult(Delivery.SENT, sent=count)


def _seconds(value: object) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)  # type: ignore[arg-type]
