"""Users' orders kept live: Binance's user-data events in, the order tracker's news out.

The user-data stream feeds execution reports to the order tracker (which decides what is news
and tells it through its `OrderNotifier`) and balance changes to the account mirror. Users with
a key are followed from start-up; `/setkey` and `/delkey` start and stop following them. Each
subscription that goes live (at start, after a reconnect, after a restart) is followed by a
re-read of what the user's orders did meanwhile. A key that stops working is told through a
`KeyNotifier` (implemented by the handlers). `chatbot/app.py` builds it.

With a lease keeper, the stream follows only the users of the user shards this replica holds:
a gained shard's users are subscribed and their orders re-read as after a reconnect (so a fill
that happened while nobody followed them is told once: the tracker's told quantity is a
conditional step in the database), a lost one's unsubscribed. A key stored or deleted on
another replica arrives through `KeyService.changed_elsewhere`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from chatbot.errors import UserError
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.events import (
    AccountPosition,
    BalanceChange,
    ExecutionReport,
    ListStatus,
    UserEvent,
)
from chatbot.exchange.user_stream.stream import (
    EventCallback,
    KeyFailedCallback,
    ResyncCallback,
    UserDataStream,
)
from chatbot.exchange.weight_governor import background
from chatbot.services.account_mirror import AccountMirror
from chatbot.services.keys import KeyService, KeyUnreadable
from chatbot.services.leases import LeaseKeeper
from chatbot.services.notices import ChangeNotices
from chatbot.services.open_orders import OpenOrderMirror
from chatbot.services.order_tracker import OrderTracker
from chatbot.storage.leases import ShardKind, user_shard

log = logging.getLogger(__name__)

# Where a `balanceUpdate` (a deposit, withdrawal or transfer) goes: /pnl's record of them.
TransferSink = Callable[[int, BalanceChange], Awaitable[None]]


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
        leases: LeaseKeeper | None = None,
        notices: ChangeNotices | None = None,
        on_transfer: TransferSink | None = None,
    ) -> None:
        self._keys = keys
        self._on_transfer = on_transfer
        self._leases = leases
        self._notices = notices
        self._started = False
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
        self._taking: set[asyncio.Task[None]] = set()  # following gained shards' users
        self._mirror.attach(self.stream.epoch)
        self._open_orders.attach(self.stream.epoch)
        keys.add_listener(self._key_changed)
        if leases is not None:
            leases.on_change(ShardKind.USERS, self._shards_changed)

    async def start(self) -> None:
        """Connect, then follow every user who has a key, all at once (this runs beside the
        bot's start: the bot answers meanwhile). A user whose subscription is made only later
        is tracked when `on_resync` announces them. All of it is background work: users'
        own calls to Binance go first, and the re-reads are spread over the weight budget."""
        if self._notices is not None:
            await self._notices.on_keys(self._heard)
        with background():
            await self.stream.start()
            self._started = True
            # its own task, so that stopping the bot cancels it instead of waiting for it
            self._following = asyncio.create_task(self._follow_all(), name="follow-stored-keys")

    def _shard_of_user(self, user_id: int) -> int:
        return user_shard(user_id, self._leases.settings.shards if self._leases else 1)

    def _owns(self, user_id: int) -> bool:
        return self._leases is None or self._leases.owns_user(user_id)

    async def _follow_all(self) -> None:
        users = [u for u in await self._keys.users_with_keys() if self._owns(u)]
        await asyncio.gather(*(self._follow_stored(user_id) for user_id in users))

    async def _shards_changed(self, gained: frozenset[int], lost: frozenset[int]) -> None:
        """The keeper moved user shards. Before the stream has started there is nothing to
        drop, and `start` follows whoever this replica owns by then."""
        shard = self._shard_of_user
        for user_id in [u for u in self.stream.subscribed_users if shard(u) in lost]:
            await self._unfollow(user_id)
        if gained and self._started:  # in the background: the keeper's beat must not wait
            task = asyncio.create_task(self._follow_shards(gained), name="follow-gained-shards")
            self._taking.add(task)
            task.add_done_callback(self._taking.discard)

    async def _follow_shards(self, gained: frozenset[int]) -> None:
        shard = self._shard_of_user
        users = [u for u in await self._keys.users_with_keys() if shard(u) in gained]
        with background():
            await asyncio.gather(*(self._follow_stored(user_id) for user_id in users))
        log.info("user shards %s taken: %d users", sorted(gained), len(users))

    async def _heard(self, user_id: int | None) -> None:
        """Keys may have changed elsewhere unheard of: follow who has a key now, drop who
        has none (a single user's change comes through `KeyService.changed_elsewhere`)."""
        if user_id is not None or not self._started:
            return
        users = set(await self._keys.users_with_keys())
        for gone in self.stream.subscribed_users - users:
            await self._unfollow(gone)
        await self._follow_all()

    async def _unfollow(self, user_id: int) -> None:
        self._mirror.forget(user_id)
        self._open_orders.forget(user_id)
        await self.stream.unsubscribe(user_id)

    async def _follow_stored(self, user_id: int) -> None:
        if not self._owns(user_id):  # its shard moved on meanwhile
            return
        try:
            await self._follow(user_id, await self._keys.credentials(user_id))
        except KeyUnreadable as exc:
            log.warning("user_id=%s not followed: stored key unreadable", user_id)
            await self._notifier.key_unreadable(user_id, exc.message)
        except (UserError, BinanceError) as exc:
            log.warning("user_id=%s not followed: %s", user_id, type(exc).__name__)

    async def stop(self) -> None:
        tasks = [*self._taking, *([self._following] if self._following else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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
        if not self._owns(user_id) or not self._started:
            return  # the replica holding the user's shard follows them
        try:
            await self._follow(user_id, credentials)
        except BinanceError as exc:
            log.warning("user_id=%s not followed: %s", user_id, type(exc).__name__)

    async def _on_event(self, user_id: int, event: UserEvent) -> None:
        if isinstance(event, AccountPosition):
            self._mirror.on_position(user_id, event)
        elif isinstance(event, ExecutionReport):
            await self._tracker.on_event(user_id, event)
        elif isinstance(event, BalanceChange) and self._on_transfer is not None:
            await self._on_transfer(user_id, event)
        elif isinstance(event, ListStatus):
            await self._tracker.on_list_status(user_id, event)

    async def _on_resync(self, user_ids: list[int]) -> None:
        for user_id in user_ids:  # after a gap: balances are asked of Binance again
            self._mirror.follow(user_id)
        with background():  # after a reconnect: nobody waits for these re-reads
            await asyncio.gather(*(self._open_orders.sync(user_id) for user_id in user_ids))

    async def _on_key_failed(self, user_id: int, error: BinanceError) -> None:
        self._mirror.forget(user_id)
        log.info("user_id=%s key refused by the user-data stream", user_id)
        await self._notifier.key_failed(user_id, error.user_message)
