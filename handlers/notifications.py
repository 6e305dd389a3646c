"""Messages the bot sends on its own: fills and other changes to a user's orders."""

from __future__ import annotations

import contextlib
import logging

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError

from chatbot.services.fills import FillNotice
from handlers.common import esc, num

log = logging.getLogger(__name__)

_TITLES = {
    "partial": "🔸 Partially filled",
    "filled": "✅ Filled",
    "cancelled": "✖ Cancelled",
    "expired": "⌛ Expired",
    "rejected": "❌ Rejected",
}


def render_fill(n: FillNotice) -> str:
    head = f"<b>{_TITLES[n.kind]}</b>: {n.side} {esc(n.order_type)} {esc(n.symbol)} #{n.order_id}"
    lines = [head, f"Filled {num(n.filled)} of {num(n.quantity)}"]
    if n.kind == "partial" and n.last_qty:
        lines.append(f"This fill: {num(n.last_qty)} at {num(n.last_price)}")
    if n.average_price is not None:
        lines.append(f"Average price {num(n.average_price, 8)} · total {num(n.quote)}")
    if n.reason:
        lines.append(f"Reason: {esc(n.reason.replace('_', ' ').lower())}")
    return "\n".join(lines)


async def send_fill(bot: Bot, notice: FillNotice) -> None:
    """Tell the user in their private chat with the bot (its id is the user's id)."""
    try:
        await bot.send_message(notice.user_id, render_fill(notice), parse_mode=ParseMode.HTML)
    except Forbidden:
        log.info("user_id=%s blocked the bot; fill notice dropped", notice.user_id)
    except TelegramError:
        log.warning("fill notice for user_id=%s not sent", notice.user_id, exc_info=True)


async def send_key_failed(bot: Bot, user_id: int, reason: str) -> None:
    text = (
        "⚠️ Your Binance API key no longer works for live order updates "
        f"({esc(reason)}). Register a working key with /setkey."
    )
    with contextlib.suppress(TelegramError):
        await bot.send_message(user_id, text, parse_mode=ParseMode.HTML)
