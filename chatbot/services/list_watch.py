"""Order lists (OCO, OTOCO) told as one message each, whoever placed them.

Binance tells a list's end as several events: each leg's `executionReport` (the leg that
expired with OCO_TRIGGER or was cancelled, the leg that traded), then the list's `listStatus`
ALL_DONE. Told one by one they would read as unrelated orders, so a leg's own changes are held
back (`holds_back`) and the list's end is told once, from the legs' final states read back from
Binance, when any source learns it ended: the ALL_DONE event, a leg seen after a re-read, or the
catch-up after a gap or a restart (`catch_up`). `OrderListRepository.claim_told` makes that one
message across sources and replicas. An OTO list's working order (the entry) is an ordinary
order: its fill is told as one, with its exits now on the book.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from chatbot.errors import UserError
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import BinanceError, OrderNotFound
from chatbot.exchange.events import ListStatus
from chatbot.exchange.models import Order
from chatbot.exchange.order_lists import OrderList
from chatbot.services.keys import KeyService
from chatbot.services.list_outcomes import (
    LegRole,
    ListLegOutcome,
    ListNotice,
    leg_role,
    list_result,
)
from chatbot.storage.order_lists import KnownList, OrderListRepository

log = logging.getLogger(__name__)

SETTLE_WAIT = 15.0  # seconds a list's end waits for the chat's own /cancel reply


class ListNotifier(Protocol):
    """How the list watch reaches the chat (implemented by the handlers)."""

    async def list_update(self, notice: ListNotice) -> None:
        """Send the user one message saying how an order list ended."""


class ListWatch:
    """Follows every user's order lists and tells each one's end once."""

    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        lists: OrderListRepository,
        notifier: ListNotifier,
        *,
        settle_wait: float = SETTLE_WAIT,
    ) -> None:
        self._client = client
        self._keys = keys
        self._lists = lists
        self._notifier = notifier
        self._settle_wait = settle_wait
        self._cancelling: dict[tuple[str, int], asyncio.Event] = {}

    async def holds_back(self, user_id: int, order: Order) -> bool:
        """True when `order` is a leg whose changes are told with its list's end (every
        leg of an OCO; an OTO list's pending legs), False for an order outside any list and
        for an OTO list's working order. A list first seen here is looked up on Binance; if
        it has already ended, its end is told now."""
        if order.order_list_id is None:
            return False
        known = await self._lists.get(user_id, order.symbol, order.order_list_id)
        if known is None:
            known = await self._look_up(user_id, order.symbol, order.order_list_id)
            if known is None:
                return False  # Binance no longer has it: the leg is told as an order
        return order.order_id != known.working_order_id

    async def on_status(self, user_id: int, event: ListStatus) -> None:
        """One `listStatus` event from the user-data stream."""
        known = KnownList(
            user_id,
            event.symbol,
            event.order_list_id,
            event.contingency_type,
            event.list_order_status,
            tuple(o.order_id for o in event.orders),
        )
        await self._lists.record(known)
        if event.list_order_status == "EXECUTING":
            return
        cancel = self._cancelling.get((event.symbol, event.order_list_id))
        if cancel is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cancel.wait(), self._settle_wait)
        credentials = await self._credentials(user_id)
        if credentials is not None:
            await self._tell_end(user_id, credentials, known)

    async def catch_up(self, user_id: int, credentials: ApiCredentials) -> None:
        """After a gap or a restart: each list not yet told is read again, and told if it
        ended meanwhile."""
        for known in await self._lists.untold(user_id):
            found = await self._client.order_list(credentials, order_list_id=known.order_list_id)
            if found is None:
                continue
            if not found.is_open:
                await self._lists.record(_known(user_id, found))
                await self._tell_end(user_id, credentials, _known(user_id, found))

    async def told_by_reply(self, user_id: int, order_list: OrderList) -> None:
        """A /cancel reply told this list's end."""
        known = _known(user_id, order_list)
        await self._lists.record(known)
        await self._lists.claim_told(user_id, known.symbol, known.order_list_id)

    @contextlib.asynccontextmanager
    async def cancelling(self, symbol: str, order_list_id: int) -> AsyncIterator[None]:
        """While the chat cancels this list, its ALL_DONE event waits for the chat's reply."""
        key = (symbol, order_list_id)
        done = self._cancelling.setdefault(key, asyncio.Event())
        try:
            yield
        finally:
            done.set()
            self._cancelling.pop(key, None)

    async def forget(self, user_id: int) -> None:
        await self._lists.forget_user(user_id)

    async def prune(self, older_than: float) -> None:
        """Forget lists told before `older_than` (epoch seconds)."""
        await self._lists.prune(older_than)

    async def _look_up(self, user_id: int, symbol: str, order_list_id: int) -> KnownList | None:
        credentials = await self._credentials(user_id)
        if credentials is None:
            return None
        try:
            found = await self._client.order_list(credentials, order_list_id=order_list_id)
        except BinanceError as exc:
            log.warning("user_id=%s list not read: %s", user_id, type(exc).__name__)
            return None
        if found is None or found.symbol != symbol:
            return None
        known = _known(user_id, found)
        await self._lists.record(known)
        if not known.is_open:
            await self._tell_end(user_id, credentials, known)
        return known

    async def _tell_end(self, user_id: int, credentials: ApiCredentials, known: KnownList) -> None:
        """Read the legs' final states, then tell the list's end if nobody has."""
        current = await self._lists.get(user_id, known.symbol, known.order_list_id)
        if current is None or current.told:
            return
        try:
            legs = await self._legs(credentials, known)
            rules = await self._client.symbol_rules(known.symbol)
        except BinanceError as exc:  # told by the next catch-up
            log.warning("user_id=%s list end not read: %s", user_id, type(exc).__name__)
            return
        if not await self._lists.claim_told(user_id, known.symbol, known.order_list_id):
            return
        outcomes = tuple(ListLegOutcome(leg_role(o, known.working_order_id), o) for o in legs)
        entry = next((o.order for o in outcomes if o.role is LegRole.ENTRY), None)
        exits = [o.order for o in outcomes if o.role is not LegRole.ENTRY]
        notice = ListNotice(
            user_id=user_id,
            symbol=known.symbol,
            base_asset=rules.base_asset,
            quote_asset=rules.quote_asset,
            order_list_id=known.order_list_id,
            contingency=known.contingency,
            legs=outcomes,
            result=list_result(entry if entry and entry.executed_qty else None, exits),
        )
        await self._notifier.list_update(notice)

    async def _legs(self, credentials: ApiCredentials, known: KnownList) -> list[Order]:
        legs = []
        for order_id in known.order_ids:
            with contextlib.suppress(OrderNotFound):
                order = await self._client.query_order(credentials, known.symbol, order_id=order_id)
                legs.append(order)
        return legs

    async def _credentials(self, user_id: int) -> ApiCredentials | None:
        try:
            return await self._keys.credentials(user_id)
        except UserError:
            return None  # the key is gone


def _known(user_id: int, found: OrderList) -> KnownList:
    return KnownList(
        user_id,
        found.symbol,
        found.order_list_id,
        found.contingency_type,
        found.list_order_status,
        tuple(o.order_id for o in found.orders),
    )
