"""Cancelling orders on Binance: one by its id (/cancel 123), or all on a symbol after a
confirmed preview (/cancel BTCUSDT all). A leg of an order list (OCO, OTOCO) cannot be
cancelled alone on Binance (its list goes with it), so /cancel on a leg previews the whole
list and cancels it once confirmed. While a cancel is in flight, the stream's CANCELED and
list events wait for its reply (`OrderTracker.cancelling`, `cancelling_list`), so the chat
tells each cancel once.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.errors import UserError, present
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import BinanceError, OrderNotFound
from chatbot.exchange.models import Order
from chatbot.exchange.weight_governor import trading
from chatbot.services.keys import KeyService
from chatbot.services.market import MarketService
from chatbot.services.open_orders import OpenOrderMirror
from chatbot.services.order_outcomes import Outcome, OutcomeKind
from chatbot.services.order_tracker import OrderTracker
from chatbot.storage.tickets import Ticket, TicketKind, TicketRepository, TicketState


@dataclass(frozen=True)
class CancelListPreview:
    """A ticket to cancel an order list; `legs` are its orders open now (an OTOCO's pending
    exits are not on the book yet, and go with it)."""

    ticket: Ticket
    order_list_id: int
    legs: list[Order]
    ttl: int


@dataclass(frozen=True)
class CancelAllPreview:
    ticket: Ticket
    orders: list[Order]
    ttl: int


class OrderCancels:
    """Cancels users' open orders (built by `OrderService`)."""

    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        market: MarketService,
        tickets: TicketRepository,
        *,
        tracker: OrderTracker,
        open_orders: OpenOrderMirror,
        confirm_ttl: int,
    ) -> None:
        self._client = client
        self._keys = keys
        self._market = market
        self._tickets = tickets
        self._tracker = tracker
        self._open_orders = open_orders
        self._confirm_ttl = confirm_ttl

    async def cancel_order(
        self, user_id: int, chat_id: int, order_id: int
    ) -> Order | CancelListPreview:
        """Cancel one of the user's open orders by Binance's id (the symbol is looked up); a
        leg of an order list gets a preview of cancelling its list instead."""
        with trading():  # ahead of users' reads
            return await self._cancel_order(user_id, chat_id, order_id)

    async def _cancel_order(
        self, user_id: int, chat_id: int, order_id: int
    ) -> Order | CancelListPreview:
        credentials = await self._keys.credentials(user_id)
        missing = UserError(f"You have no open order #{order_id}. /orders lists them.")
        # The symbol of an order the bot follows is known: no 80-weight openOrders for it.
        known = await self._tracker.open_order(user_id, order_id)
        symbol, list_id = (known.symbol, known.order_list_id) if known else (None, None)
        if symbol is None:
            listed = await self._open_orders.open_orders(user_id, credentials)
            found = [o for o in listed if o.order_id == order_id]
            if not found:
                raise missing
            symbol, list_id = found[0].symbol, found[0].order_list_id
        if list_id is not None:
            return await self._preview_cancel_list(user_id, chat_id, credentials, symbol, list_id)
        async with self._tracker.cancelling([order_id]):
            try:
                cancelled = await self._client.cancel_order(credentials, symbol, order_id=order_id)
            except OrderNotFound:  # gone since the bot last saw it (a refusal is told as is)
                raise missing from None
            await self._tracker.told_by_reply(user_id, [cancelled])
        return cancelled

    async def _preview_cancel_list(
        self, user_id: int, chat_id: int, credentials: ApiCredentials, symbol: str, list_id: int
    ) -> CancelListPreview:
        listed = await self._open_orders.open_orders(user_id, credentials, symbol)
        legs = [o for o in listed if o.order_list_id == list_id]
        ticket = await self._tickets.create(
            user_id=user_id,
            chat_id=chat_id,
            kind=TicketKind.CANCEL_LIST,
            symbol=symbol,
            order_id=list_id,
        )
        return CancelListPreview(ticket, list_id, legs, self._confirm_ttl)

    async def cancel_list(self, ticket: Ticket) -> Outcome:
        """Carry out a confirmed cancel-list ticket (its CONFIRMING step was won by the
        caller): one DELETE orderList; its answer tells every leg, so the events it causes
        find nothing new to tell."""
        list_id = present(ticket.order_id, f"the order list of ticket {ticket.id}")
        credentials = await self._keys.credentials(ticket.user_id)
        async with self._tracker.cancelling_list(ticket.symbol, list_id):
            try:
                cancelled = await self._client.cancel_order_list(
                    credentials, ticket.symbol, order_list_id=list_id
                )
            except BinanceError as exc:
                await self._tickets.move(
                    ticket.id, (TicketState.CONFIRMING,), TicketState.REJECTED, detail=str(exc)
                )
                reason = exc.user_message
                if isinstance(exc, OrderNotFound):
                    reason = f"order list #{list_id} is no longer open; /orders shows what is"
                return Outcome(OutcomeKind.REJECTED, ticket, reason=reason)
            await self._tracker.list_told_by_reply(ticket.user_id, cancelled)
        await self._tickets.move(ticket.id, (TicketState.CONFIRMING,), TicketState.DONE)
        return Outcome(OutcomeKind.CANCELLED_LIST, ticket, cancelled=cancelled.reports)

    async def preview_cancel_all(self, user_id: int, chat_id: int, name: str) -> CancelAllPreview:
        rules = await self._market.resolve(name)
        credentials = await self._keys.credentials(user_id)
        orders = await self._open_orders.open_orders(user_id, credentials, rules.symbol)
        if not orders:
            raise UserError(f"You have no open orders on {rules.symbol}.")
        ticket = await self._tickets.create(
            user_id=user_id, chat_id=chat_id, kind=TicketKind.CANCEL_ALL, symbol=rules.symbol
        )
        return CancelAllPreview(ticket, orders, self._confirm_ttl)

    async def cancel_all(self, ticket: Ticket) -> Outcome:
        """Carry out a confirmed cancel-all ticket (its CONFIRMING step was won by the caller)."""
        credentials = await self._keys.credentials(ticket.user_id)
        open_now = await self._open_orders.open_orders(ticket.user_id, credentials, ticket.symbol)
        async with self._tracker.cancelling(o.order_id for o in open_now):
            try:
                cancelled = await self._client.cancel_open_orders(credentials, ticket.symbol)
            except BinanceError as exc:
                await self._tickets.move(
                    ticket.id, (TicketState.CONFIRMING,), TicketState.REJECTED, detail=str(exc)
                )
                return Outcome(OutcomeKind.REJECTED, ticket, reason=exc.user_message)
            await self._tracker.told_by_reply(ticket.user_id, cancelled)
        await self._tickets.move(ticket.id, (TicketState.CONFIRMING,), TicketState.DONE)
        return Outcome(OutcomeKind.CANCELLED_ALL, ticket, cancelled=cancelled)
