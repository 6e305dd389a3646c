"""/buy, /sell and /cancel: every order is previewed and placed only after Confirm.

The buttons carry only the ticket id; the order service decides who may press and when, and
this module shows the answer and edits the preview into the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler

from chatbot.errors import present
from chatbot.exchange.models import Order
from chatbot.services.order_cancels import CancelAllPreview, CancelListPreview
from chatbot.services.order_outcomes import Outcome, OutcomeKind
from chatbot.services.orders import OrderPreview
from chatbot.side import Side
from chatbot.storage.tickets import Ticket
from chatbot.telegram_pacing import PacedBot, SendPriority
from handlers.common import (
    TYPING_AFTER,
    chat_of,
    edit,
    keyboard,
    num,
    press_of,
    reply,
    typing,
    user_id,
)
from handlers.context import BotContext
from handlers.order_texts import (
    press_answer,
    render_cancel_all,
    render_cancel_list,
    render_cancelled,
    render_outcome,
    render_placing,
    render_preview,
)
from handlers.parsing import (
    LARGEST_BUTTON,
    TICKET_BUTTON,
    button_fields,
    parse_cancel,
    parse_order,
)

CONFIRM, DISCARD, LARGEST = "c", "x", "m"
PLACING_AFTER = TYPING_AFTER  # seconds an order may take before its preview says "Sending"


def buttons(ticket: Ticket) -> list[list[tuple[str, str]]]:
    return [[("✅ Confirm", f"t:{CONFIRM}:{ticket.id}"), ("✖ Cancel", f"t:{DISCARD}:{ticket.id}")]]


def preview_buttons(p: OrderPreview) -> list[list[tuple[str, str]]]:
    """Confirm and Cancel; or, when the balance does not cover the order, only a button for
    the largest order that fits (none when no order fits)."""
    if p.confirmable:
        return buttons(p.ticket)
    fit = p.largest
    if fit is None or not fit.offered:
        return []
    rules = p.rules
    if fit.in_quote:
        verb = "Spend" if p.ticket.side is Side.BUY else "Receive"
        label = f"{verb} {num(fit.amount)} {rules.quote_asset} instead"
    else:
        verb = "Buy" if p.ticket.side is Side.BUY else "Sell"
        label = f"{verb} {num(fit.amount)} {rules.base_asset} instead"
    return [[(label, f"t:{LARGEST}:{p.ticket.id}")]]


async def buy(update: Update, context: BotContext) -> None:
    """/buy SYMBOL QTY [@ PRICE] | /buy SYMBOL 100 USDT: preview a buy order."""
    await _preview(update, context, Side.BUY)


async def sell(update: Update, context: BotContext) -> None:
    """/sell SYMBOL QTY [@ PRICE] | /sell SYMBOL 100 USDT: preview a sell order."""
    await _preview(update, context, Side.SELL)


async def _preview(update: Update, context: BotContext, side: Side) -> None:
    intent = parse_order(side, context.args or [])
    chat_id = chat_of(update).id
    async with typing(update):
        preview = await context.services.orders.preview(user_id(update), chat_id, intent)
    await show_preview(chat_id, context, preview)


async def show_preview(chat_id: int, context: BotContext, preview: OrderPreview) -> None:
    message = await context.bot.send_message(
        chat_id,
        render_preview(preview),
        parse_mode="HTML",
        reply_markup=keyboard(preview_buttons(preview)),
    )
    await context.services.orders.attach_message(preview.ticket.id, message.message_id)


async def largest_button(update: Update, context: BotContext) -> None:
    """The "Sell 0.25 BTC instead" button of a preview the balance does not cover: a fresh
    preview of the largest order that fits. A refusal (not the owner, used, nothing fits) is
    shown as the press's answer by the error handler."""
    query = press_of(update)
    (ticket_id,) = button_fields(context.match)
    preview = await context.services.orders.preview_largest(ticket_id, query.from_user.id)
    await query.answer()
    if isinstance(query.message, Message):
        with contextlib.suppress(TelegramError):
            await query.message.edit_reply_markup(None)
    await show_preview(preview.ticket.chat_id, context, preview)


def largest_handler() -> CallbackQueryHandler:
    return CallbackQueryHandler(largest_button, pattern=LARGEST_BUTTON)


async def cancel(update: Update, context: BotContext) -> None:
    """/cancel ORDER_ID, or /cancel SYMBOL all (confirmed with a button); a leg of an order
    list cancels its whole list, confirmed with a button."""
    order_id, symbol = parse_cancel(context.args or [])
    orders = context.services.orders
    chat_id = chat_of(update).id
    async with typing(update):
        if order_id is not None:
            cancelled = await orders.cancel_order(user_id(update), chat_id, order_id)
            if isinstance(cancelled, Order):
                await reply(update, render_cancelled(cancelled))
                return
            preview: CancelAllPreview | CancelListPreview = cancelled
            text = render_cancel_list(cancelled)
        else:
            symbol = present(symbol, "the symbol of /cancel SYMBOL all")
            preview = await orders.preview_cancel_all(user_id(update), chat_id, symbol)
            text = render_cancel_all(preview)
    message = await reply(update, text, buttons(preview.ticket))
    await orders.attach_message(preview.ticket.id, message.message_id)


async def ticket_button(update: Update, context: BotContext) -> None:
    """Confirm or Cancel on a preview: answer the press at once, then do the slow part."""
    query = press_of(update)
    action, ticket_id = button_fields(context.match)
    orders = context.services.orders
    uid = query.from_user.id
    if action == CONFIRM:
        result = await orders.confirm(ticket_id, uid)
    else:
        result = await orders.cancel_ticket(ticket_id, uid)
    await query.answer(press_answer(result, confirming=action == CONFIRM))
    message = query.message if isinstance(query.message, Message) else None
    outcome = result.outcome
    if result.won is not None:
        outcome = await _executing(message, orders.execute(result.won))
    if outcome is not None and message is not None:
        await show_outcome(message, context, outcome)


async def _executing(message: Message | None, work: Awaitable[Outcome]) -> Outcome:
    """Run the order, showing "Sending to Binance…" on its preview only once it has taken
    `PLACING_AFTER`: a market order's result comes in milliseconds, and editing the preview
    twice in a row spent one of the bot's 28 Telegram sends a second on a state nobody saw
    (the press's answer already says "Placing the order…"). An edit already on its way is
    awaited, so it never lands after the result."""
    editing = False

    async def placing_later() -> None:
        nonlocal editing
        await asyncio.sleep(PLACING_AFTER)
        if message is not None:
            editing = True
            with contextlib.suppress(TelegramError):
                await edit(message, render_placing(message), priority=SendPriority.URGENT)

    notice = asyncio.create_task(placing_later())
    try:
        return await work
    finally:
        if not editing:
            notice.cancel()
        await asyncio.gather(notice, return_exceptions=True)


async def show_outcome(message: Message, context: BotContext, outcome: Outcome) -> None:
    await edit(message, render_outcome(outcome), priority=SendPriority.URGENT)
    if (metrics := context.metrics) is not None:
        metrics.orders.labels(outcome=outcome.kind).inc()
    if outcome.kind is OutcomeKind.REPREVIEW and outcome.preview is not None:
        await show_preview(message.chat_id, context, outcome.preview)


def ticket_handler() -> CallbackQueryHandler:
    return CallbackQueryHandler(ticket_button, pattern=TICKET_BUTTON)


async def report_reconciled(bot: PacedBot, outcomes: list[Outcome]) -> None:
    """After a restart: edit each ticket's preview into what became of it, and say so."""
    for outcome in outcomes:
        await update_ticket_message(bot, outcome, announce=outcome.kind is not OutcomeKind.EXPIRED)


async def update_ticket_message(bot: PacedBot, outcome: Outcome, *, announce: bool) -> None:
    """Edit a ticket's preview into its outcome; with `announce`, send it as a new message
    too (an edit does not notify the user)."""
    t = outcome.ticket
    text = render_outcome(outcome)
    if t.message_id is not None:
        with contextlib.suppress(TelegramError):
            await bot.edit_message_text(
                text,
                chat_id=t.chat_id,
                message_id=t.message_id,
                parse_mode="HTML",
                rate_limit_args=SendPriority.URGENT,
            )
    if announce:
        with contextlib.suppress(TelegramError):
            await bot.send_message(
                t.chat_id,
                "Update on your order:\n" + text,
                parse_mode="HTML",
                rate_limit_args=SendPriority.URGENT,
            )
