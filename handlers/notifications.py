"""Messages the bot sends on its own: fills and other changes to a user's orders, keys that
stopped working, fired alerts, the end of a price outage and digests. `ChatNotifier` is how the
services reach the chat (it implements their `OrderNotifier`, `KeyNotifier`, `AlertNotifier`
and `DigestNotifier`), each message as the user's settings say (handlers/settings.py)."""

from __future__ import annotations

import contextlib
import logging

from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError

from chatbot.services import outbox
from chatbot.services.delivery import RING, Delivery, MessageKind
from chatbot.services.digest import Digest
from chatbot.services.list_outcomes import LegRole, ListNotice
from chatbot.services.order_outcomes import FillNotice, NoticeKind, Outcome
from chatbot.services.outbox import SendResult
from chatbot.services.preferences import PreferenceService
from chatbot.services.risk import STOP_TYPES
from chatbot.storage.outbox import FiredAlert
from chatbot.telegram_pacing import PacedBot, SendPriority
from handlers.alerts import send_fired
from handlers.common import esc, num
from handlers.digest import render_digest
from handlers.list_texts import render_list_end
from handlers.orders import update_ticket_message

log = logging.getLogger(__name__)

URGENT = SendPriority.URGENT  # what the user must see before any reply waiting to go out
BULK = SendPriority.BULK  # what can wait behind replies: prices back, digests

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


async def send_fill(bot: PacedBot, notice: FillNotice, delivery: Delivery = RING) -> None:
    """Tell the user in their private chat with the bot (its id is the user's id)."""
    await _send_notice(bot, notice.user_id, render_fill(notice), delivery)


async def _send_notice(bot: PacedBot, user_id: int, text: str, delivery: Delivery) -> None:
    if not delivery.send:
        return
    try:
        await bot.send_message(
            user_id,
            text,
            parse_mode=ParseMode.HTML,
            disable_notification=delivery.silent,
            rate_limit_args=URGENT,
        )
    except Forbidden:
        log.info("user_id=%s blocked the bot; order notice dropped", user_id)
    except TelegramError:
        log.warning("order notice for user_id=%s not sent", user_id, exc_info=True)


async def _send_quietly(
    bot: PacedBot, chat_id: int, text: str, delivery: Delivery, priority: SendPriority
) -> None:
    """A notice whose failure changes nothing (the next event tells the user again)."""
    if delivery.send:
        with contextlib.suppress(TelegramError):
            await bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML,
                disable_notification=delivery.silent,
                rate_limit_args=priority,
            )


def render_key_failed(reason: str) -> str:
    return (
        "⚠️ Your Binance API key no longer works for live order updates "
        f"({esc(reason)}). Register a working key with /setkey."
    )


def render_prices_back(delayed_for: float) -> str:
    """After a market stream outage of `delayed_for` seconds: alerts were checked again."""
    return (
        f"✅ Live prices are back (they were delayed for {delayed_for / 60:.0f} min); your "
        "alerts were checked against the prices now."
    )


def fill_kind(notice: FillNotice) -> tuple[MessageKind, bool]:
    """A notice's kind of message, and whether it is critical (a stop-loss order filled)."""
    if notice.kind in (NoticeKind.FILLED, NoticeKind.PARTIAL):
        return MessageKind.FILLS, notice.order_type in STOP_TYPES
    return MessageKind.ORDERS, False


def list_kind(notice: ListNotice) -> tuple[MessageKind, bool]:
    """An order list's end: fills when a leg filled, critical when its stop leg did."""
    filled = [leg for leg in notice.legs if leg.order.executed_qty > 0]
    stopped = any(leg.role is LegRole.STOP_LOSS for leg in filled)
    return (MessageKind.FILLS if filled else MessageKind.ORDERS), stopped


class ChatNotifier:
    """The services' way into the chat (`OrderNotifier`, `KeyNotifier`, `AlertNotifier`,
    `DigestNotifier`). Every message here is one the bot sends on its own, so each goes as the
    user's settings say (`PreferenceService.decide`); a private chat's id is its user's."""

    def __init__(self, bot: PacedBot, preferences: PreferenceService) -> None:
        self._bot = bot
        self._preferences = preferences

    async def order_update(self, notice: FillNotice) -> None:
        kind, critical = fill_kind(notice)
        delivery = await self._preferences.decide(notice.user_id, kind, critical=critical)
        await send_fill(self._bot, notice, delivery)

    async def list_update(self, notice: ListNotice) -> None:
        kind, critical = list_kind(notice)
        delivery = await self._preferences.decide(notice.user_id, kind, critical=critical)
        await _send_notice(self._bot, notice.user_id, render_list_end(notice), delivery)

    async def ticket_update(self, outcome: Outcome, *, announce: bool) -> None:
        """The result of an order the user confirmed: their own command's answer, not routed."""
        await update_ticket_message(self._bot, outcome, announce=announce)

    async def key_failed(self, user_id: int, reason: str) -> None:
        delivery = await self._preferences.decide(user_id, MessageKind.SYSTEM, critical=True)
        await _send_quietly(self._bot, user_id, render_key_failed(reason), delivery, URGENT)

    async def key_unreadable(self, user_id: int, reason: str) -> None:
        """At start: the user's stored key does not open, so neither orders nor live updates
        work for them until they set it again."""
        delivery = await self._preferences.decide(user_id, MessageKind.SYSTEM)
        await _send_quietly(self._bot, user_id, f"⚠️ {esc(reason)}", delivery, URGENT)

    async def alerts_fired(
        self, chat_id: int, alerts: list[FiredAlert], *, can_trade: bool
    ) -> SendResult:
        """The outbox's message for this chat: the leading alerts that go the same way (a
        group chat may hold several users' alerts). Those whose owner turned alerts off are
        settled unsent (MUTED); they count as fired all the same."""
        run, delivery = await self._same_delivery(alerts)
        if not delivery.send:
            return SendResult(outbox.Delivery.MUTED, sent=len(run))
        can_trade = can_trade and len(run) == len(alerts)
        return await send_fired(
            self._bot, chat_id, run, can_trade=can_trade, silent=delivery.silent
        )

    async def prices_back(self, chat_ids: list[int], delayed_for: float) -> None:
        """One message to each chat (the feed lists a chat once)."""
        text = render_prices_back(delayed_for)
        for chat_id in chat_ids:
            delivery = await self._preferences.decide(chat_id, MessageKind.SYSTEM)
            await _send_quietly(self._bot, chat_id, text, delivery, BULK)

    async def digest(self, digest: Digest) -> None:
        delivery = await self._preferences.decide(digest.user_id, MessageKind.DIGESTS)
        await _send_quietly(self._bot, digest.user_id, render_digest(digest), delivery, BULK)

    async def _same_delivery(self, alerts: list[FiredAlert]) -> tuple[list[FiredAlert], Delivery]:
        decided: dict[int, Delivery] = {}
        for alert in alerts:
            if alert.user_id not in decided:
                decided[alert.user_id] = await self._preferences.decide(
                    alert.user_id, MessageKind.ALERTS
                )
        first = decided[alerts[0].user_id]
        run = []
        for alert in alerts:
            if decided[alert.user_id] != first:
                break
            run.append(alert)
        return run, first
