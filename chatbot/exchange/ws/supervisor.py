"""One socket kept open for a group: the loop both streams' groups build on.

A group (market_stream/group.py, user_stream/group.py) keeps its items on one socket at a time.
Keeping that socket is the same work for both, written here once:

- one task runs the loop: open a socket (the group's `_connect`, whose opener waits its turn in
  the process's `ConnectionAttempts`), serve it until it is lost (`_serve`), wait a backoff with
  jitter (`reconnect_delay`), open again. The backoff grows with each attempt that fails or
  whose socket is soon lost, is never shorter than Binance's `Retry-After` after a refused
  handshake (418/429), and starts over once a socket served longer than the backoff's cap;
- each socket gets its renewal deadline when it is adopted (`_adopt`: `renew_after` seconds
  after it opened, before Binance's 24 h cut) and serving waits for whichever comes first, a
  `wake()` or the next deadline (`_wait_for_wake`); a renewal that fails is retried after one
  backoff step (`_postponed`);
- `stop()` ends the loop and closes every socket the group opened (a renewal's new one too).
  Waits watch the stop flag as well as the task's cancellation: aiohttp can swallow a
  cancellation that arrives while a connection attempt fails.

What a socket carries, how it is served and how it is renewed without a gap is the group's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from typing import Generic, Protocol, TypeVar

from chatbot.exchange.errors import ConnectionLost
from chatbot.exchange.ws.backoff import reconnect_delay
from chatbot.exchange.ws.settings import StreamSettings

log = logging.getLogger(__name__)

MIN_WAIT = 0.05  # seconds; keeps a deadline already due from spinning the supervisor


class Socket(Protocol):
    """What the supervisor needs of a socket."""

    opened_at: float  # time.monotonic() when it opened

    @property
    def closed(self) -> bool: ...

    async def close(self) -> None: ...


S = TypeVar("S", bound=Socket)


class Supervisor(ABC, Generic[S]):
    """The loop that keeps one socket of type `S` open; see the module docstring. It reads
    `renew_after` and `backoff` (the first reconnect delay and its cap) of `settings`."""

    task_name = "websocket-group"

    def __init__(self, settings: StreamSettings) -> None:
        self._renew_after = settings.renew_after
        self._backoff = settings.backoff
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sockets: set[S] = set()

    # -- what the group implements -----------------------------------------------------------

    @abstractmethod
    async def _connect(self) -> None:
        """Open a socket and make it the group's current one; raises `ConnectionLost`."""

    def _connect_failed(self, error: ConnectionLost) -> None:
        """Note a failed attempt (the supervisor waits its backoff next)."""

    @abstractmethod
    async def _serve(self) -> None:
        """Serve the current socket (renewing it as due) until it is lost or the group stops."""

    def _lost(self) -> None:
        """Note that the socket was lost (the supervisor waits its backoff, then reconnects)."""

    # -- what the group uses -----------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """End the loop and close every socket; a stopped group is not started again."""
        self._stopped.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
        await self._close_sockets()

    def wake(self) -> None:
        """Have the supervisor look again now (a change is wanted, or a socket closed)."""
        self._wake.set()

    async def _adopt(self, socket: S) -> float:
        """Track a newly opened socket (`stop` closes it) and return its renewal deadline.
        Opened after `stop()`: closed at once, and `ConnectionLost` raised."""
        if self._stopped.is_set():
            await socket.close()
            raise ConnectionLost("stopped")
        self._sockets = {s for s in self._sockets if not s.closed}
        self._sockets.add(socket)
        return socket.opened_at + self._renew_after

    async def _wait_for_wake(self, deadline: float) -> None:
        """Wait for `wake()` or the monotonic `deadline`, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(MIN_WAIT, deadline - time.monotonic()))

    def _postponed(self, retry_after: float | None = None) -> float:
        """The deadline of the next try after a failed renewal (one backoff step away)."""
        return time.monotonic() + self._delay(1, retry_after)

    def _delay(self, attempt: int, retry_after: float | None = None) -> float:
        return reconnect_delay(attempt, *self._backoff, retry_after=retry_after)

    async def _close_sockets(self) -> None:
        await asyncio.gather(*(s.close() for s in self._sockets))

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._stopped.is_set():
            try:
                await self._connect()
            except ConnectionLost as exc:
                self._connect_failed(exc)
                await self._pause(self._delay(attempt, exc.retry_after))
                attempt += 1
                continue
            up_since = time.monotonic()
            try:
                await self._serve()
            except Exception:  # a bug here must not end the group for good
                log.exception("%s supervisor failed; reconnecting", self.task_name)
                await self._close_sockets()
            attempt = 0 if time.monotonic() - up_since > self._backoff[1] else attempt + 1
            if not self._stopped.is_set():
                self._lost()
                await self._pause(self._delay(attempt))

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake for `stop()`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)
