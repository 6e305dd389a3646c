"""/buy, /sell and /cancel: every order is previewed and placed only after Confirm.

The buttons carry only the ticket id; the order service decides who may press and when, and
this module shows the answer and edits the preview into the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable
from decimal import Decimal

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler

from chatbot.errors import present
from chatbot.exchange.grid import price_places, quantity_places
from chatbot.exchange.models import Order
from chatbot.exchange.side import Side
from chatbot.services.order_outcomes import Outcome, OutcomeKind
from chatbot.services.orders import CancelAllPreview, OrderPreview
from chatbot.storage.tickets import Ticket
from chatbot.telegram_pacing import PacedBot, SendPriority
from handlers.common import (
    TYPING_AFTER,
    chat_of,
    edit,
    esc,
    keyboard,
    num,
    press_of,
    reply,
    typing,
    user_id,
)
from handlers.context import BotContext
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
    """/cancel ORDER_ID, or /cancel SYMBOL all (confirmed with a button)."""
    order_id, symbol = parse_cancel(context.args or [])
    orders = context.services.orders
    chat_id = chat_of(update).id
    async with typing(update):
        if order_id is not None:
            cancelled = await orders.cancel_order(user_id(update), order_id)
            await reply(update, render_cancelled(cancelled))
            return
        symbol = present(symbol, "the symbol of /cancel SYMBOL all")
        preview = await orders.preview_cancel_all(user_id(update), chat_id, symbol)
    message = await reply(update, render_cancel_all(preview), buttons(preview.ticket))
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
    await query.answer(result.answer)
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


# -- rendering -----------------------------------------------------------------------------------


def render_preview(p: OrderPreview) -> str:
    rules, order = p.rules, p.order
    base, quote = esc(rules.base_asset), esc(rules.quote_asset)
    qp, pp = quantity_places(rules), price_places(rules)
    kind = "limit order (GTC)" if order.price is not None else "market order"
    lines = [f"<b>Preview: {p.ticket.side} {esc(rules.symbol)}, {kind}</b>"]
    if order.quote_quantity is not None:
        verb = "Spend" if p.ticket.side is Side.BUY else "Receive"
        lines.append(f"{verb}: {num(order.quote_quantity)} {quote}")
        lines.append(f"Quantity: ≈ {num(p.quantity, qp)} {base}")
    else:
        lines.append(
            f"Quantity: {num(p.quantity)} {base}"
            + _rounded(order.quantity_rounded, p.typed_quantity)
        )
    if order.price is not None:
        lines.append(
            f"Limit price: {num(order.price)} {quote}"
            + _rounded(order.price_rounded, p.typed_price)
        )
    else:
        side = "best ask" if p.ticket.side is Side.BUY else "best bid"
        lines.append(f"Price: ≈ {num(p.price, pp)} {quote} ({side} now)")
    money = "Cost" if p.ticket.side is Side.BUY else "Proceeds"
    approx = "" if order.price is not None or order.quote_quantity is not None else "≈ "
    lines.append(f"{money}: {approx}{num(p.cost, pp)} {quote}")
    lines.append(f"Fee: ≈ {num(p.fee, 8)} {esc(p.fee_asset)} ({num(p.fee_rate * 100)}%)")
    lines.append(f"Your free {esc(p.spend_asset)}: {num(p.spend_free)}")
    if p.insufficient:
        lines.append(
            f"⚠️ Not enough {esc(p.spend_asset)}: this order needs {num(p.spend_needed, 8)}."
        )
    if p.largest is None:
        lines.append(f"Confirm within {p.ttl} s.")
    else:
        lines.append(_render_largest(p))
    return "\n".join(lines)


def _render_largest(p: OrderPreview) -> str:
    """What a preview without Confirm offers instead."""
    fit, rules = present(p.largest, "the largest fit of a preview without Confirm"), p.rules
    unit = rules.quote_asset if fit.in_quote else rules.base_asset
    if fit.amount == 0:
        return f"No Confirm: you have no {esc(p.spend_asset)} free for this order."
    if fit.refused is not None:
        return (
            f"No Confirm, and no smaller order fits either: {num(fit.amount)} {esc(unit)}, the "
            f"most your free {esc(p.spend_asset)} covers, is refused: {esc(fit.refused.message)}."
        )
    return f"No Confirm for this amount; the most that fits now is {num(fit.amount)} {esc(unit)}."


def _rounded(was_rounded: bool, typed: Decimal | None) -> str:
    return f" (rounded from {num(typed)})" if was_rounded and typed is not None else ""


def render_cancel_all(p: CancelAllPreview) -> str:
    lines = [f"<b>Cancel all {len(p.orders)} open orders on {esc(p.ticket.symbol)}?</b>"]
    lines += [_order_line(o) for o in p.orders]
    lines.append(f"Confirm within {p.ttl} s.")
    return "\n".join(lines)


def _order_line(order: Order) -> str:
    return (
        f"#{order.order_id} {order.side} {esc(order.type)} {num(order.orig_qty)} "
        f"@ {num(order.price)}"
    )


def render_cancelled(order: Order) -> str:
    done = f"Cancelled order #{order.order_id} ({esc(order.symbol)})."
    if order.executed_qty:
        done += f" {num(order.executed_qty)} of {num(order.orig_qty)} had filled before."
    return done


def render_placing(message: Message) -> str:
    return esc(message.text or "") + "\n\n⏳ Sending to Binance…"


def render_outcome(outcome: Outcome) -> str:
    t, order, kind = outcome.ticket, outcome.order, outcome.kind
    if kind is OutcomeKind.FILLED and order is not None:
        return _render_fill(t, order)
    if kind is OutcomeKind.OPEN and order is not None:
        return _render_open(t, order)
    if kind is OutcomeKind.REPREVIEW and outcome.reason:
        return (
            f"❌ <b>Not placed</b>: {esc(_sentence(outcome.reason))} The symbol's rules were "
            "re-read; new preview below."
        )
    text = _OUTCOME_TEXT.get(kind, "Done.")
    if kind is OutcomeKind.UNKNOWN and outcome.reason:  # e.g. the key must be set again
        text = _UNKNOWN_BLOCKED
    return text.format(
        reason=esc(_sentence(outcome.reason or "Binance refused the order")),
        watched=_duration(outcome.watched_seconds),
        count=len(outcome.cancelled),
        symbol=esc(t.symbol),
    )


_UNKNOWN_BLOCKED = (
    "⏳ <b>Not confirmed yet</b>: the order was sent once and will not be sent again, but "
    "what became of it cannot be checked now: {reason} Once you have, I will check it and tell "
    "you here. /orders shows what Binance has now."
)
_OUTCOME_TEXT = {
    OutcomeKind.REJECTED: "❌ <b>Not placed</b>: {reason}",
    OutcomeKind.NOT_SENT: "❌ <b>Not sent</b>: {reason}",
    OutcomeKind.ENDED: "⌛ <b>Placed, then ended</b>: {reason}",
    OutcomeKind.UNKNOWN: (
        "⏳ <b>Not confirmed yet</b>: the order was sent once and will not be sent again, "
        "but Binance has not said what became of it. I keep checking and will tell you here "
        "as soon as Binance does. /orders shows what Binance has now."
    ),
    OutcomeKind.MISSING: (
        "❔ <b>Still no record</b>: Binance still has no record of this order after "
        "{watched}; it most likely was not placed. Check /orders before ordering again. "
        "If it appears later, I will tell you here."
    ),
    OutcomeKind.REPREVIEW: (
        "⌛ The price moved too much since this preview; nothing was sent. New preview below."
    ),
    OutcomeKind.CANCELLED: "Cancelled; nothing was sent.",
    OutcomeKind.EXPIRED: "⌛ This preview expired; nothing was sent. Send the command again.",
    OutcomeKind.CANCELLED_ALL: "✅ Cancelled {count} orders on {symbol}.",
}


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} minutes"


def _sentence(text: str) -> str:
    """`text` ending in exactly one full stop."""
    return text.rstrip().rstrip(".") + "."


def _render_open(ticket: Ticket, order: Order) -> str:
    filled = f", {num(order.executed_qty)} filled so far" if order.executed_qty else ""
    price = f"@ {num(order.price)}" if order.price else "at market"
    return (
        f"📌 <b>Order placed</b>: {ticket.side} {num(order.orig_qty)} {esc(ticket.symbol)} "
        f"{price} is open{filled} (order #{order.order_id}). /orders lists it; "
        f"/cancel {order.order_id} cancels it."
    )


def _render_fill(ticket: Ticket, order: Order) -> str:
    fees: dict[str, Decimal] = defaultdict(Decimal)
    for fill in order.fills:
        fees[fill.commission_asset] += fill.commission
    fee_text = ", ".join(f"{num(v)} {esc(k)}" for k, v in fees.items()) or "see /history"
    verb = "Bought" if ticket.side is Side.BUY else "Sold"
    money = "Cost" if ticket.side is Side.BUY else "Proceeds"
    average = order.average_price or Decimal(0)
    return (
        f"✅ <b>Filled</b>: {verb} {num(order.executed_qty)} {esc(order.symbol)} "
        f"at an average {num(average, 8)}\n"
        f"{money}: {num(order.cumulative_quote_qty)} · fee {fee_text}\n"
        f"Order #{order.order_id}"
    )


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
