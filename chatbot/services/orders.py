"""Orders confirmed in chat: one-tap confirmation and submission of a previewed ticket.

Nothing reaches Binance before the user confirms a preview, and a preview (a ticket) places at
most one order: the DRAFT -> CONFIRMING step is a single compare-and-set in SQLite, and the order
is sent with the ticket id as `newClientOrderId`. When the answer is lost (timeout, 5xx, -1007,
a proxy's page) the order is looked up by that id, never sent again; "not placed" is said only
when Binance's error code proves it, or when the request provably never left the bot.

`OrderService` is what the handlers call; the preview is built by `OrderPreviewer` (pricing,
rounding, caps), the truth after a lost answer or a restart by `OrderRecovery`, and cancels of
open orders by `OrderCancels`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TypeVar

from chatbot.errors import UserError, present
from chatbot.exchange.client import BinanceClient, OrderRequest
from chatbot.exchange.errors import (
    BinanceError,
    ExchangeUnavailable,
    FilterFailure,
    InvalidSymbol,
    OrderStatusUnknown,
    RateLimited,
)
from chatbot.exchange.models import Order
from chatbot.exchange.weight_governor import trading
from chatbot.health import HealthBoard
from chatbot.services.account_mirror import AccountMirror
from chatbot.services.exit_orders import ExitOrders, exit_request
from chatbot.services.exit_preview import ExitPreview, ExitPreviewer
from chatbot.services.keys import KeyService
from chatbot.services.market import MarketService
from chatbot.services.open_orders import OpenOrderMirror
from chatbot.services.order_cancels import CancelAllPreview, CancelListPreview, OrderCancels
from chatbot.services.order_intent import ProtectIntent
from chatbot.services.order_outcomes import (
    Cause,
    Outcome,
    OutcomeKind,
    PressKind,
    PressResult,
    not_placed,
)
from chatbot.services.order_preview import OrderIntent, OrderPreview, OrderPreviewer
from chatbot.services.order_recovery import LOOKUP_DELAYS, OrderRecovery
from chatbot.services.order_tracker import OrderTracker
from chatbot.services.order_watch import OrderWatch
from chatbot.side import Side
from chatbot.storage.database import StorageError
from chatbot.storage.retry import until_written
from chatbot.storage.tickets import (
    Ticket,
    TicketKind,
    TicketRepository,
    TicketState,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

HUNDRED = Decimal(100)
RULE_CODES = (-1013, -1121)  # a filter failed, or the symbol is unknown: re-read the rules


class OrderService:
    """What the order handlers call: the preview, the buttons, and what follows a Confirm."""

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
        tracker: OrderTracker,
        watch: OrderWatch,
        balances: AccountMirror,
        open_orders: OpenOrderMirror,
        lookup_delays: Sequence[float] = LOOKUP_DELAYS,
        health: HealthBoard | None = None,
        clock: Callable[[], float] = time.time,
        stop_limit_distance_pct: Decimal = Decimal("0.5"),
    ) -> None:
        self._client = client
        self._health = health or HealthBoard()
        self._keys = keys
        self._market = market
        self._tickets = tickets
        self._confirm_ttl = confirm_ttl
        self._slippage = max_slippage_pct
        self._clock = clock  # the tickets' clock: a ticket's age is read against it
        self._tracker = tracker
        self._exit_orders = ExitOrders(
            client, keys, tickets, health=self._health, lookup_delays=lookup_delays
        )
        self._recovery = OrderRecovery(
            client,
            keys,
            tickets,
            tracker=tracker,
            watch=watch,
            health=self._health,
            confirm_ttl=confirm_ttl,
            lookup_delays=lookup_delays,
            clock=clock,
            lists=self._exit_orders,
        )
        self._cancels = OrderCancels(
            client,
            keys,
            market,
            tickets,
            tracker=tracker,
            open_orders=open_orders,
            confirm_ttl=confirm_ttl,
        )
        self._previewer = OrderPreviewer(
            client,
            keys,
            market,
            tickets,
            balances=balances,
            open_orders=open_orders,
            max_order_usdt=max_order_usdt,
        )
        self._exits = ExitPreviewer(
            client,
            keys,
            market,
            tickets,
            balances=balances,
            open_orders=open_orders,
            orders=self._previewer,
            limit_distance_pct=stop_limit_distance_pct,
        )

    # -- preview (built by `OrderPreviewer`) ---------------------------------------------------

    async def preview(self, user_id: int, chat_id: int, intent: OrderIntent) -> OrderPreview:
        """Round and check the order against Binance's rules, price it, and save it as a ticket
        (see `OrderPreviewer.preview`). Nothing is sent to Binance. Raises UserError when a
        rule is broken."""
        return await self._previewer.preview(user_id, chat_id, intent, self._confirm_ttl)

    async def preview_largest(self, ticket_id: str, user_id: int) -> OrderPreview:
        """The button of a preview the balance does not cover: a fresh preview of the largest
        order like it that fits (see `OrderPreviewer.preview_largest`)."""
        return await self._previewer.preview_largest(ticket_id, user_id, self._confirm_ttl)

    async def preview_protect(
        self, user_id: int, chat_id: int, intent: ProtectIntent
    ) -> ExitPreview:
        """/protect, /sl, /tp: exits on coins held, checked and saved as a ticket (see
        `ExitPreviewer.preview_protect`). Raises UserError when a rule is broken."""
        return await self._exits.preview_protect(user_id, chat_id, intent, self._confirm_ttl)

    async def preview_entry(self, user_id: int, chat_id: int, intent: OrderIntent) -> ExitPreview:
        """/buy ... @ PRICE tp ... sl ...: an OTOCO ticket (see `ExitPreviewer.preview_entry`)."""
        return await self._exits.preview_entry(user_id, chat_id, intent, self._confirm_ttl)

    @property
    def ticket_repository(self) -> TicketRepository:
        """The tickets this service moves. Public for the tests that leave a ticket where a
        crash would (CONFIRMING, SUBMITTED, UNKNOWN) and read a ticket's state afterwards."""
        return self._tickets

    async def attach_message(self, ticket_id: str, message_id: int) -> None:
        await self._tickets.attach_message(ticket_id, message_id)

    # -- the buttons -------------------------------------------------------------------------

    async def cancel_ticket(self, ticket_id: str, user_id: int) -> PressResult:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            return PressResult(PressKind.GONE)
        if ticket.user_id != user_id:
            return PressResult(PressKind.NOT_OWNER)
        if await self._tickets.move(ticket_id, (TicketState.DRAFT,), TicketState.CANCELLED):
            return PressResult(PressKind.CANCELLED, Outcome(OutcomeKind.CANCELLED, ticket))
        return PressResult(PressKind.LOST, state=ticket.state)

    async def confirm(self, ticket_id: str, user_id: int) -> PressResult:
        """The Confirm button: at most one press per ticket gets past the compare-and-set."""
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            return PressResult(PressKind.GONE)
        if ticket.user_id != user_id:
            return PressResult(PressKind.NOT_OWNER)
        fresh_after = self._clock() - self._confirm_ttl
        if not await self._tickets.claim(ticket_id, user_id, fresh_after):
            return await self._explain_lost_press(ticket_id, fresh_after)
        return PressResult(PressKind.WON, won=ticket)

    async def execute(self, ticket: Ticket) -> Outcome:
        """Carry out a ticket that `confirm` handed to this caller (and to no other). Its calls
        to Binance (the slippage check's quote included) go ahead of users' reads."""
        with trading():
            if ticket.kind is TicketKind.CANCEL_ALL:
                return await self._cancels.cancel_all(ticket)
            if ticket.kind is TicketKind.CANCEL_LIST:
                return await self._cancels.cancel_list(ticket)
            if ticket.is_list:
                return await self._exit_orders.place(ticket)
            outcome = await self._submit(ticket)
            if ticket.kind is TicketKind.ENTRY_OCO and outcome.kind is OutcomeKind.FILLED:
                exits = await self._exit_orders.follow_entry(ticket, outcome.order)
                outcome = dataclasses.replace(outcome, exits=exits)
            return outcome

    async def _explain_lost_press(self, ticket_id: str, fresh_after: float) -> PressResult:
        ticket = present(await self._tickets.get(ticket_id), f"ticket {ticket_id}")
        if ticket.state is TicketState.DRAFT and ticket.created_at <= fresh_after:
            if await self._tickets.move(ticket_id, (TicketState.DRAFT,), TicketState.EXPIRED):
                return PressResult(PressKind.EXPIRED, Outcome(OutcomeKind.EXPIRED, ticket))
            ticket = await self._tickets.get(ticket_id) or ticket
        return PressResult(PressKind.LOST, state=ticket.state)

    async def _submit(self, ticket: Ticket) -> Outcome:
        try:
            credentials = await self._keys.credentials(ticket.user_id)
            if ticket.order_type == "MARKET" and (repreview := await self._slipped(ticket)):
                return repreview
        except (BinanceError, UserError) as exc:  # before sending: nothing left the bot
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
            order = await self._client.place_order(credentials, _request(ticket))
        except OrderStatusUnknown as exc:
            log.info("ticket %s: answer lost (%s); looking it up", ticket.id, exc.reason)
            await self._written(
                lambda: self._tickets.move(ticket.id, (TicketState.SUBMITTED,), TicketState.UNKNOWN)
            )
            return await self._recovery.resolve_unknown(ticket, credentials)
        except (ExchangeUnavailable, RateLimited) as exc:  # refused before leaving the bot
            return await not_placed(
                self._tickets, ticket, OutcomeKind.NOT_SENT, exc.user_message, health=self._health
            )
        except BinanceError as exc:  # an error code that proves the order was refused
            rules = isinstance(exc, FilterFailure | InvalidSymbol) or exc.code in RULE_CODES
            if rules and ticket.kind is TicketKind.ORDER:
                return await self._rules_changed(ticket, exc)
            return await not_placed(
                self._tickets, ticket, OutcomeKind.REJECTED, exc.user_message, health=self._health
            )
        # Binance has answered: the order exists whatever the database says. Its outcome is
        # written when the database takes it, however long that is, then shown.
        return await self._written(
            lambda: self._tracker.settle_by_reply(ticket, order, (TicketState.SUBMITTED,))
        )

    async def _written(self, write: Callable[[], Awaitable[T]]) -> T:
        """A write about an order already sent: retried until the database takes it."""
        return await until_written(write, part="orders", health=self._health)

    async def _rules_changed(self, ticket: Ticket, error: BinanceError) -> Outcome:
        """Binance refused the order by a filter or the symbol: its rules may have changed
        since the preview. Re-read them and preview again once, so the user sees the rule."""
        await not_placed(
            self._tickets, ticket, OutcomeKind.REJECTED, error.user_message, health=self._health
        )
        await self._market.refresh_rules()
        try:
            fresh = await self.preview(ticket.user_id, ticket.chat_id, _intent(ticket))
        except UserError as exc:
            return Outcome(OutcomeKind.REJECTED, ticket, reason=exc.message)
        return Outcome(OutcomeKind.REPREVIEW, ticket, preview=fresh, reason=error.user_message)

    async def _slipped(self, ticket: Ticket) -> Outcome | None:
        """A market order whose price moved more than the allowed slippage against the user
        since the preview is not sent; the user gets a fresh preview instead."""
        book = await self._client.book_ticker(ticket.symbol)
        before = ticket.preview_price or Decimal(0)
        limit = self._slippage / HUNDRED
        if ticket.side is Side.BUY:
            moved = book.ask_price > before * (1 + limit)
        else:
            moved = book.bid_price < before * (1 - limit)
        if not moved:
            return None
        await self._tickets.move(ticket.id, (TicketState.CONFIRMING,), TicketState.EXPIRED)
        if ticket.kind is TicketKind.ENTRY_OCO:  # its exits were planned at the old price
            reason = f"the price moved more than {self._slippage}% since the preview"
            return Outcome(OutcomeKind.NOT_SENT, ticket, reason=reason + "; send it again")
        fresh = await self.preview(ticket.user_id, ticket.chat_id, _intent(ticket))
        return Outcome(OutcomeKind.REPREVIEW, ticket, preview=fresh)

    # -- the truth afterwards, and cancels (see `OrderRecovery`, `OrderCancels`) --------------

    async def reconcile(self) -> list[Outcome]:
        """At start-up: settle tickets a previous run left in flight, expire stale drafts;
        returns what the chat must be told now (see `OrderRecovery.reconcile`)."""
        return await self._recovery.reconcile()

    async def cancel_order(
        self, user_id: int, chat_id: int, order_id: int
    ) -> Order | CancelListPreview:
        """Cancel one of the user's open orders by Binance's id, or, for a leg of an order
        list, a ticket to cancel the whole list once confirmed (see `OrderCancels`)."""
        return await self._cancels.cancel_order(user_id, chat_id, order_id)

    async def preview_cancel_list(
        self, user_id: int, chat_id: int, list_id: int, symbol: str | None
    ) -> CancelListPreview:
        """A ticket to cancel one of the user's open order lists by its id, once confirmed."""
        return await self._cancels.preview_cancel_list(user_id, chat_id, list_id, symbol)

    async def preview_cancel_all(self, user_id: int, chat_id: int, name: str) -> CancelAllPreview:
        """A ticket to cancel all the user's open orders on a symbol, once confirmed."""
        return await self._cancels.preview_cancel_all(user_id, chat_id, name)

    async def tickets(self, ticket_ids: list[str]) -> dict[str, Ticket]:
        return await self._tickets.find_by_id(ticket_ids)


def _request(ticket: Ticket) -> OrderRequest:
    if ticket.kind is TicketKind.EXIT:
        return exit_request(ticket)
    return OrderRequest(
        ticket.symbol,
        ticket.side or "",
        ticket.order_type or "",
        quantity=ticket.quantity,
        quote_order_qty=ticket.quote_quantity,
        price=ticket.price,
        time_in_force="GTC" if ticket.order_type == "LIMIT" else None,
        client_order_id=ticket.id,
    )


def _intent(ticket: Ticket) -> OrderIntent:
    """The order a ticket holds, as the user could have typed it (for a fresh preview)."""
    return OrderIntent(
        side=ticket.side or Side.BUY,
        symbol=ticket.symbol,
        amount=ticket.quote_quantity or ticket.quantity or Decimal(0),
        in_quote=ticket.quote_quantity is not None,
        price=ticket.price,
    )
