"""Orders confirmed in chat: preview, one-tap confirmation, submission, and the truth afterwards.

Nothing reaches Binance before the user confirms a preview, and a preview (a ticket) places at
most one order: the DRAFT -> CONFIRMING step is a single compare-and-set in SQLite, and the order
is sent with the ticket id as `newClientOrderId`. When the answer is lost (timeout, 5xx, -1007)
the order is looked up by that id, never sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from chatbot.errors import UserError
from chatbot.exchange.client import ApiCredentials, BinanceClient, OrderRequest
from chatbot.exchange.errors import BinanceError, OrderNotFound, OrderStatusUnknown
from chatbot.exchange.models import Order
from chatbot.services.fills import RecentlyReported
from chatbot.services.keys import KeyService
from chatbot.services.market import MarketService
from chatbot.services.order_preview import OrderIntent, OrderPreview, OrderPreviewer
from chatbot.storage.tickets import (
    PENDING_STATES,
    Ticket,
    TicketKind,
    TicketRepository,
    TicketState,
)

LOOKUP_DELAYS = (0.2, 0.5, 1.0, 2.0)  # seconds between queries of an order with unknown fate
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class CancelAllPreview:
    ticket: Ticket
    orders: list[Order]
    ttl: int


@dataclass(frozen=True)
class Outcome:
    """What became of a confirmed ticket; `kind` picks the message the chat shows."""

    kind: str  # filled | open | rejected | unknown | repreview | cancelled_all
    ticket: Ticket
    order: Order | None = None
    reason: str | None = None
    preview: OrderPreview | None = None
    cancelled: list[Order] = field(default_factory=list)


@dataclass(frozen=True)
class PressResult:
    """A press's short answer (shown on the phone). `won` is the ticket when this press took
    it (carry it out with `execute`); `outcome` is set when the press settled it at once."""

    answer: str
    outcome: Outcome | None = None
    won: Ticket | None = None


class OrderService:
    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        market: MarketService,
        tickets: TicketRepository,
        *,
        confirm_ttl: int = 30,
        max_slippage_pct: Decimal = Decimal(1),
        max_order_usdt: Decimal | None = None,
        lookup_delays: Sequence[float] = LOOKUP_DELAYS,
        reported: RecentlyReported | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._market = market
        self._tickets = tickets
        self.confirm_ttl = confirm_ttl
        self._slippage = max_slippage_pct
        self._lookup_delays = tuple(lookup_delays)
        self._reported = reported or RecentlyReported()
        self._previewer = OrderPreviewer(
            client, keys, market, tickets, max_order_usdt=max_order_usdt
        )

    # -- preview (built by `OrderPreviewer`) ---------------------------------------------------

    async def preview(self, user_id: int, chat_id: int, intent: OrderIntent) -> OrderPreview:
        """Round and check the order against Binance's rules, price it, and save it as a ticket
        (see `OrderPreviewer.preview`). Nothing is sent to Binance. Raises UserError when a
        rule is broken."""
        return await self._previewer.preview(user_id, chat_id, intent, self.confirm_ttl)

    async def preview_largest(self, ticket_id: str, user_id: int) -> OrderPreview:
        """The button of a preview the balance does not cover: a fresh preview of the largest
        order like it that fits (see `OrderPreviewer.preview_largest`)."""
        return await self._previewer.preview_largest(ticket_id, user_id, self.confirm_ttl)

    async def attach_message(self, ticket_id: str, message_id: int) -> None:
        await self._tickets.attach_message(ticket_id, message_id)

    # -- the buttons -------------------------------------------------------------------------

    async def cancel_ticket(self, ticket_id: str, user_id: int) -> PressResult:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            return PressResult("This preview no longer exists.")
        if ticket.user_id != user_id:
            return PressResult("This is not your order.")
        if await self._tickets.move(ticket_id, (TicketState.DRAFT,), TicketState.CANCELLED):
            return PressResult("Cancelled.", Outcome("cancelled", ticket))
        return PressResult(_lost_answer(ticket.state))

    async def confirm(self, ticket_id: str, user_id: int) -> PressResult:
        """The Confirm button: at most one press per ticket gets past the compare-and-set."""
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            return PressResult("This preview no longer exists: send the command again.")
        if ticket.user_id != user_id:
            return PressResult("This is not your order.")
        fresh_after = time.time() - self.confirm_ttl
        if not await self._tickets.claim(ticket_id, user_id, fresh_after):
            return await self._explain_lost_press(ticket_id, fresh_after)
        if ticket.kind is TicketKind.CANCEL_ALL:
            return PressResult("Cancelling…", won=ticket)
        return PressResult("Placing the order…", won=ticket)

    async def execute(self, ticket: Ticket) -> Outcome:
        """Carry out a ticket that `confirm` handed to this caller (and to no other)."""
        if ticket.kind is TicketKind.CANCEL_ALL:
            return await self._cancel_all(ticket)
        return await self._submit(ticket)

    async def _explain_lost_press(self, ticket_id: str, fresh_after: float) -> PressResult:
        ticket = await self._tickets.get(ticket_id)
        assert ticket is not None
        if ticket.state is TicketState.DRAFT and ticket.created_at <= fresh_after:
            if await self._tickets.move(ticket_id, (TicketState.DRAFT,), TicketState.EXPIRED):
                return PressResult("Expired: send the command again.", Outcome("expired", ticket))
            ticket = await self._tickets.get(ticket_id) or ticket
        return PressResult(_lost_answer(ticket.state))

    async def _submit(self, ticket: Ticket) -> Outcome:
        credentials = await self._keys.credentials(ticket.user_id)
        if ticket.order_type == "MARKET" and (repreview := await self._slipped(ticket)):
            return repreview
        await self._tickets.move(ticket.id, (TicketState.CONFIRMING,), TicketState.SUBMITTED)
        request = OrderRequest(
            ticket.symbol,
            ticket.side or "",
            ticket.order_type or "",
            quantity=ticket.quantity,
            quote_order_qty=ticket.quote_quantity,
            price=ticket.price,
            time_in_force="GTC" if ticket.order_type == "LIMIT" else None,
            client_order_id=ticket.id,
        )
        try:
            order = await self._client.place_order(credentials, request)
        except OrderStatusUnknown:
            await self._tickets.move(ticket.id, (TicketState.SUBMITTED,), TicketState.UNKNOWN)
            return await self.resolve_unknown(ticket, credentials)
        except BinanceError as exc:
            return await self._rejected(ticket, exc.user_message, (TicketState.SUBMITTED,))
        return await self._settle(ticket, order, (TicketState.SUBMITTED,))

    async def _slipped(self, ticket: Ticket) -> Outcome | None:
        """A market order whose price moved more than the allowed slippage against the user
        since the preview is not sent; the user gets a fresh preview instead."""
        book = await self._client.book_ticker(ticket.symbol)
        before = ticket.preview_price or Decimal(0)
        limit = self._slippage / HUNDRED
        if ticket.side == "BUY":
            moved = book.ask_price > before * (1 + limit)
        else:
            moved = book.bid_price < before * (1 - limit)
        if not moved:
            return None
        await self._tickets.move(ticket.id, (TicketState.CONFIRMING,), TicketState.EXPIRED)
        intent = OrderIntent(
            side=ticket.side or "BUY",
            symbol=ticket.symbol,
            amount=ticket.quote_quantity or ticket.quantity or Decimal(0),
            in_quote=ticket.quote_quantity is not None,
        )
        fresh = await self.preview(ticket.user_id, ticket.chat_id, intent)
        return Outcome("repreview", ticket, preview=fresh)

    async def _settle(
        self, ticket: Ticket, order: Order, from_states: tuple[TicketState, ...]
    ) -> Outcome:
        if order.status in {"NEW", "PARTIALLY_FILLED", "PENDING_NEW"}:
            await self._tickets.move(
                ticket.id, from_states, TicketState.OPEN, order_id=order.order_id
            )
            return Outcome("open", ticket, order=order)
        if order.executed_qty > 0:
            await self._tickets.move(
                ticket.id, from_states, TicketState.FILLED, order_id=order.order_id
            )
            return Outcome("filled", ticket, order=order)
        reason = f"the order ended {order.status.lower()} without a fill"
        return await self._rejected(ticket, reason, from_states, order)

    async def _rejected(
        self,
        ticket: Ticket,
        reason: str,
        from_states: tuple[TicketState, ...],
        order: Order | None = None,
    ) -> Outcome:
        await self._tickets.move(ticket.id, from_states, TicketState.REJECTED, detail=reason)
        return Outcome("rejected", ticket, order=order, reason=reason)

    # -- unknown outcomes and restarts -------------------------------------------------------

    async def resolve_unknown(self, ticket: Ticket, credentials: ApiCredentials) -> Outcome:
        """Find out what became of an order whose answer was lost: query it by the ticket id a
        few times with back-off. Never sends it again. "Not placed" is concluded only when
        Binance, asked last and latest, says it has no such order."""
        from_states = (*PENDING_STATES,)
        not_found = False
        for delay in (0.0, *self._lookup_delays):
            await asyncio.sleep(delay)
            try:
                order = await self._client.query_order(
                    credentials, ticket.symbol, client_order_id=ticket.id
                )
            except OrderNotFound:
                not_found = True
                continue
            except BinanceError:
                not_found = False
                continue
            return await self._settle(ticket, order, from_states)
        if not_found:
            reason = "Binance has no such order: it was not placed"
            return await self._rejected(ticket, reason, from_states)
        await self._tickets.move(ticket.id, from_states, TicketState.UNKNOWN)
        return Outcome("unknown", ticket)

    async def reconcile(self) -> list[Outcome]:
        """At start-up: settle tickets a previous run left in flight, expire stale drafts."""
        outcomes: list[Outcome] = []
        for ticket in await self._tickets.in_states(PENDING_STATES):
            try:
                credentials = await self._keys.credentials(ticket.user_id)
            except UserError:
                continue  # the key is gone; nothing can be checked
            outcomes.append(await self.resolve_unknown(ticket, credentials))
        stale = time.time() - self.confirm_ttl
        for ticket in await self._tickets.in_states((TicketState.DRAFT,)):
            if ticket.created_at <= stale and await self._tickets.move(
                ticket.id, (TicketState.DRAFT,), TicketState.EXPIRED
            ):
                outcomes.append(Outcome("expired", ticket))
        return outcomes

    async def tickets(self, ticket_ids: list[str]) -> dict[str, Ticket]:
        return await self._tickets.find_by_id(ticket_ids)

    # -- cancelling orders -------------------------------------------------------------------

    async def cancel_order(self, user_id: int, order_id: int) -> Order:
        """Cancel one of the user's open orders by Binance's id (the symbol is looked up)."""
        credentials = await self._keys.credentials(user_id)
        for order in await self._client.open_orders(credentials):
            if order.order_id == order_id:
                self._reported.add(order_id)  # this reply tells it; the stream need not
                return await self._client.cancel_order(credentials, order.symbol, order_id=order_id)
        raise UserError(f"You have no open order #{order_id}. /orders lists them.")

    async def preview_cancel_all(self, user_id: int, chat_id: int, name: str) -> CancelAllPreview:
        rules = await self._market.resolve(name)
        credentials = await self._keys.credentials(user_id)
        orders = await self._client.open_orders(credentials, rules.symbol)
        if not orders:
            raise UserError(f"You have no open orders on {rules.symbol}.")
        ticket = await self._tickets.create(
            user_id=user_id, chat_id=chat_id, kind=TicketKind.CANCEL_ALL, symbol=rules.symbol
        )
        return CancelAllPreview(ticket, orders, self.confirm_ttl)

    async def _cancel_all(self, ticket: Ticket) -> Outcome:
        credentials = await self._keys.credentials(ticket.user_id)
        for order in await self._client.open_orders(credentials, ticket.symbol):
            self._reported.add(order.order_id)  # the confirmation tells these
        try:
            cancelled = await self._client.cancel_open_orders(credentials, ticket.symbol)
        except BinanceError as exc:
            return await self._rejected(ticket, exc.user_message, (TicketState.CONFIRMING,))
        await self._tickets.move(ticket.id, (TicketState.CONFIRMING,), TicketState.DONE)
        return Outcome("cancelled_all", ticket, cancelled=cancelled)


def _lost_answer(state: TicketState) -> str:
    """The short answer for a press that did not win the ticket."""
    return {
        TicketState.CONFIRMING: "Already being placed.",
        TicketState.SUBMITTED: "Already placed.",
        TicketState.FILLED: "Already placed (filled).",
        TicketState.OPEN: "Already placed (open).",
        TicketState.UNKNOWN: "Already sent; its status is being checked.",
        TicketState.REJECTED: "This order was rejected; send the command again.",
        TicketState.CANCELLED: "This preview was cancelled; send the command again.",
        TicketState.EXPIRED: "Expired: send the command again.",
        TicketState.DONE: "Already done.",
    }.get(state, "This preview is no longer active.")
