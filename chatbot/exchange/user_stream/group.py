"""A group of users whose user-data subscriptions share one WebSocket API connection.

One supervisor task per group owns the socket and every subscription on it; callers only
change the wanted membership (`add`, `remove`) and wake it. The supervisor then reconciles:
subscribes wanted users who are not subscribed, unsubscribes the others, and keeps that true
across the socket's life:

- a lost socket is reopened after an exponential backoff with jitter (at least Binance's
  `Retry-After` after a 418/429 handshake: the `Supervisor` of ws/supervisor.py, which this
  group is), and everyone is subscribed again with a freshly signed request;
- before Binance's 24 h cut (`renew_after`), or at once on `serverShutdown`, a new socket is
  opened and everyone subscribed on it while the old one still delivers. Events arriving on the
  new socket are held back until the old socket has answered `userDataStream.unsubscribe` (by
  then it has delivered all it ever will, as a socket is read in order); the held events are
  then passed on, less those the old socket already delivered. Nothing is lost, nothing is
  delivered twice, and each user's events keep their order;
- a user whose key is refused (`AuthError`: -2015, -1022, -2014) leaves the group and is
  reported once; other refusals (-1021, -1003, ...) are retried after a backoff;
- Binance hands out at most `subscription_ids` subscription ids over a session's life (65,535;
  users coming and going use them up). Once fewer than `capacity` are left the socket is
  renewed as above, so everyone fits on the next one; a -2042 ("Maximum subscription ID
  reached") renews at once and the user is subscribed on the new socket: it is never the
  user's failure.

Whoever got subscribed without a caller waiting on it (after a reconnect, a renewal, a retry)
is reported through `resync`: events may have been missed before the subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from chatbot.errors import present
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import AuthError, BinanceError, ConnectionLost
from chatbot.exchange.signing import ws_payload
from chatbot.exchange.user_stream.delivery import event_key
from chatbot.exchange.user_stream.group_state import Link, Member
from chatbot.exchange.user_stream.settings import UserStreamSettings
from chatbot.exchange.user_stream.socket import (
    EventHandler,
    WsApiDisconnected,
    WsApiSocket,
    WsApiTimeout,
)
from chatbot.exchange.ws.supervisor import Supervisor

log = logging.getLogger(__name__)

Opener = Callable[[EventHandler, Callable[[], None]], Awaitable[WsApiSocket]]
_IN_FLIGHT = 32  # subscribe requests outstanding at once on one socket
MAX_ID_REACHED = -2042  # "Maximum subscription ID reached for this connection."


class SubscriptionGroup(Supervisor[WsApiSocket]):
    """Up to `capacity` users' subscriptions on one (reconnected, renewed) socket."""

    task_name = "userdata-group"

    def __init__(
        self,
        *,
        open_socket: Opener,
        timestamp: Callable[[], int],
        deliver: Callable[[int, dict[str, Any]], None],
        refused: Callable[[int, BinanceError], None],
        resync: Callable[[list[int]], None],
        settings: UserStreamSettings,
    ) -> None:
        super().__init__(settings)
        self._open_socket = open_socket
        self._timestamp = timestamp
        self._deliver = deliver
        self._refused = refused
        self._resync = resync
        self.capacity = settings.users_per_socket
        self._subscription_ids = settings.subscription_ids
        self.members: dict[int, Member] = {}
        self._link: Link | None = None
        self._seen: set[Any] | None = None  # events the old socket delivered during a renewal
        self._renew_now = False
        self._in_flight = asyncio.Semaphore(_IN_FLIGHT)
        self.renewals = 0  # connections renewed without a gap
        self.gaps = 0  # sockets opened after none or a lost one (each a gap in the events)

    # -- what callers use --------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._link is not None and not self._link.socket.closed

    @property
    def has_room(self) -> bool:
        return len(self.members) < self.capacity

    def add(self, user_id: int, credentials: ApiCredentials) -> asyncio.Future[bool]:
        """Want a subscription for the user; the future says whether it is live (False: refused,
        or removed before it was made). Already live with the same key: resolved at once."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        member = self.members.get(user_id)
        if member is None or member.credentials.api_key != credentials.api_key:
            member = Member(credentials, waiters=member.waiters if member else [])
            self.members[user_id] = member
        member.credentials = credentials
        member.failures, member.retry_at = 0, 0.0
        if self._is_live(user_id, credentials):
            future.set_result(True)
        else:
            member.waiters.append(future)
            self._wake.set()
        return future

    def forget_waiter(self, user_id: int, future: asyncio.Future[bool]) -> None:
        """The caller stopped waiting: report the subscription through `resync` instead."""
        member = self.members.get(user_id)
        if member is not None and future in member.waiters:
            member.waiters.remove(future)

    def remove(self, user_id: int) -> None:
        """Stop wanting the user's subscription; their events stop at once."""
        member = self.members.pop(user_id, None)
        if member is not None:
            member.settle(False)
            self._wake.set()

    async def stop(self) -> None:
        await super().stop()
        for member in self.members.values():
            member.settle(False)

    def _is_live(self, user_id: int, credentials: ApiCredentials) -> bool:
        link = self._link
        if link is None or link.socket.closed or user_id not in link.users:
            return False
        return link.users[user_id][1].api_key == credentials.api_key

    # -- the supervisor ----------------------------------------------------------------------

    async def _connect(self) -> None:
        self._link, self._seen = await self._open_link(), None
        self.gaps += 1

    def _connect_failed(self, error: ConnectionLost) -> None:
        log.warning("user-data connection failed: %s", error.message)

    def _lost(self) -> None:
        log.warning("user-data connection lost; reconnecting (%d users)", len(self.members))

    async def _serve(self) -> None:
        """Keep the link's subscriptions as wanted until the socket is lost (a renewal
        replaces the link)."""
        link = present(self._link, "the group's link (opened)")
        while not self._stopped.is_set():
            self._wake.clear()
            self._resync_users(await self._reconcile(link))
            if link.socket.closed:
                return
            if self._renew_now or time.monotonic() >= link.renew_at:
                link = await self._renew(link)
                continue
            await self._wait_for_wake(self._next_deadline(link))
            if link.socket.closed:
                return

    def _next_deadline(self, link: Link) -> float:
        """The renewal, or the earliest retry of a user not subscribed."""
        deadlines = [link.renew_at]
        deadlines += [m.retry_at for u, m in self.members.items() if u not in link.users]
        return min(deadlines)

    async def _open_link(self) -> Link:
        link = Link()
        link.conn = await self._open_socket(functools.partial(self._on_event, link), self._wake.set)
        link.renew_at = await self._adopt(link.conn)
        return link

    # -- reconciling -------------------------------------------------------------------------

    async def _reconcile(self, link: Link) -> list[int]:
        """Subscribe who is wanted and unsubscribe who is not; returns the users subscribed
        now that no caller was waiting for."""
        if link.socket.closed:
            return []
        stale = [u for u, (_, creds) in link.users.items() if not self._wants(u, creds)]
        now = time.monotonic()
        missing = [u for u, m in self.members.items() if u not in link.users and m.retry_at <= now]
        await asyncio.gather(*(self._unsubscribe(link, u) for u in stale))
        outcomes = await asyncio.gather(*(self._subscribe(link, u) for u in missing))
        return [user for user, unannounced in zip(missing, outcomes, strict=True) if unannounced]

    def _wants(self, user_id: int, credentials: ApiCredentials) -> bool:
        member = self.members.get(user_id)
        return member is not None and member.credentials.api_key == credentials.api_key

    async def _subscribe(self, link: Link, user_id: int) -> bool:
        """One signed subscribe; True when it went live with no caller waiting for it."""
        member = self.members.get(user_id)
        if member is None:
            return False  # removed while other requests were under way
        credentials = member.credentials
        params: dict[str, Any] = {
            "apiKey": credentials.api_key.get_secret_value(),
            "timestamp": self._timestamp(),
        }
        params["signature"] = credentials.signer.sign(ws_payload(params))
        bind = functools.partial(link.bind, user_id, credentials)
        self._spend_id(link)
        try:
            async with self._in_flight:
                await link.socket.request(
                    "userDataStream.subscribe.signature", params, on_result=bind
                )
        except AuthError as error:
            self._refuse(user_id, member, error)
            return False
        except WsApiTimeout:
            log.warning("user-data subscribe timed out; reconnecting")
            await link.socket.close()
            return False
        except WsApiDisconnected:
            return False
        except BinanceError as error:
            if error.code == MAX_ID_REACHED:  # the socket's fault: the next one subscribes them
                log.info("user-data connection used up its subscription ids; renewing")
                self._renew_now = True
            else:
                self._postpone(user_id, member, error)
            return False
        if self.members.get(user_id) is not member:
            return False  # removed or re-keyed meanwhile: the next reconcile unsubscribes it
        member.failures = 0
        unannounced = not member.waiters
        member.settle(True)
        return unannounced

    async def _unsubscribe(self, link: Link, user_id: int) -> None:
        subscription_id = link.unbind(user_id)
        if subscription_id is None:
            return
        try:
            async with self._in_flight:
                await link.socket.request(
                    "userDataStream.unsubscribe", {"subscriptionId": subscription_id}
                )
        except BinanceError as error:  # gone already (-2036) or the socket is: either is fine
            log.debug("user-data unsubscribe failed: %s", error.code)

    def _refuse(self, user_id: int, member: Member, error: BinanceError) -> None:
        if self.members.get(user_id) is not member:
            return
        log.warning("user %s: Binance refused the key for user data (%s)", user_id, error.code)
        del self.members[user_id]
        member.settle(False)
        self._refused(user_id, error)

    def _postpone(self, user_id: int, member: Member, error: BinanceError) -> None:
        delay = self._delay(member.failures, getattr(error, "retry_after", None))
        member.failures += 1
        member.retry_at = time.monotonic() + delay
        log.warning(
            "user %s: user-data subscribe failed (%s); retry in %.1f s", user_id, error.code, delay
        )

    def _spend_id(self, link: Link) -> None:
        """Count a subscribe on the link; when fewer than `capacity` ids are left, renew the
        link now (once: a postponed renewal keeps its new deadline)."""
        link.ids_used += 1
        if self._subscription_ids - link.ids_used == self.capacity:
            link.renew_at = min(link.renew_at, time.monotonic())

    def _resync_users(self, users: list[int]) -> None:
        wanted = [u for u in users if u in self.members]
        if wanted:
            self._resync(wanted)

    # -- renewing ----------------------------------------------------------------------------

    async def _renew(self, old: Link) -> Link:
        """Move every subscription to a new socket without a gap; see the module docstring."""
        self._renew_now = False
        try:
            new = await self._open_link()
        except ConnectionLost as exc:
            old.renew_at = self._postponed(exc.retry_after)
            log.warning("user-data renewal postponed: %s", exc.message)
            return old
        new.held, self._seen = [], set()
        carried = set(old.users)  # these users' events flow on without a gap
        announced = await self._reconcile(new)
        if new.socket.closed and not old.socket.closed:
            new.held, self._seen = None, None
            old.renew_at = self._postponed()
            log.warning("user-data renewal failed; keeping the current connection")
            return old
        with contextlib.suppress(BinanceError):
            await old.socket.request("userDataStream.unsubscribe")
        old.users.clear()
        old.by_subscription.clear()
        self._link = new
        self._release(new)
        await old.socket.close()
        log.info("user-data connection renewed (%d users)", len(new.users))
        self.renewals += 1
        # No re-read for users carried over: nothing was missed (a REST re-read costs weight).
        self._resync_users([user for user in announced if user not in carried])
        return new

    def _release(self, link: Link) -> None:
        """Pass on the events held during a renewal, less those already delivered."""
        held, seen = link.held or [], self._seen or set()
        link.held, self._seen = None, None
        for user_id, event in held:
            if user_id in self.members and (user_id, event_key(event)) not in seen:
                self._deliver(user_id, event)

    # -- events (called by the socket's reader, in frame order) ------------------------------

    def _on_event(self, link: Link, subscription_id: int | None, event: dict[str, Any]) -> None:
        kind = event.get("e")
        if subscription_id is None:
            if kind == "serverShutdown":
                log.info("Binance announced a server shutdown; renewing the connection")
                self._renew_now = True
                self._wake.set()
            return
        if kind == "eventStreamTerminated":
            self._on_terminated(link, subscription_id)
            return
        user_id = link.by_subscription.get(subscription_id)
        if user_id is None or user_id not in self.members:
            return
        if link.held is not None:
            link.held.append((user_id, event))
        elif link is self._link:
            if self._seen is not None:
                self._seen.add((user_id, event_key(event)))
            self._deliver(user_id, event)

    def _on_terminated(self, link: Link, subscription_id: int) -> None:
        """Binance ended a subscription we did not end: subscribe again (and resync)."""
        user_id = link.by_subscription.get(subscription_id)
        if user_id is not None:
            link.unbind(user_id)
            self._wake.set()
