"""/alert, /alerts and /unalert; the alert messages the outbox sends, and their buttons."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime

import httpx
from telegram import Message, Update
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

from chatbot.services.alert_kinds import FundingLevel
from chatbot.services.backtest import BacktestResult
from chatbot.services.delivery import MessageKind
from chatbot.services.outbox import Delivery, SendResult
from chatbot.storage.outbox import AlertEvent, FiredAlert
from chatbot.telegram_pacing import PacedBot, SendPriority
from handlers import orders
from handlers.alert_messages import (
    BACKTEST_PENDING,
    render_backtest,
    render_fired,
    render_list,
    render_new,
)
from handlers.alert_parsing import parse_alert
from handlers.common import (
    chat_of,
    keyboard,
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
    """/alert SYMBOL CONDITION [until DATE | for DURATION] [note] [repeat] (no key needed):
    a price level, a move over a window, an indicator or a volume spike; the reply adds how
    often it would have fired over the last 90 days. On a perpetual (`BTCUSDT.P`): the mark
    price (backtested on the mark price's candles) or the funding rate (no backtest line)."""
    owner = user_id(update)
    zone = await context.services.preferences.zone(owner)
    spec = parse_alert(context.args or [], today=datetime.now(zone).date())
    chat_id = chat_of(update).id
    async with typing(update):
        new = await context.services.alerts.create(owner, chat_id, spec)
        text = render_new(new, time.time(), spec.expiry)
        if isinstance(spec.condition, FundingLevel):  # no candles of funding: no backtest line
            await reply(update, text)
            return
        backtest = context.services.backtests.start(new.record.symbol, spec.condition, new.price)
        await asyncio.wait({backtest}, timeout=context.services.backtests.wait)
    if backtest.done():
        await reply(update, f"{text}\n{_backtest_text(backtest)}")
        return
    message = await reply(update, f"{text}\n{BACKTEST_PENDING}")
    context.application.create_task(_follow_with_backtest(message, text, backtest))


async def _follow_with_backtest(
    message: Message, text: str, backtest: asyncio.Task[BacktestResult]
) -> None:
    """The backtest took longer than the reply waits: its line follows in an edit."""
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait({backtest})
    with contextlib.suppress(TelegramError):
        await message.edit_text(f"{text}\n{_backtest_text(backtest)}", parse_mode=ParseMode.HTML)


def _backtest_text(backtest: asyncio.Task[BacktestResult]) -> str:
    if backtest.cancelled() or backtest.exception() is not None:
        return render_backtest(None)
    return render_backtest(backtest.result())


async def alerts(update: Update, context: BotContext) -> None:
    """/alerts: the user's alerts and their state."""
    records = await context.services.alerts.list(user_id(update))
    down_since = context.services.alerts.delayed_since()
    await reply(update, render_list(records, down_since, time.time()))


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
        await message.reply_text(render_new(new, time.time()), parse_mode=ParseMode.HTML)
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
        if can_trade and alerts[0].event is AlertEvent.FIRED:
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
