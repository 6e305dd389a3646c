"""The truth about orders whose answer was lost, and about tickets a restart left in flight.

An order whose answer was lost is looked up by its ticket id (its `newClientOrderId`), never
sent again; when Binance has no record yet the ticket stays UNKNOWN and `OrderWatch` keeps
asking. At start-up, a ticket still CONFIRMING was never sent (SUBMITTED is written before
sending), one SUBMITTED or UNKNOWN is asked about, and a stale DRAFT expires.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from chatbot.errors import UserError
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import BinanceError
from chatbot.health import HealthBoard
from chatbot.services.keys import KeyService, KeyUnreadable
from chatbot.services.order_outcomes import Cause, Outcome, OutcomeKind
from chatbot.services.order_tracker import OrderTracker
from chatbot.services.order_watch import OrderWatch
from chatbot.storage.tickets import (
    UNRESOLVED_STATES,
    Ticket,
    TicketKind,
    TicketRepository,
    TicketState,
)

LOOKUP_DELAYS = (0.2, 0.5, 1.0, 2.0)  # seconds between the first queries after a lost answer


class OrderRecovery:
    """Settles tickets whose fate the confirmation could not tell (built by `OrderService`)."""

    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        tickets: TicketRepository,
        *,
        tracker: OrderTracker,
        watch: OrderWatch,
        health: HealthBoard,
        confirm_ttl: int,
        lookup_delays: Sequence[float] = LOOKUP_DELAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._keys = keys
        self._tickets = tickets
        self._tracker = tracker
        self._watch = watch
        self._health = health
        self._confirm_ttl = confirm_ttl
        self._lookup_delays = tuple(lookup_delays)
        self._clock = clock

    async def resolve_unknown(self, ticket: Ticket, credentials: ApiCredentials) -> Outcome:
        """Find out what became of an order whose answer was lost: query it by the ticket id a
        few times with back-off, never send it again. When Binance has no record yet, the
        ticket stays UNKNOWN and `OrderWatch` keeps asking (a "no such order" proves nothing:
        Binance may match it later)."""
        for delay in (0.0, *self._lookup_delays):
            await asyncio.sleep(delay)
            current = await self._tickets.get(ticket.id)
            if current is not None and current.state not in UNRESOLVED_STATES:
                return await self._settled_elsewhere(current, credentials)
            try:
                order = await self._client.query_order(
                    credentials, ticket.symbol, client_order_id=ticket.id
                )
            except BinanceError:  # -2013 included: not there *yet*
                continue
            return await self._tracker.settle_by_reply(ticket, order, UNRESOLVED_STATES)
        current = await self._tickets.get(ticket.id)
        if current is not None and current.state not in UNRESOLVED_STATES:
            return await self._settled_elsewhere(current, credentials)
        self._watch.start(ticket)
        return Outcome(OutcomeKind.UNKNOWN, ticket)

    async def _settled_elsewhere(self, ticket: Ticket, credentials: ApiCredentials) -> Outcome:
        """The stream settled the ticket while the lookups ran: show the order as it is."""
        try:
            order = await self._client.query_order(
                credentials, ticket.symbol, client_order_id=ticket.id
            )
        except BinanceError:
            return Outcome(OutcomeKind.UNKNOWN, ticket)
        kind = {
            TicketState.OPEN: OutcomeKind.OPEN,
            TicketState.FILLED: OutcomeKind.FILLED,
        }.get(ticket.state, OutcomeKind.ENDED)
        return Outcome(kind, ticket, order=order)

    async def reconcile(self) -> list[Outcome]:
        """At start-up: settle tickets a previous run left in flight, expire stale drafts.
        Returns what the chat must be told now; tickets Binance settles later (or never) are
        handed to `OrderWatch`. Ticket by ticket: one that cannot be settled (its owner's key
        does not open, a bug) is reported and the others are settled all the same."""
        outcomes: list[Outcome] = []
        await self._tracker.prune()
        for ticket in await self._tickets.in_states((TicketState.CONFIRMING,)):
            outcomes += await self._settle_one(self._reconcile_confirming, ticket)
        for ticket in await self._tickets.in_states((TicketState.SUBMITTED,)):
            await self._tickets.move(ticket.id, (TicketState.SUBMITTED,), TicketState.UNKNOWN)
        for ticket in await self._tickets.in_states((TicketState.UNKNOWN,)):
            outcomes += await self._settle_one(self._reconcile_unknown, ticket)
        stale = self._clock() - self._confirm_ttl
        for ticket in await self._tickets.in_states((TicketState.DRAFT,)):
            if ticket.created_at <= stale and await self._tickets.move(
                ticket.id, (TicketState.DRAFT,), TicketState.EXPIRED
            ):
                outcomes.append(Outcome(OutcomeKind.EXPIRED, ticket))
        return outcomes

    async def _settle_one(
        self, settle: Callable[[Ticket], Awaitable[list[Outcome]]], ticket: Ticket
    ) -> list[Outcome]:
        try:
            return await settle(ticket)
        except Exception as exc:
            self._health.failed("reconcile", exc)
            return []

    async def _reconcile_confirming(self, ticket: Ticket) -> list[Outcome]:
        """CONFIRMING after a restart: the run stopped before sending (SUBMITTED is written
        first), so nothing was placed."""
        cause = Cause.RESTARTED_BEFORE_SENDING
        if ticket.kind in (TicketKind.CANCEL_ALL, TicketKind.CANCEL_LIST):
            cause = Cause.RESTARTED_BEFORE_CANCELLING
        if not await self._tickets.move(
            ticket.id, (TicketState.CONFIRMING,), TicketState.REJECTED, detail=cause
        ):
            return []
        return [Outcome(OutcomeKind.NOT_SENT, ticket, cause=cause)]

    async def _reconcile_unknown(self, ticket: Ticket) -> list[Outcome]:
        """Sent by a previous run, fate unknown: ask once now; the watch asks on."""
        try:
            credentials = await self._keys.credentials(ticket.user_id)
            order = await self._client.query_order(
                credentials, ticket.symbol, client_order_id=ticket.id
            )
        except KeyUnreadable as exc:
            # Nobody can ask Binance for this user until the key is set again; the user-data
            # stream's re-read after /setkey settles the ticket then (see OrderTracker.sync).
            return [Outcome(OutcomeKind.UNKNOWN, ticket, reason=exc.message)]
        except (BinanceError, UserError):
            self._watch.start(ticket)
            return [Outcome(OutcomeKind.UNKNOWN, ticket)]
        await self._tracker.observe(ticket.user_id, order, ticket=ticket)
        return []
