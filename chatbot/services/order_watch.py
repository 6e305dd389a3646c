"""Orders whose answer was lost: keep asking Binance, with back-off, until it says something.

A lookup by `origClientOrderId` answering -2013 ("Order does not exist") proves nothing: Binance
can match an order seconds after it answered -1007. So the ticket stays UNKNOWN and is looked
up again and again for `watch_seconds`; the user-data stream settles it as well (see
`OrderTracker.observe`), whichever comes first. Only after that long silence is the user told
that the order most likely was not placed (MISSING), and even then a later appearance is
still reported. Watches survive restarts: `resume` picks up every UNKNOWN ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from chatbot.errors import UserError
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.errors import BinanceError, OrderNotFound
from chatbot.exchange.weight_governor import background
from chatbot.services.keys import KeyService
from chatbot.services.order_outcomes import OrderNotifier, Outcome, OutcomeKind
from chatbot.services.order_tracker import OrderTracker
from chatbot.storage.tickets import Ticket, TicketRepository, TicketState

log = logging.getLogger(__name__)

WATCH_SECONDS = 600.0
WATCH_DELAYS = (3.0, 5.0, 10.0, 20.0, 30.0, 60.0)  # then every minute until the watch ends


class OrderWatch:
    """One background task per UNKNOWN ticket."""

    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        tickets: TicketRepository,
        tracker: OrderTracker,
        notifier: OrderNotifier,
        *,
        watch_seconds: float = WATCH_SECONDS,
        delays: Sequence[float] = WATCH_DELAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._keys = keys
        self._tickets = tickets
        self._tracker = tracker
        self._notifier = notifier
        self.watch_seconds = watch_seconds
        self._delays = tuple(delays)
        self._clock = clock  # the tickets' clock: the watch ends `watch_seconds` after update
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, ticket: Ticket) -> None:
        """Watch an UNKNOWN ticket from now until Binance settles it or the watch ends."""
        if ticket.id in self._tasks:
            return
        task = asyncio.create_task(self._watch(ticket), name=f"order-watch-{ticket.id}")
        self._tasks[ticket.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(ticket.id, None))

    async def resume(self) -> None:
        """At start-up: watch again every ticket a previous run left UNKNOWN (an order list's
        is asked for by its listClientOrderId at start-up instead: `exit_orders.py`)."""
        for ticket in await self._tickets.in_states((TicketState.UNKNOWN,)):
            if not ticket.is_list:
                self.start(ticket)

    @property
    def watching(self) -> int:
        return len(self._tasks)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self, ticket: Ticket) -> None:
        try:
            with background():  # nobody waits on these lookups: users' calls go first
                if await self._look_until_found(ticket):
                    return
                await self._give_up(ticket)
        except Exception:
            log.exception("watch of ticket %s failed", ticket.id)

    async def _look_until_found(self, ticket: Ticket) -> bool:
        """Ask Binance on the back-off schedule; True once the ticket is settled."""
        deadline = ticket.updated_at + self.watch_seconds
        attempt = 0
        while True:
            delay = self._delays[min(attempt, len(self._delays) - 1)]
            await asyncio.sleep(max(0.0, min(delay, deadline - self._clock())))
            attempt += 1
            current = await self._tickets.get(ticket.id)
            if current is None or current.state is not TicketState.UNKNOWN:
                return True  # the stream, or a re-read after a gap, settled it
            if await self._look_up(current):
                return True
            if self._clock() >= deadline:
                return False

    async def _look_up(self, ticket: Ticket) -> bool:
        try:
            credentials = await self._keys.credentials(ticket.user_id)
            order = await self._client.query_order(
                credentials, ticket.symbol, client_order_id=ticket.id
            )
        except OrderNotFound:
            return False
        except (BinanceError, UserError) as exc:
            log.info("ticket %s lookup failed: %s", ticket.id, type(exc).__name__)
            return False
        await self._tracker.observe(ticket.user_id, order, ticket=ticket)
        return True

    async def _give_up(self, ticket: Ticket) -> None:
        """A long silence: most likely never placed. Said once; a later appearance (stream,
        re-read after a gap) still settles the ticket and is told."""
        if await self._tickets.move(ticket.id, (TicketState.UNKNOWN,), TicketState.MISSING):
            log.info("ticket %s: no record on Binance after the watch", ticket.id)
            outcome = Outcome(OutcomeKind.MISSING, ticket, watched_seconds=self.watch_seconds)
            with contextlib.suppress(Exception):
                await self._notifier.ticket_update(outcome, announce=True)
