"""/alert, /alerts and /unalert; the alert messages the outbox sends, and their buttons."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import CallbackQueryHandler

from chatbot.errors import UserError
from chatbot.services.alert_kinds import PriceLevel
from chatbot.services.alerts import NewAlert
from chatbot.services.delivery import MessageKind
from chatbot.services.outbox import Delivery, SendResult
from chatbot.storage.alerts import AlertRecord, AlertState
from chatbot.storage.outbox import FiredAlert
from chatbot.telegram_pacing import PacedBot, SendPriority
from handlers import orders
from handlers.alert_parsing import parse_alert
from handlers.common import (
    chat_of,
    esc,
    keyboard,
    num,
    press_of,
    pressed_message,
    reply,
    typing,
    user_id,
)
from handlers.context import BotContext
from handlers.parsing import ALERT_BUTTON, button_fields, parse_unalert

MAX_TEXT = 4096


async def alert(update: Update, context: BotContext) -> None:
    """/alert SYMBOL > PRICE | < PRICE | +5% [note] [repeat]: a price alert (no key needed)."""
    spec = parse_alert(context.args or [], today=datetime.now(UTC).date())
    if not isinstance(spec.condition, PriceLevel):
        # Until AlertService hands each kind to its book (issue 15's integration), say so
        # rather than fail on a condition it cannot keep.
        raise UserError("Only price alerts can be set for now: /alert BTC > 70000, /alert BTC +5%")
    chat_id = chat_of(update).id
    async with typing(update):
        new = await context.services.alerts.create(user_id(update), chat_id, spec)
    await reply(update, render_new(new))


async def alerts(update: Update, context: BotContext) -> None:
    """/alerts: the user's alerts and their state."""
    records = await context.services.alerts.list(user_id(update))
    await reply(update, render_list(records, context.services.alerts.delayed_since()))


async def unalert(update: Update, context: BotContext) -> None:
    """/unalert ID [ID ...] | /unalert all."""
    ids = parse_unalert(context.args or [])
    deleted = await context.services.alerts.delete(user_id(update), ids)
    if not deleted:
        await reply(update, "No such alert of yours. /alerts lists them.")
        return
    await reply(update, f"Removed {len(deleted)} alert(s): " + ", ".join(f"#{i}" for i in deleted))


async def alert_button(update: Update, context: BotContext) -> None:
    """Under an alert message: "Set again" (the same condition from the price now) or
    "Trade" (an order preview to confirm)."""
    query = press_of(update)
    message = pressed_message(query)
    action, alert_id = button_fields(context.match)
    owner, chat_id = query.from_user.id, message.chat_id
    if action == "again":
        # answered after the service, so a refusal (the alert cap) reaches the press as a popup
        new = await context.services.alerts.again(owner, int(alert_id))
        await query.answer()
        await message.reply_text(render_new(new), parse_mode=ParseMode.HTML)
        return
    await query.answer()
    intent = await context.services.alerts.trade_intent(owner, int(alert_id))
    preview = await context.services.orders.preview(owner, chat_id, intent)
    await orders.show_preview(chat_id, context, preview)


async def resume_paused_chat(update: Update, context: BotContext) -> None:
    """After any update from a chat whose alerts were paused because Telegram said the chat was
    gone (blocked, kicked, not found): the chat works again, so its alerts fire again."""
    chat = update.effective_chat
    if chat is None or not context.services.alerts.is_paused(chat.id):
        return
    if count := await context.services.alerts.resume_chat(chat.id):
        text = f"🔔 Your {count} paused alert(s) in this chat are active again."
        delivery = await context.services.preferences.decide(chat.id, MessageKind.SYSTEM)
        if delivery.send:  # a notice the user did not ask for: as their settings say
            await context.bot.send_message(
                chat.id,
                text,
                disable_notification=delivery.silent,
                rate_limit_args=SendPriority.BULK,
            )


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
    """One message at most: the most recent alerts that fit, and how many older ones are not
    shown (a user with hundreds of fired alerts gets one page, not hundreds of messages)."""
    head = []
    if down_since is not None:
        head.append(f"⚠️ Live prices delayed since {_hm(down_since)} UTC.")
    if not records:
        head.append("You have no alerts. Example: /alert BTCUSDT > 70000")
        return "\n".join(head)
    head.append(f"<b>Your alerts</b> ({len(records)})")
    tail = "Remove with /unalert ID or /unalert all"
    room = MAX_TEXT - len("\n".join([*head, tail])) - 80  # 80: the "older not shown" line
    shown: list[str] = []
    for r in reversed(records):  # the most recent first, until the page is full
        line = f"#{r.id} {esc(r.symbol)} {esc(r.condition)} · {_state(r)}" + _note(r)
        if len(line) + 1 > room:
            break
        shown.append(line)
        room -= len(line) + 1
    older = len(records) - len(shown)
    more = [f"… and {older} older alert(s) not shown."] if older else []
    return "\n".join([*head, *reversed(shown), *more, tail])


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


def render_fired(alerts: list[FiredAlert]) -> tuple[str, int]:
    """The message for alerts due to one chat, and how many of them it holds: one alert in
    full; a burst one short line each, as many as fit in Telegram's 4096 characters (the
    outbox sends the rest next)."""
    if len(alerts) <= 3:
        return "\n".join(_full_line(a) for a in alerts), len(alerts)
    head = f"🔔 <b>{{count}} alerts fired</b> ({_hms(alerts[0].fired_at)})"
    lines: list[str] = []
    size = len(head) + 10
    for a in alerts:
        line = f"#{a.alert_id} <b>{esc(a.symbol)}</b> {esc(a.condition)} @ {num(a.price)}"
        if size + len(line) + 1 > MAX_TEXT:
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join([head.format(count=len(lines)), *lines]), len(lines)


def _full_line(a: FiredAlert) -> str:
    note = f" — {esc(a.note)}" if a.note else ""
    return (
        f"🔔 <b>{esc(a.symbol)}</b> {esc(a.condition)}: crossed at "
        f"{num(a.price)} ({_hms(a.fired_at)}) · alert #{a.alert_id}{note}"
    )


def _hms(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S UTC")


async def send_fired(
    bot: PacedBot,
    chat_id: int,
    alerts: list[FiredAlert],
    *,
    can_trade: bool = False,
    silent: bool = False,
) -> SendResult:
    """The outbox's way out: one message for what is due to this chat (as much as fits). A
    single alert gets "Set again", and "Trade" when its owner has a key. `silent`: without a
    sound (Telegram's disable_notification), as the owner's settings say."""
    text, count = render_fired(alerts)
    buttons = None
    if count == 1:
        alert_id = alerts[0].alert_id
        row = [("🔁 Set again", f"a:again:{alert_id}")]
        if can_trade:
            row.append(("💱 Trade", f"a:trade:{alert_id}"))
        buttons = keyboard([row])
    try:
        await bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=buttons,
            disable_notification=silent,
            rate_limit_args=SendPriority.URGENT,
        )
    except TelegramError as exc:
        return delivery_after(exc, count)
    return SendResult(Delivery.SENT, sent=count)


# 400s that mean the chat itself is gone for the bot, not that this one message was wrong
_CHAT_GONE = ("chat not found", "user is deactivated", "bot was kicked", "peer_id_invalid",
              "have no rights to send", "not enough rights", "chat_write_forbidden")  # fmt: skip
# transport failures that prove the request never reached Telegram
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def delivery_after(exc: TelegramError, count: int) -> SendResult:
    """What a failed send of a message holding `count` alerts means for the outbox (see
    `chatbot/services/outbox.py`): retried only when nothing can have arrived."""
    if isinstance(exc, RetryAfter):
        return SendResult(Delivery.RETRY, _seconds(exc.retry_after))
    if isinstance(exc, Forbidden | ChatMigrated):
        return SendResult(Delivery.BLOCKED)
    if isinstance(exc, BadRequest):
        gone = any(marker in exc.message.lower() for marker in _CHAT_GONE)
        return SendResult(Delivery.BLOCKED if gone else Delivery.REFUSED)
    if isinstance(exc, TimedOut | NetworkError) and isinstance(exc.__cause__, httpx.HTTPError):
        if isinstance(exc.__cause__, _NOT_SENT):
            return SendResult(Delivery.RETRY, 2.0)
        return SendResult(Delivery.UNKNOWN, sent=count)  # it left; the answer did not come
    return SendResult(Delivery.RETRY, 2.0)  # Telegram answered with an error: not delivered


def _seconds(value: object) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)  # type: ignore[arg-type]
