"""Each followed user's open orders as the user-data stream keeps them, so /orders and the
preview's open-order limits need not ask Binance (weight 80 for every symbol) every time.

There is one record of a user's orders: the tracked-orders table, which `OrderTracker` keeps
from every answer and every `executionReport` (new, partly filled, filled, cancelled, expired).
This module only decides when that record may be taken for the *whole* list of open orders:
from the end of a sync (`OrderTracker.sync`: one read at the first follow, a catch-up after a
gap) made in the subscription that is still live, until the next gap. A gap, a re-subscription
or a key change ends the trust, and the next ask waits for a new sync.

A user who asks before their sync is done waits for it, and it goes as their call (its `Lane`
is raised): the start-up sync, queued as background work, doubles as the user's seed instead
of both being paid for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.models import Order
from chatbot.exchange.weight_governor import Lane, Priority, current_priority, lane
from chatbot.services.order_tracker import OrderTracker
from chatbot.storage.tracked_orders import TrackedOrder, TrackedOrderRepository

_URGENCY = {Priority.BACKGROUND: 0, Priority.USER: 1, Priority.TRADE: 2}


@dataclass
class _Sync:
    lane: Lane
    done: asyncio.Event


class OpenOrderMirror:
    """Open orders of the users whose orders are known in full; see the module docstring."""

    def __init__(
        self, client: BinanceClient, tracker: OrderTracker, tracked: TrackedOrderRepository
    ) -> None:
        self._client = client
        self._tracker = tracker
        self._tracked = tracked
        self._epoch: Callable[[int], int | None] = lambda _: None
        self._known: dict[int, int] = {}  # user -> the stream epoch their sync ended in
        self._syncs: dict[int, _Sync] = {}
        self.served = 0  # answers given from the record (no REST call)

    def attach(self, epoch: Callable[[int], int | None]) -> None:
        """The stream's epoch (`UserDataStream.epoch`), set by whoever runs the stream."""
        self._epoch = epoch

    async def sync(self, user_id: int) -> None:
        """Run the user's sync (at the caller's priority, which a waiting user may raise) and
        trust the record from its end if no gap came meanwhile."""
        epoch = self._epoch(user_id)
        queued = current_priority() is Priority.BACKGROUND
        with lane(current_priority()) as this:
            entry = self._syncs[user_id] = _Sync(this, asyncio.Event())
            try:
                complete = await self._tracker.sync(user_id)
                if not complete and queued and this.priority is not Priority.BACKGROUND:
                    # Raised by a user whom the budget then refused: they are told so, and
                    # the re-read (it may have fills to tell) goes on in the background.
                    entry.done.set()
                    this.priority = Priority.BACKGROUND
                    complete = await self._tracker.sync(user_id)
            finally:
                if self._syncs.get(user_id) is entry:
                    del self._syncs[user_id]
                entry.done.set()
        if complete and epoch is not None and self._epoch(user_id) == epoch:
            self._known[user_id] = epoch

    def forget(self, user_id: int) -> None:
        """A key change: what was known of the old key's orders says nothing of the new."""
        self._known.pop(user_id, None)

    async def open_orders(
        self, user_id: int, credentials: ApiCredentials, symbol: str | None = None
    ) -> list[Order]:
        """The user's open orders (of `symbol`, or all), from the record when it holds them in
        full, else after the sync that makes it so; from Binance when the stream is down."""
        if not self._trusted(user_id) and self._epoch(user_id) is not None:
            running = self._syncs.get(user_id)
            if running is None:
                await self.sync(user_id)
            else:
                if _URGENCY[current_priority()] > _URGENCY[running.lane.priority]:
                    running.lane.priority = current_priority()
                await running.done.wait()
        if not self._trusted(user_id):
            return await self._client.open_orders(credentials, symbol)
        self.served += 1
        known = await self._tracked.open_orders(user_id)
        return [as_order(o) for o in known if symbol is None or o.symbol == symbol]

    def _trusted(self, user_id: int) -> bool:
        epoch = self._known.get(user_id)
        return epoch is not None and epoch == self._epoch(user_id)


def as_order(known: TrackedOrder) -> Order:
    """A tracked order as Binance would list it among the open orders."""
    return Order(
        symbol=known.symbol,
        order_id=known.order_id,
        client_order_id=known.client_id,
        side=known.side,
        type=known.order_type,
        status=known.status,
        price=known.price,
        orig_qty=known.quantity,
        executed_qty=known.executed,
        cumulative_quote_qty=known.quote,
        time_in_force=known.time_in_force,
        time=known.created_ms,
        update_time=known.updated_ms,
        stop_price=known.stop_price,
        trailing_delta=known.trailing_delta,
        order_list_id=known.order_list_id,
    )
