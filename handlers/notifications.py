"""Messages the bot sends on its own: fills and other changes to a user's orders, keys that
stopped working, fired alerts and the end of a price outage. `ChatNotifier` is how the services
reach the chat (it implements their `OrderNotifier`, `KeyNotifier` and `AlertNotifier`)."""

from __future__ import annotations

import contextlib
import logging

from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError

from chatbot.services.list_outcomes import ListNotice
from chatbot.services.order_outcomes import FillNotice, NoticeKind, Outcome
from chatbot.services.outbox import SendResult
from chatbot.storage.outbox import FiredAlert
from chatbot.telegram_pacing import PacedBot, SendPriority
from handlers.alerts import send_fired
from handlers.common import esc, num
from handlers.list_texts import render_list_end
from handlers.orders import update_ticket_message

log = logging.getLogger(__name__)

URGENT = SendPriority.URGENT  # what the user must see before any reply waiting to go out

_TITLES = {
    NoticeKind.PLACED: "📌 Placed",
    NoticeKind.PARTIAL: "🔸 Partially filled",
    NoticeKind.FILLED: "✅ Filled",
    NoticeKind.CANCELLED: "✖ Cancelled",
    NoticeKind.EXPIRED: "⌛ Expired",
    NoticeKind.REJECTED: "❌ Rejected",
}


def render_fill(n: FillNotice) -> str:
    head = f"<b>{_TITLES[n.kind]}</b>: {n.side} {esc(n.order_type)} {esc(n.symbol)} #{n.order_id}"
    lines = [head]
    if n.was_unknown:
        lines.append("Binance has now confirmed this order, whose status was unknown.")
    lines.append(f"Filled {num(n.filled)} of {num(n.quantity)}")
    if n.kind is not NoticeKind.FILLED and n.last_qty and n.filled != n.last_qty:
        at = f" at {num(n.last_price)}" if n.last_price is not None else ""
        lines.append(f"This fill: {num(n.last_qty)}{at}")
    if n.average_price is not None:
        lines.append(f"Average price {num(n.average_price, 8)} · total {num(n.quote)}")
    if n.fees:
        lines.append("Fee: " + ", ".join(f"{num(v)} {esc(k)}" for k, v in n.fees.items()))
    if n.exits_follow:
        lines.append("Its take-profit and stop-loss are now on the book.")
    if n.kind is NoticeKind.PLACED:
        lines.append(f"It is open on the book; /cancel {n.order_id} cancels it.")
    if n.reason:
        lines.append(f"Reason: {esc(n.reason.replace('_', ' ').lower())}")
    return "\n".join(lines)


async def send_fill(bot: PacedBot, notice: FillNotice) -> None:
    """Tell the user in their private chat with the bot (its id is the user's id)."""
    await _send_notice(bot, notice.user_id, render_fill(notice))


async def _send_notice(bot: PacedBot, user_id: int, text: str) -> None:
    try:
        await bot.send_message(user_id, text, parse_mode=ParseMode.HTML, rate_limit_args=URGENT)
    except Forbidden:
        log.info("user_id=%s blocked the bot; order notice dropped", user_id)
    except TelegramError:
        log.warning("order notice for user_id=%s not sent", user_id, exc_info=True)


async def send_key_failed(bot: PacedBot, user_id: int, reason: str) -> None:
    text = (
        "⚠️ Your Binance API key no longer works for live order updates "
        f"({esc(reason)}). Register a working key with /setkey."
    )
    with contextlib.suppress(TelegramError):
        await bot.send_message(user_id, text, parse_mode=ParseMode.HTML, rate_limit_args=URGENT)


async def send_key_unreadable(bot: PacedBot, user_id: int, reason: str) -> None:
    """At start: the user's stored key does not open, so neither orders nor live updates work
    for them until they set it again."""
    with contextlib.suppress(TelegramError):
        await bot.send_message(
            user_id, f"⚠️ {esc(reason)}", parse_mode=ParseMode.HTML, rate_limit_args=URGENT
        )


def render_prices_back(delayed_for: float) -> str:
    """After a market stream outage of `delayed_for` seconds: alerts were checked again."""
    return (
        f"✅ Live prices are back (they were delayed for {delayed_for / 60:.0f} min); your "
        "alerts were checked against the prices now."
    )


async def send_prices_back(bot: PacedBot, chat_ids: list[int], delayed_for: float) -> None:
    """One message to each chat (the feed lists a chat once)."""
    text = render_prices_back(delayed_for)
    for chat_id in chat_ids:
        with contextlib.suppress(TelegramError):
            await bot.send_message(chat_id, text, rate_limit_args=SendPriority.BULK)


class ChatNotifier:
    """The services' way into the chat (`OrderNotifier`, `KeyNotifier`, `AlertNotifier`)."""

    def __init__(self, bot: PacedBot) -> None:
        self._bot = bot

    async def order_update(self, notice: FillNotice) -> None:
        await send_fill(self._bot, notice)

    async def list_update(self, notice: ListNotice) -> None:
        await _send_notice(self._bot, notice.user_id, render_list_end(notice))

    async def ticket_update(self, outcome: Outcome, *, announce: bool) -> None:
        await update_ticket_message(self._bot, outcome, announce=announce)

    async def key_failed(self, user_id: int, reason: str) -> None:
        await send_key_failed(self._bot, user_id, reason)

    async def key_unreadable(self, user_id: int, reason: str) -> None:
        await send_key_unreadable(self._bot, user_id, reason)

    async def alerts_fired(
        self, chat_id: int, alerts: list[FiredAlert], *, can_trade: bool
    ) -> SendResult:
        return await send_fired(self._bot, chat_id, alerts, can_trade=can_trade)

    async def prices_back(self, chat_ids: list[int], delayed_for: float) -> None:
        await send_prices_back(self._bot, chat_ids, delayed_for)
