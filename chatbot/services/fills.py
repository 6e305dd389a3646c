"""Fill notifications: what a user hears about their orders after the confirmation message.

Every order of a user with a key is followed, whether placed from the chat or elsewhere (web,
app). The confirmation message already tells how a chat order started (filled at once, open,
rejected), so those events are not repeated; what happens later (a resting order filling,
cancelled on the web, expiring) is. After a gap in the stream, open orders are re-read over
REST so a fill during the gap is still told, once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from chatbot.errors import UserError
from chatbot.exchange.client import ApiCredentials, BinanceClient
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.events import ExecutionReport
from chatbot.exchange.models import Order
from chatbot.services.keys import KeyService
from chatbot.storage.tickets import PENDING_STATES, TicketRepository, TicketState

SETTLE_WAIT = 10.0  # seconds to wait for a chat order's confirmation to settle


class RecentlyReported:
    """Order ids whose latest change the chat has already told (a /cancel reply, say); bounded."""

    def __init__(self, size: int = 2000) -> None:
        self._ids: OrderedDict[int, None] = OrderedDict()
        self._size = size

    def add(self, order_id: int) -> None:
        self._ids[order_id] = None
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)

    def pop(self, order_id: int) -> bool:
        """True (once) when the chat already told this order's latest change."""
        if order_id not in self._ids:
            return False
        del self._ids[order_id]
        return True


@dataclass(frozen=True)
class FillNotice:
    user_id: int
    kind: str  # partial | filled | cancelled | expired | rejected
    symbol: str
    side: str
    order_type: str
    order_id: int
    quantity: Decimal  # the order's quantity
    filled: Decimal  # filled so far
    price: Decimal  # the limit price (0 for market orders)
    average_price: Decimal | None
    quote: Decimal  # quote asset filled so far
    last_qty: Decimal = Decimal(0)
    last_price: Decimal = Decimal(0)
    reason: str | None = None


@dataclass
class _Known:
    symbol: str
    filled: Decimal


_KINDS = {"CANCELED": "cancelled", "EXPIRED": "expired", "REJECTED": "rejected"}


class FillService:
    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        tickets: TicketRepository,
        reported: RecentlyReported,
        *,
        settle_wait: float = SETTLE_WAIT,
    ) -> None:
        self._client = client
        self._keys = keys
        self._tickets = tickets
        self._reported = reported
        self._settle_wait = settle_wait
        self._open: dict[int, dict[int, _Known]] = {}

    async def track(self, user_id: int) -> None:
        """Remember the user's open orders now, to compare with after a gap."""
        credentials = await self._keys.credentials(user_id)
        orders = await self._client.open_orders(credentials)
        self._open[user_id] = {o.order_id: _Known(o.symbol, o.executed_qty) for o in orders}

    def forget(self, user_id: int) -> None:
        self._open.pop(user_id, None)

    async def on_event(self, user_id: int, report: ExecutionReport) -> FillNotice | None:
        """Decide whether this change to an order is news to the user."""
        self._remember(user_id, report)
        kind = _kind(report)
        if kind is None:
            return None
        if report.execution_type == "CANCELED" and self._reported.pop(report.order_id):
            return None  # the chat's own /cancel reply said it
        if await self._told_by_confirmation(report):
            return None
        return _notice(user_id, kind, report)

    def _remember(self, user_id: int, report: ExecutionReport) -> None:
        known = self._open.setdefault(user_id, {})
        if report.is_final:
            known.pop(report.order_id, None)
        else:
            known[report.order_id] = _Known(report.symbol, report.cumulative_qty)

    async def _told_by_confirmation(self, report: ExecutionReport) -> bool:
        """A chat order's first outcome is the confirmation message's to tell: events that
        arrive while it is being settled, or after it said "filled", are not repeated."""
        ticket = await self._tickets.get(report.client_order_id)
        deadline = time.monotonic() + self._settle_wait
        while ticket is not None and ticket.state in PENDING_STATES:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
            ticket = await self._tickets.get(report.client_order_id)
        if ticket is None:
            return False  # placed elsewhere (web, app): everything is news
        return ticket.state in {TicketState.FILLED, TicketState.REJECTED}

    async def on_resync(self, user_id: int) -> list[FillNotice]:
        """After a gap: compare open orders with what was known and report what changed."""
        known = self._open.get(user_id, {})
        try:
            credentials = await self._keys.credentials(user_id)
            now_open = {o.order_id: o for o in await self._client.open_orders(credentials)}
        except (BinanceError, UserError):  # no key, or Binance down: the next gap will tell
            return []
        notices = [
            _order_notice(user_id, order)
            for order_id, order in now_open.items()
            if order_id in known and order.executed_qty > known[order_id].filled
        ]
        for order_id, was in known.items():
            if order_id not in now_open:
                notices += await self._closed_during_gap(user_id, credentials, order_id, was)
        self._open[user_id] = {
            o.order_id: _Known(o.symbol, o.executed_qty) for o in now_open.values()
        }
        return [n for n in notices if n is not None]

    async def _closed_during_gap(
        self, user_id: int, credentials: ApiCredentials, order_id: int, was: _Known
    ) -> list[FillNotice | None]:
        try:
            order = await self._client.query_order(credentials, was.symbol, order_id=order_id)
        except BinanceError:
            return []
        if order.status == "CANCELED" and self._reported.pop(order_id):
            return []
        return [_order_notice(user_id, order)]


def _kind(report: ExecutionReport) -> str | None:
    if report.execution_type == "TRADE":
        return "filled" if report.status == "FILLED" else "partial"
    if report.execution_type in {"EXPIRED", "TRADE_PREVENTION"}:
        return "expired"
    return _KINDS.get(report.execution_type)


def _notice(user_id: int, kind: str, r: ExecutionReport) -> FillNotice:
    return FillNotice(
        user_id=user_id,
        kind=kind,
        symbol=r.symbol,
        side=r.side,
        order_type=r.order_type,
        order_id=r.order_id,
        quantity=r.quantity,
        filled=r.cumulative_qty,
        price=r.price,
        average_price=r.average_price,
        quote=r.cumulative_quote,
        last_qty=r.last_qty,
        last_price=r.last_price,
        reason=None if r.reject_reason == "NONE" else r.reject_reason,
    )


def _order_notice(user_id: int, order: Order) -> FillNotice | None:
    kind = {
        "FILLED": "filled",
        "PARTIALLY_FILLED": "partial",
        "CANCELED": "cancelled",
        "EXPIRED": "expired",
        "REJECTED": "rejected",
    }.get(order.status)
    if kind is None:
        return None
    return FillNotice(
        user_id=user_id,
        kind=kind,
        symbol=order.symbol,
        side=order.side,
        order_type=order.type,
        order_id=order.order_id,
        quantity=order.orig_qty,
        filled=order.executed_qty,
        price=order.price,
        average_price=order.average_price,
        quote=order.cumulative_quote_qty,
    )
