"""/protect, /sl and /tp, and /buy with exits: each previewed (legs, loss at the stop, gain at
the target, risk:reward) and placed only after Confirm, with the same buttons and press
handling as /buy (`handlers/orders.py`: `t:c:` / `t:x:`).

`show_exit_preview` is also what other commands call to offer a prefilled exit (/risk's
"protect" button).
"""

from __future__ import annotations

from telegram import Update

from chatbot.exchange.grid import price_places
from chatbot.services.exit_preview import ExitPreview
from chatbot.services.order_intent import ProtectIntent, ProtectKind
from chatbot.side import Side
from chatbot.storage.tickets import TicketKind
from handlers.common import chat_of, esc, keyboard, num, typing, user_id
from handlers.context import BotContext
from handlers.exit_parsing import parse_order_with_exits, parse_protect, parse_single_exit
from handlers.exit_texts import render_exit_plan
from handlers.order_texts import render_preview
from handlers.orders import buttons, show_preview


async def protect(update: Update, context: BotContext) -> None:
    """/protect COIN [QTY] sl LEVEL tp LEVEL [trail PCT]: an OCO (or one side) on coins held."""
    intent = parse_protect(context.args or [])
    await _protect(update, context, intent)


async def stop_loss(update: Update, context: BotContext) -> None:
    """/sl COIN [QTY @] LEVEL | /sl COIN trail PCT: a stop-loss alone on coins held."""
    await _protect(update, context, parse_single_exit(ProtectKind.STOP_LOSS, context.args or []))


async def take_profit(update: Update, context: BotContext) -> None:
    """/tp COIN [QTY @] LEVEL: a take-profit alone on coins held."""
    await _protect(update, context, parse_single_exit(ProtectKind.TAKE_PROFIT, context.args or []))


async def _protect(update: Update, context: BotContext, intent: ProtectIntent) -> None:
    chat_id = chat_of(update).id
    async with typing(update):
        preview = await context.services.orders.preview_protect(user_id(update), chat_id, intent)
    await show_exit_preview(chat_id, context, preview)


async def buy(update: Update, context: BotContext) -> None:
    """/buy SYMBOL QTY [@ PRICE] [tp LEVEL] [sl LEVEL] [trail PCT]: a buy previewed alone, or
    with its exits as one OTOCO."""
    intent = parse_order_with_exits(Side.BUY, context.args or [])
    chat_id = chat_of(update).id
    orders = context.services.orders
    async with typing(update):
        if intent.exits is None:
            plain = await orders.preview(user_id(update), chat_id, intent)
        else:
            preview = await orders.preview_entry(user_id(update), chat_id, intent)
    if intent.exits is None:
        await show_preview(chat_id, context, plain)
    else:
        await show_exit_preview(chat_id, context, preview)


async def show_exit_preview(chat_id: int, context: BotContext, preview: ExitPreview) -> None:
    """Send the preview with Confirm and Cancel (none when the balance cannot cover the buy)."""
    message = await context.bot.send_message(
        chat_id,
        render_exit_preview(preview),
        parse_mode="HTML",
        reply_markup=keyboard(buttons(preview.ticket) if preview.confirmable else []),
    )
    await context.services.orders.attach_message(preview.ticket.id, message.message_id)


def render_exit_preview(p: ExitPreview) -> str:
    """An exit preview: the entry (a /buy's OTOCO), each leg, the figures, the timer."""
    rules, plan = p.rules, p.plan
    pp = price_places(rules)
    symbol, quote = esc(rules.symbol), esc(rules.quote_asset)
    if p.entry is not None:
        market = p.ticket.kind is TicketKind.ENTRY_OCO
        how = "market order, then its exits (OCO)" if market else "with exits (OTOCO)"
        head = f"<b>Preview: BUY {symbol} {how}</b>"
        entry = render_preview(p.entry).split("\n")[1:]
        entry = [line for line in entry if not line.startswith("Confirm within")]
        sells = (
            f"The exits sell {num(plan.quantity)} {esc(rules.base_asset)}, what the buy leaves "
            "after its fee (taken in the coin bought)"
        )
        if market:
            note = (
                f"{sells}; I place them as soon as the buy has filled. If Binance refuses them "
                "then (the price moved past the stop, say), I tell you at once: the coins "
                "would be held without protection."
            )
        else:
            note = f"{sells}; Binance puts them on the book once the buy has filled."
        lines = [head, *entry, note]
    else:
        kind = "OCO: the first to trigger cancels the other" if plan.is_oco else "one order"
        lines = [f"<b>Preview: exit on {symbol} ({kind})</b>"]
        lines.append(f"Last price: {num(p.last_price, pp)} {quote}")
    lines.append(render_exit_plan(plan, p.figures, rules))
    if p.confirmable:
        lines.append(f"Confirm within {p.ttl} s.")
    else:
        lines.append("⚠️ Not enough balance for the buy: nothing can be confirmed.")
    return "\n".join(lines)
