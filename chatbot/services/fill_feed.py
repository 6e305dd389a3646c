"""Users' orders kept live: Binance's user-data events in, the order tracker's news out.

The user-data stream feeds execution reports to the order tracker (which decides what is news
and tells it through its `OrderNotifier`) and balance changes to the account mirror. Users with
a key are followed from start-up; `/setkey` and `/delkey` start and stop following them. Each
subscription that goes live (at start, after a reconnect, after a restart) is followed by a
re-read of what the user's orders did meanwhile. A key that stops working is told through a
`KeyNotifier` (implemented by the handlers). `chatbot/app.py` builds it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from chatbot.errors import UserError
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.events import AccountPosition, ExecutionReport, UserEvent
from chatbot.exchange.user_stream.stream import (
    EventCallback,
    KeyFailedCallback,
    ResyncCallback,
    UserDataStream,
)
from chatbot.exchange.weight_governor import background
from chatbot.services.account_mirror import AccountMirror
from chatbot.services.keys import KeyService, KeyUnreadable
from chatbot.services.open_orders import OpenOrderMirror
from chatbot.services.order_tracker import OrderTracker

log = logging.getLogger(__name__)


class KeyNotifier(Protocol):
    """How the fill feed tells a user their key no longer serves (implemented by handlers)."""

    async def key_failed(self, user_id: int, reason: str) -> None:
        """Binance refused the key on the user-data stream: live updates stopped."""

    async def key_unreadable(self, user_id: int, reason: str) -> None:
        """At start, the stored key does not open: neither orders nor updates work."""


class OpenUserStream(Protocol):
    """Builds the user-data stream with the feed's handlers (the URL and limits are the app's)."""

    def __call__(
        self,
        *,
        on_event: EventCallback,
        on_resync: ResyncCallback,
        on_key_failed: KeyFailedCallback,
    ) -> UserDataStream: ...


class FillFeed:
    """Follows every user's orders and tells them what changed."""

    def __init__(
        self,
        open_stream: OpenUserStream,
        keys: KeyService,
        tracker: OrderTracker,
        notifier: KeyNotifier,
        mirror: AccountMirror,
        open_orders: OpenOrderMirror,
    ) -> None:
        self._keys = keys
        self._mirror = mirror
        self._open_orders = open_orders
        self._tracker = tracker
        self._notifier = notifier
        self.stream = open_stream(
            on_event=self._on_event,
            on_resync=self._on_resync,
            on_key_failed=self._on_key_failed,
        )
        self._following: asyncio.Task[None] | None = None
        self._mirror.attach(self.stream.epoch)
        self._open_orders.attach(self.stream.epoch)
        keys.add_listener(self._key_changed)

    async def start(self) -> None:
        """Connect, then follow every user who has a key, all at once (this runs beside the
        bot's start: the bot answers meanwhile). A user whose subscription is made only later
        is tracked when `on_resync` announces them. All of it is background work: users'
        own calls to Binance go first, and the re-reads are spread over the weight budget."""
        with background():
            await self.stream.start()
            # its own task, so that stopping the bot cancels it instead of waiting for it
            self._following = asyncio.create_task(self._follow_all(), name="follow-stored-keys")

    async def _follow_all(self) -> None:
        users = await self._keys.users_with_keys()
        await asyncio.gather(*(self._follow_stored(user_id) for user_id in users))

    async def _follow_stored(self, user_id: int) -> None:
        try:
            await self._follow(user_id, await self._keys.credentials(user_id))
        except KeyUnreadable as exc:
            log.warning("user_id=%s not followed: stored key unreadable", user_id)
            await self._notifier.key_unreadable(user_id, exc.message)
        except (UserError, BinanceError) as exc:
            log.warning("user_id=%s not followed: %s", user_id, type(exc).__name__)

    async def stop(self) -> None:
        if self._following is not None:
            self._following.cancel()
            await asyncio.gather(self._following, return_exceptions=True)
        await self.stream.stop()

    async def _follow(self, user_id: int, credentials: ApiCredentials) -> None:
        if await self.stream.subscribe(user_id, credentials):
            self._mirror.follow(user_id)
            await self._open_orders.sync(user_id)

    async def _key_changed(self, user_id: int, credentials: ApiCredentials | None) -> None:
        self._mirror.forget(user_id)
        self._open_orders.forget(user_id)
        if credentials is None:
            await self.stream.unsubscribe(user_id)
            await self._tracker.forget(user_id)
            return
        try:
            await self._follow(user_id, credentials)
        except BinanceError as exc:
            log.warning("user_id=%s not followed: %s", user_id, type(exc).__name__)

    async def _on_event(self, user_id: int, event: UserEvent) -> None:
        if isinstance(event, AccountPosition):
            self._mirror.on_position(user_id, event)
        elif isinstance(event, ExecutionReport):
            await self._tracker.on_event(user_id, event)

    async def _on_resync(self, user_ids: list[int]) -> None:
        for user_id in user_ids:  # after a gap: balances are asked of Binance again
            self._mirror.follow(user_id)
        with background():  # after a reconnect: nobody waits for these re-reads
            await asyncio.gather(*(self._open_orders.sync(user_id) for user_id in user_ids))

    async def _on_key_failed(self, user_id: int, error: BinanceError) -> None:
        self._mirror.forget(user_id)
        log.info("user_id=%s key refused by the user-data stream", user_id)
        await self._notifier.key_failed(user_id, error.user_message)
