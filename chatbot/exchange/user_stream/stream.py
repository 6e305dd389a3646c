"""Users' order and balance events, from Binance's WebSocket API.

Binance retired the REST listenKey stream: a signed `userDataStream.subscribe.signature`
request on a WebSocket API connection now starts a user's event stream, and one connection
carries many users' subscriptions (one per account, at most 1000). `UserDataStream` keeps a
small pool of such connections, `users_per_socket` users on each, and hides their lives
(reconnects, the 24 h renewal) behind three callbacks:

- `on_event(user_id, event)`: an `ExecutionReport`, `AccountPosition` or `BalanceChange`,
  awaited one at a time per user in Binance's order, never twice for the same event (also
  across a renewal). Users do not wait for each other.
- `on_resync(user_ids)`: these users' subscriptions were (re)made after a reconnect, a renewal
  or a retry, and events may have been missed before that. Re-read their open orders over REST.
  It runs after the subscriptions are live, so nothing falls between the re-read and the stream
  (an event may be seen by both: treat order updates idempotently).
- `on_key_failed(user_id, error)`: Binance refused the user's key (`AuthError`: -2015 key,
  IP or permissions; -1022 signature; -2014 format). Called once: the user is dropped and not
  tried again until `subscribe()` is called for them again.

A callback that raises is logged and does not stop the stream. API keys, secrets and signatures
appear in no log line and no exception message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from chatbot.errors import present
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.events import UserEvent
from chatbot.exchange.user_stream.delivery import UserQueues, parse_user_event
from chatbot.exchange.user_stream.group import SubscriptionGroup
from chatbot.exchange.user_stream.settings import UserStreamSettings
from chatbot.exchange.user_stream.socket import EventHandler, WsApiSocket
from chatbot.exchange.weight_governor import WeightGovernor
from chatbot.exchange.ws.attempts import ConnectionAttempts

log = logging.getLogger(__name__)

EventCallback = Callable[[int, UserEvent], Awaitable[None]]
ResyncCallback = Callable[[list[int]], Awaitable[None]]
KeyFailedCallback = Callable[[int, BinanceError], Awaitable[None]]


class UserDataStream:
    """Every user's user-data subscription over a pool of WebSocket API connections."""

    def __init__(
        self,
        settings: UserStreamSettings,
        *,
        timestamp: Callable[[], int],
        on_event: EventCallback,
        on_resync: ResyncCallback,
        on_key_failed: KeyFailedCallback,
        session: aiohttp.ClientSession | None = None,
        governor: WeightGovernor | None = None,
        attempts: ConnectionAttempts | None = None,
    ) -> None:
        """`timestamp` gives Binance-clock milliseconds (`BinanceClient.timestamp`); a subscribe
        is signed with a fresh one each time. `attempts` is the process's one limiter of
        connection attempts."""
        self.settings = settings
        self._timestamp = timestamp
        self._on_event = on_event
        self._on_resync = on_resync
        self._on_key_failed = on_key_failed
        self._session = session
        self._owns_session = session is None
        self._governor = governor  # the bot's one weight budget, shared with REST
        self._attempts = attempts
        self._groups: list[SubscriptionGroup] = []
        self._group_of: dict[int, SubscriptionGroup] = {}
        self._queues = UserQueues()
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the first connection in the background; returns at once."""
        if self._started:
            raise RuntimeError("the user-data stream is already started")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._started = True
        self._new_group()

    async def stop(self) -> None:
        """Close every connection and drop undelivered events; pending callbacks are cancelled."""
        self._started = False
        await asyncio.gather(*(group.stop() for group in self._groups))
        self._groups.clear()
        self._group_of.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._queues.close()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> UserDataStream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- subscriptions -----------------------------------------------------------------------

    @property
    def subscribed_users(self) -> set[int]:
        """Users subscribed, or waiting to be (refused keys are not among them)."""
        return set(self._group_of)

    def epoch(self, user_id: int) -> int | None:
        """Changes whenever the user's events may have been missed (their connection lost and
        made again); None while it is down or the user is not followed. A renewal without a
        gap leaves it as it was."""
        group = self._group_of.get(user_id)
        if group is None or not group.connected:
            return None
        return group.gaps

    @property
    def renewals(self) -> int:
        """Connections renewed without a gap (no re-read follows them)."""
        return sum(group.renewals for group in self._groups)

    @property
    def connected(self) -> bool:
        """Every connection of the pool is open."""
        return bool(self._groups) and all(group.connected for group in self._groups)

    async def subscribe(self, user_id: int, credentials: ApiCredentials) -> bool:
        """Start (or keep) the user's event stream; with other credentials, replace it.

        Returns True once the subscription is live: events from now on are delivered. False
        when the key was refused (`on_key_failed` is called) or when it could not be made within
        `request_timeout` (Binance unreachable): it is then made as soon as possible and
        announced through `on_resync`.
        """
        if not self._started:
            raise RuntimeError("start() the user-data stream first")
        group = self._group_of.get(user_id) or self._group_with_room()
        self._group_of[user_id] = group
        future = group.add(user_id, credentials)
        try:
            done, _ = await asyncio.wait({future}, timeout=self.settings.request_timeout)
        finally:
            if not future.done():
                group.forget_waiter(user_id, future)
        return bool(done) and future.result()

    async def unsubscribe(self, user_id: int) -> None:
        """End the user's event stream; no event of theirs is delivered after this returns."""
        group = self._group_of.pop(user_id, None)
        if group is not None:
            group.remove(user_id)
        self._queues.discard(user_id)

    def _group_with_room(self) -> SubscriptionGroup:
        for group in self._groups:
            if group.has_room:
                return group
        return self._new_group()

    def _new_group(self) -> SubscriptionGroup:
        group = SubscriptionGroup(
            open_socket=self._open_socket,
            timestamp=self._timestamp,
            deliver=self._deliver,
            refused=self._refused,
            resync=self._resync,
            settings=self.settings,
        )
        self._groups.append(group)
        group.start()
        return group

    async def _open_socket(
        self, on_event: EventHandler, on_closed: Callable[[], None]
    ) -> WsApiSocket:
        return await WsApiSocket.open(
            present(self._session, "the user-data stream's HTTP session (started)"),
            self.settings.url,
            on_event,
            request_timeout=self.settings.request_timeout,
            silence_timeout=self.settings.silence_timeout,
            on_closed=on_closed,
            governor=self._governor,
            attempts=self._attempts,
        )

    # -- from the groups to the callbacks ----------------------------------------------------

    def _deliver(self, user_id: int, raw: dict[str, Any]) -> None:
        event = parse_user_event(raw)
        if event is not None:
            self._queues.push(user_id, lambda: self._on_event(user_id, event))

    def _refused(self, user_id: int, error: BinanceError) -> None:
        self._group_of.pop(user_id, None)
        self._queues.push(user_id, lambda: self._on_key_failed(user_id, error))

    def _resync(self, user_ids: list[int]) -> None:
        task = asyncio.create_task(self._run_resync(sorted(user_ids)), name="userdata-resync")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_resync(self, user_ids: list[int]) -> None:
        log.info("user-data resync for %d users", len(user_ids))
        try:
            await self._on_resync(user_ids)
        except Exception:
            log.exception("on_resync failed")
