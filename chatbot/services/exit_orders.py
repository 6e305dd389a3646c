"""Placing a confirmed exit list (an OCO on coins held, or a /buy's OTOCO), and the truth
about one whose answer was lost.

The same rules as a single order's (`orders.py`): SUBMITTED is written before sending, so a
ticket still CONFIRMING after a crash was never sent; the list goes out once, its
`listClientOrderId` the ticket id; a lost answer (OrderStatusUnknown) is looked up by that id
with `order_list`, never sent again; "not placed" is said only when Binance's error code
proves it. A single stop or take-profit (TicketKind.EXIT) is an ordinary order and goes
through `OrderService._submit` (see `exit_request`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TypeVar

from chatbot.errors import UserError, present
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import (
    BinanceError,
    ExchangeUnavailable,
    OrderStatusUnknown,
    RateLimited,
)
from chatbot.exchange.grid import round_quantity
from chatbot.exchange.models import Order
from chatbot.exchange.order_lists import ListLeg, OcoRequest, OrderList, OtocoRequest
from chatbot.exchange.request_types import OrderRequest
from chatbot.health import HealthBoard
from chatbot.services.exit_plan import ExitLeg, LegType
from chatbot.services.keys import KeyService, KeyUnreadable
from chatbot.services.order_outcomes import Cause, EntryExits, Outcome, OutcomeKind, not_placed
from chatbot.storage.database import StorageError
from chatbot.storage.retry import until_written
from chatbot.storage.tickets import Ticket, TicketKind, TicketRepository, TicketState

log = logging.getLogger(__name__)
T = TypeVar("T")
LIST_PENDING = (TicketState.SUBMITTED, TicketState.UNKNOWN)


class ExitOrders:
    """Places list tickets and finds lost ones (built by `OrderService`)."""

    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        tickets: TicketRepository,
        *,
        health: HealthBoard,
        lookup_delays: Sequence[float],
    ) -> None:
        self._client = client
        self._keys = keys
        self._tickets = tickets
        self._health = health
        self._lookup_delays = tuple(lookup_delays)

    async def place(self, ticket: Ticket) -> Outcome:
        """Send the list of a ticket that `OrderService.confirm` handed to this caller."""
        try:
            credentials = await self._keys.credentials(ticket.user_id)
        except (BinanceError, UserError) as exc:
            return await not_placed(
                self._tickets, ticket, OutcomeKind.NOT_SENT, exc.user_message, health=self._health
            )
        # Written before sending: a ticket still CONFIRMING after a crash was never sent.
        try:
            await self._tickets.move(ticket.id, (TicketState.CONFIRMING,), TicketState.SUBMITTED)
        except StorageError as exc:
            self._health.failed("orders", exc)
            return Outcome(OutcomeKind.NOT_SENT, ticket, cause=Cause.DATABASE_BUSY)
        try:
            placed = await self._send(credentials, ticket)
        except OrderStatusUnknown as exc:
            log.info("ticket %s: order list answer lost (%s); looking it up", ticket.id, exc.reason)
            await self._write(
                lambda: self._tickets.move(ticket.id, (TicketState.SUBMITTED,), TicketState.UNKNOWN)
            )
            return await self.resolve_unknown(ticket, credentials)
        except (ExchangeUnavailable, RateLimited) as exc:  # refused before leaving the bot
            return await not_placed(
                self._tickets, ticket, OutcomeKind.NOT_SENT, exc.user_message, health=self._health
            )
        except BinanceError as exc:  # an error code that proves the list was refused
            return await not_placed(
                self._tickets, ticket, OutcomeKind.REJECTED, exc.user_message, health=self._health
            )
        return await self._settled(ticket, placed, (TicketState.SUBMITTED,))

    async def resolve_unknown(self, ticket: Ticket, credentials: ApiCredentials) -> Outcome:
        """Look the list up by its `listClientOrderId` a few times, never send it again. With
        no record yet the ticket stays UNKNOWN: the next start-up asks again (`reconcile`)."""
        for delay in (0.0, *self._lookup_delays):
            await asyncio.sleep(delay)
            try:
                found = await self._client.order_list(credentials, list_client_order_id=ticket.id)
            except BinanceError:
                continue
            if found is not None:
                return await self._settled(ticket, found, LIST_PENDING)
        return Outcome(OutcomeKind.UNKNOWN, ticket)

    async def reconcile(self, ticket: Ticket) -> list[Outcome]:
        """A list ticket a previous run left UNKNOWN: ask once; say so only when found."""
        try:
            credentials = await self._keys.credentials(ticket.user_id)
            found = await self._client.order_list(credentials, list_client_order_id=ticket.id)
        except (BinanceError, UserError):
            return []
        if found is None:
            return []
        return [await self._settled(ticket, found, LIST_PENDING)]

    # -- a market entry's OCO, placed by the bot once the entry has filled --------------------

    async def follow_entry(
        self, ticket: Ticket, entry: Order | None = None, *, stale: bool = False
    ) -> EntryExits | None:
        """Place the OCO of a filled market entry (ENTRY_OCO), once: the placement is claimed
        on the ticket first, and the list's `listClientOrderId` is derived from the ticket id,
        so a list already sent is found, not sent again. None when another caller has it
        (or had it) in hand."""
        if not await self._tickets.claim_exits(ticket.id, stale=stale):
            return None
        list_id = exits_list_id(ticket.id)
        try:
            credentials = await self._keys.credentials(ticket.user_id)
            found = await self._client.order_list(credentials, list_client_order_id=list_id)
            if found is not None:
                return await self._exits_placed(ticket, found)
            if entry is None:
                entry = await self._client.query_order(
                    credentials, ticket.symbol, client_order_id=ticket.id
                )
            rules = await self._client.symbol_rules(ticket.symbol)
            request = _entry_oco(ticket, entry, rules.base_asset, list_id)
            request = dataclasses.replace(request, quantity=round_quantity(rules, request.quantity))
            placed = await self._client.place_oco(credentials, request)
        except OrderStatusUnknown:
            return await self._find_exits(ticket, credentials, list_id)
        except (ExchangeUnavailable, RateLimited, KeyUnreadable) as exc:
            log.info("ticket %s: exits not sent (%s); retried at start-up", ticket.id, exc)
            return EntryExits()
        except (BinanceError, UserError) as exc:
            await self._write(lambda: self._tickets.set_exits(ticket.id, 0))
            return EntryExits(refused=exc.user_message)
        return await self._exits_placed(ticket, placed)

    async def follow_entries(self) -> list[Outcome]:
        """At start-up: the OCO of every filled market entry a stopped run left without it."""
        outcomes = []
        for ticket in await self._tickets.entries_without_exits():
            exits = await self.follow_entry(ticket, stale=True)
            if exits is not None:
                outcomes.append(Outcome(OutcomeKind.FILLED, ticket, exits=exits))
        return outcomes

    async def _find_exits(
        self, ticket: Ticket, credentials: ApiCredentials, list_id: str
    ) -> EntryExits:
        for delay in (0.0, *self._lookup_delays):
            await asyncio.sleep(delay)
            try:
                found = await self._client.order_list(credentials, list_client_order_id=list_id)
            except BinanceError:
                continue
            if found is not None:
                return await self._exits_placed(ticket, found)
        return EntryExits()  # still claimed (-1): the next start-up asks again

    async def _exits_placed(self, ticket: Ticket, placed: OrderList) -> EntryExits:
        await self._write(lambda: self._tickets.set_exits(ticket.id, placed.order_list_id))
        return EntryExits(order_list=placed)

    async def _send(self, credentials: ApiCredentials, ticket: Ticket) -> OrderList:
        take_profit, stop_loss = _pair(ticket)
        quantity = present(take_profit.quantity, "an exit's quantity")
        if ticket.kind is TicketKind.OTOCO:
            return await self._client.place_otoco(
                credentials,
                OtocoRequest(
                    symbol=ticket.symbol,
                    working_type="LIMIT",
                    working_side=str(ticket.side),
                    working_price=present(ticket.price, "an OTOCO's entry price"),
                    working_quantity=present(ticket.quantity, "an OTOCO's entry quantity"),
                    working_time_in_force="GTC",
                    pending_side="SELL",
                    pending_quantity=quantity,
                    pending_above=list_leg(take_profit),
                    pending_below=list_leg(stop_loss),
                    list_client_order_id=ticket.id,
                ),
            )
        request = OcoRequest(
            ticket.symbol, "SELL", quantity, list_leg(take_profit), list_leg(stop_loss), ticket.id
        )
        return await self._client.place_oco(credentials, request)

    async def _settled(
        self, ticket: Ticket, placed: OrderList, from_states: tuple[TicketState, ...]
    ) -> Outcome:
        """Binance has the list: the ticket is OPEN with its id, whatever the database says
        first (written until it takes it)."""
        await until_written(
            lambda: self._tickets.list_placed(ticket.id, from_states, placed.order_list_id),
            part="orders",
            health=self._health,
        )
        current = await self._tickets.get(ticket.id) or ticket
        return Outcome(OutcomeKind.OPEN, current, order_list=placed)

    async def _write(self, write: Callable[[], Awaitable[T]]) -> T:
        """A write about a list already sent: retried until the database takes it."""
        return await until_written(write, part="orders", health=self._health)


def exits_list_id(ticket_id: str) -> str:
    """The `listClientOrderId` of a market entry's OCO: the ticket's, so always the same."""
    return f"{ticket_id}-x"


def _entry_oco(ticket: Ticket, entry: Order, base: str, list_id: str) -> OcoRequest:
    """The OCO for what the entry left in the account: its fill less the fee taken in the
    coin bought, at most what the preview planned (and showed)."""
    if entry.status != "FILLED":
        raise UserError(f"the buy is {entry.status.lower()}, not filled")
    take_profit, stop_loss = _pair(ticket)
    held = entry.executed_qty
    if entry.fills:
        held -= sum((f.commission for f in entry.fills if f.commission_asset == base), Decimal(0))
    quantity = min(held, take_profit.quantity)
    return OcoRequest(
        ticket.symbol, "SELL", quantity, list_leg(take_profit), list_leg(stop_loss), list_id
    )


def _pair(ticket: Ticket) -> tuple[ExitLeg, ExitLeg]:
    roles = {str(leg.role): leg for leg in ticket.legs}
    return roles["TAKE_PROFIT"], roles["STOP_LOSS"]


def list_leg(leg: ExitLeg) -> ListLeg:
    """A plan's leg as an order list takes it (a *_LIMIT leg goes GTC)."""
    return ListLeg(
        type=str(leg.order_type),
        price=leg.limit_price,
        stop_price=leg.stop_price,
        trailing_delta=leg.trailing_bps,
    )


def exit_request(ticket: Ticket) -> OrderRequest:
    """A single stop-loss or take-profit ticket (EXIT) as one order, the ticket id its
    `newClientOrderId`."""
    [leg] = ticket.legs
    limited = leg.limit_price is not None and leg.order_type is not LegType.LIMIT_MAKER
    return OrderRequest(
        ticket.symbol,
        str(leg.side),
        str(leg.order_type),
        quantity=leg.quantity,
        price=leg.limit_price,
        time_in_force="GTC" if limited else None,
        client_order_id=ticket.id,
        stop_price=leg.stop_price,
        trailing_delta=leg.trailing_bps,
    )
