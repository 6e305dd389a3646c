"""The truth about every order after Confirm: each change told once, none lost, none invented.

News about an order reaches the bot from several places: the answer to the confirmation (the
preview message is edited into it), the user-data stream, a lookup after a lost answer, and a
re-read after a gap in the stream or a restart. `TrackedOrderRepository.advance` decides, in one
transaction, which of them tells each change, so a fill is told exactly once whatever the bot
had inferred before; nothing is suppressed because of an inferred state.

Two waits keep the chat from telling one thing twice: an event about a ticket whose
confirmation is still being answered waits for that answer (the edited preview tells it), and a
CANCELED event waits for the chat's own /cancel reply while that cancel is in flight. Both waits
are bounded, so an event is never held back for long.

A ticket whose answer was lost (UNKNOWN, or MISSING after a long silence) is settled by the
first thing Binance says about it: its preview is edited into the real outcome and the user is
told in a new message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal

from chatbot.errors import UserError
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import BinanceError, OrderNotFound
from chatbot.exchange.events import ExecutionReport, ListStatus
from chatbot.exchange.models import Order
from chatbot.exchange.order_lists import OrderList
from chatbot.services.account_mirror import AccountMirror
from chatbot.services.keys import KeyService
from chatbot.services.list_watch import ListWatch
from chatbot.services.order_changes import (
    LastFill,
    notice_for,
    order_from_report,
    order_state,
    ticket_result,
)
from chatbot.services.order_outcomes import (
    OrderNotifier,
    Outcome,
    OutcomeKind,
)
from chatbot.storage.tickets import (
    UNRESOLVED_STATES,
    Ticket,
    TicketRepository,
    TicketState,
)
from chatbot.storage.tracked_orders import TrackedOrder, TrackedOrderRepository

log = logging.getLogger(__name__)

SETTLE_WAIT = 15.0  # seconds an event waits for the chat's own answer about the same order
SYNC_MARGIN_MS = 60_000  # orders placed elsewhere are looked for from this long before a gap
UNRESOLVED_LOOKBACK = 86_400.0  # seconds an unresolved ticket is still asked about after a gap
_POLL = 0.05


class OrderTracker:
    """Follows every user's orders and tells each change once (through `notifier`)."""

    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        tickets: TicketRepository,
        tracked: TrackedOrderRepository,
        notifier: OrderNotifier,
        *,
        settle_wait: float = SETTLE_WAIT,
        balances: AccountMirror | None = None,
        lists: ListWatch | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._lists = lists
        self._balances = balances
        self._keys = keys
        self._tickets = tickets
        self._tracked = tracked
        self._notifier = notifier
        self._settle_wait = settle_wait
        self._clock = clock  # the tickets' clock (an unresolved ticket's age is read on it)
        self._cancelling: dict[int, asyncio.Event] = {}
        self._observing: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    # -- what the chat's own replies tell ------------------------------------------------------

    async def settle_by_reply(
        self, ticket: Ticket, order: Order, from_states: tuple[TicketState, ...]
    ) -> Outcome:
        """The confirmation's answer (or a quick lookup) is shown by editing the preview:
        mark it told first, so an event waiting for the ticket finds nothing new."""
        await self._tracked.advance(ticket.user_id, order_state(order), ticket_id=ticket.id)
        outcome, _ = await self._settle_ticket(ticket, order, from_states)
        return outcome

    async def told_by_reply(self, user_id: int, orders: Iterable[Order]) -> None:
        """A /cancel reply tells these orders' new state."""
        for order in orders:
            await self._tracked.advance(user_id, order_state(order))

    @contextlib.asynccontextmanager
    async def cancelling(self, order_ids: Iterable[int]) -> AsyncIterator[None]:
        """While the chat cancels these orders, their CANCELED events wait for its reply."""
        mine = {i: asyncio.Event() for i in order_ids if i not in self._cancelling}
        self._cancelling.update(mine)
        try:
            yield
        finally:
            for order_id, done in mine.items():
                done.set()
                del self._cancelling[order_id]

    # -- what Binance tells on its own ----------------------------------------------------------

    async def on_event(self, user_id: int, report: ExecutionReport) -> None:
        """One `executionReport` from the user-data stream."""
        order = order_from_report(report)
        ticket = await self._settled_ticket(order.client_order_id)
        cancel = self._cancelling.get(report.order_id)
        if report.execution_type == "CANCELED" and cancel is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cancel.wait(), self._settle_wait)
        fill = None
        if report.last_qty:
            fees = {report.commission_asset: report.commission} if report.commission_asset else {}
            fill = LastFill(report.last_qty, report.last_price, fees)
        await self.observe(user_id, order, ticket=ticket, fill=fill)

    async def on_list_status(self, user_id: int, event: ListStatus) -> None:
        """One `listStatus` event: an order list's end is told as one message."""
        if self._lists is not None:
            await self._lists.on_status(user_id, event)

    async def observe(
        self,
        user_id: int,
        order: Order,
        *,
        ticket: Ticket | None = None,
        fill: LastFill | None = None,
        fees: dict[str, Decimal] | None = None,
    ) -> None:
        """Binance says this of the order: settle its ticket if that was unresolved, and tell
        the user whatever they have not been told yet. `fill` is the event's own fill (a
        stream event); `fees` the order's commissions so far, when known.

        One user's observations run one at a time: the restart's reconcile and the stream's
        re-read can see the same order at once, and the one that settles its ticket must also
        be the one that tells it (with "now confirmed"), not lose the telling to the other."""
        async with self._observing[user_id]:
            await self._observe(user_id, order, ticket, fill, fees)

    async def _observe(
        self,
        user_id: int,
        order: Order,
        ticket: Ticket | None,
        fill: LastFill | None,
        fees: dict[str, Decimal] | None,
    ) -> None:
        if ticket is not None:
            ticket = await self._tickets.get(ticket.id)  # as it is now, not as the caller saw it
        if ticket is None:
            ticket = await self._tickets.get(order.client_order_id)
        if ticket is not None and ticket.user_id != user_id:
            ticket = None
        resolved = False
        if ticket is not None and ticket.state in UNRESOLVED_STATES:
            outcome, resolved = await self._settle_ticket(ticket, order, UNRESOLVED_STATES)
            if resolved:
                log.info("ticket %s settled late: %s", ticket.id, outcome.kind)
                await self._notifier.ticket_update(outcome, announce=False)
        before = await self._tracked.advance(
            user_id, order_state(order), ticket_id=ticket.id if ticket else None
        )
        if before is not None and ticket is not None and ticket.state is TicketState.OPEN:
            # The preview keeps showing the order as it is now (an edit does not notify).
            outcome, _ = await self._settle_ticket(ticket, order, (TicketState.OPEN,))
            await self._notifier.ticket_update(outcome, announce=False)
        if self._lists is not None and await self._lists.holds_back(user_id, order):
            return  # a leg: told with its list's end
        in_list = order.order_list_id is not None
        notice = notice_for(
            user_id, order, before, resolved, fill, fees or {}, exits_follow=in_list
        )
        if notice is not None:
            await self._notifier.order_update(notice)

    # -- gaps and restarts ---------------------------------------------------------------------

    async def sync(self, user_id: int) -> bool:
        """The user's subscription is live (again): find out what happened since the orders
        were last known in full, and tell it. The first time, just remember the open orders.
        True when the user's open orders are now known in full."""
        try:
            credentials = await self._keys.credentials(user_id)
        except UserError:
            return False  # the key is gone
        started = self._client.timestamp()
        try:
            since = await self._tracked.synced_at(user_id)
            if since is None:
                if await self._may_hold_orders(user_id, credentials):
                    for order in await self._client.open_orders(credentials):
                        await self._tracked.advance(user_id, order_state(order))
            else:
                await self._catch_up(user_id, credentials, since)
        except BinanceError as exc:  # Binance unreachable: the next gap asks again
            log.warning("user_id=%s orders not re-read: %s", user_id, type(exc).__name__)
            return False
        await self._tracked.mark_synced(user_id, started)
        return True

    async def _may_hold_orders(self, user_id: int, credentials: ApiCredentials) -> bool:
        """False when the account has nothing locked: every open order holds part of a
        balance, so there is none to remember. The account (weight 20, and it seeds the
        balances /balance and the previews answer from) is cheaper than every symbol's open
        orders (80), and most users have no open order."""
        if self._balances is None:
            return True
        account = await self._balances.account(
            user_id, lambda: self._client.account(credentials, omit_zero=True)
        )
        return any(balance.locked > 0 for balance in account.balances)

    async def prune(self, keep_days: float = 30.0) -> None:
        """Forget orders that ended more than `keep_days` ago."""
        await self._tracked.prune(time.time() - keep_days * 86_400)
        if self._lists is not None:
            await self._lists.prune(time.time() - keep_days * 86_400)

    async def open_order(self, user_id: int, order_id: int) -> TrackedOrder | None:
        """An order the bot follows and last saw open, else None."""
        for known in await self._tracked.open_orders(user_id):
            if known.order_id == order_id:
                return known
        return None

    def cancelling_list(self, symbol: str, order_list_id: int) -> AbstractAsyncContextManager[None]:
        """While the chat cancels this list, its end waits for the chat's reply."""
        if self._lists is None:
            return contextlib.nullcontext()
        return self._lists.cancelling(symbol, order_list_id)

    async def list_told_by_reply(self, user_id: int, order_list: OrderList) -> None:
        """A /cancel reply told this list's end (and its legs')."""
        await self.told_by_reply(user_id, order_list.reports)
        if self._lists is not None:
            await self._lists.told_by_reply(user_id, order_list)

    async def forget(self, user_id: int) -> None:
        await self._tracked.forget_user(user_id)
        if self._lists is not None:
            await self._lists.forget(user_id)

    async def _catch_up(self, user_id: int, credentials: ApiCredentials, since: int) -> None:
        for known in await self._tracked.open_orders(user_id):
            with contextlib.suppress(OrderNotFound):
                order = await self._client.query_order(
                    credentials, known.symbol, order_id=known.order_id
                )
                fees = await self._fees(credentials, order) if order.executed_qty > 0 else {}
                await self.observe(user_id, order, fees=fees)
        recent = self._clock() - UNRESOLVED_LOOKBACK
        for ticket in await self._tickets.in_states(
            UNRESOLVED_STATES, user_id=user_id, updated_after=recent
        ):
            with contextlib.suppress(OrderNotFound):
                order = await self._client.query_order(
                    credentials, ticket.symbol, client_order_id=ticket.id
                )
                await self.observe(user_id, order, ticket=ticket)
        await self._placed_elsewhere(user_id, credentials, since - SYNC_MARGIN_MS)
        if self._lists is not None:
            await self._lists.catch_up(user_id, credentials)

    async def _placed_elsewhere(
        self, user_id: int, credentials: ApiCredentials, start_ms: int
    ) -> None:
        """Orders placed on the web or the app during the gap: on the symbols the bot knows
        for this user, every order since the gap (also those already filled); elsewhere, the
        ones still open (none when the account has nothing locked). An order the bot last
        saw open that is not among them has ended unseen (Binance no longer finds it): it is
        no longer listed as open, and its fill is told if an event still brings one."""
        for symbol in sorted(await self._tracked.symbols(user_id)):
            known = await self._tracked.known_ids(user_id, symbol)
            for order in await self._client.all_orders(credentials, symbol, start_time=start_ms):
                if order.order_id not in known:
                    fees = await self._fees(credentials, order) if order.executed_qty > 0 else {}
                    await self.observe(user_id, order, fees=fees)
        read_at = time.time()
        listed: list[Order] = []
        if await self._may_hold_orders(user_id, credentials):
            listed = await self._client.open_orders(credentials)
        for order in listed:
            await self.observe(user_id, order)
        await self._tracked.close_unlisted(user_id, {o.order_id for o in listed}, read_at)

    async def _fees(self, credentials: ApiCredentials, order: Order) -> dict[str, Decimal]:
        """The commissions of the order's fills so far, by asset (`myTrades` by order id)."""
        fees: dict[str, Decimal] = defaultdict(Decimal)
        try:
            trades = await self._client.my_trades(
                credentials, order.symbol, limit=100, order_id=order.order_id
            )
        except BinanceError:
            return {}
        for trade in trades:
            fees[trade.commission_asset] += trade.commission
        return dict(fees)

    # -- tickets ---------------------------------------------------------------------------------

    async def _settled_ticket(self, client_id: str) -> Ticket | None:
        """The ticket of this client order id once its confirmation has been answered (or the
        wait ran out); None for an order placed elsewhere."""
        ticket = await self._tickets.get(client_id)
        if ticket is None or ticket.state not in (TicketState.CONFIRMING, TicketState.SUBMITTED):
            return ticket
        deadline = time.monotonic() + self._settle_wait
        while ticket is not None and ticket.state in (
            TicketState.CONFIRMING,
            TicketState.SUBMITTED,
        ):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(_POLL)
            ticket = await self._tickets.get(client_id)
        return ticket

    async def _settle_ticket(
        self, ticket: Ticket, order: Order, from_states: tuple[TicketState, ...]
    ) -> tuple[Outcome, bool]:
        """Move the ticket to what the order says; True when this call made the change."""
        kind, state = ticket_result(order)
        detail = None if kind is OutcomeKind.OPEN or kind is OutcomeKind.FILLED else order.status
        won = await self._tickets.move(
            ticket.id, from_states, state, order_id=order.order_id, detail=detail
        )
        return Outcome(kind, ticket, order=order), won
