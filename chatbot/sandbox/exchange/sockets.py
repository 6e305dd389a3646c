"""WebSocket connections the way both the market streams and the WebSocket API need them.

Each connection gets a `Channel`: an unbounded outgoing queue drained by one writer task, so
publishing an event to thousands of subscribers is one `put_nowait` each and a slow client
never holds up the others (a client whose backlog passes `MAX_BACKLOG` is disconnected, as
Binance drops clients that cannot keep up). The server pings every `ping_interval` seconds and
closes a connection that has sent nothing, not even a pong, for `pong_timeout` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import WSCloseCode, WSMsgType, web

MAX_BACKLOG = 100_000


@dataclass(frozen=True)
class SocketSettings:
    """Binance's defaults: a ping every 20 s, disconnection after a minute without a pong."""

    ping_interval: float = 20.0
    pong_timeout: float = 60.0


class Channel:
    """The outgoing side of one WebSocket connection."""

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, settings: SocketSettings
    ) -> None:
        self.ws = ws
        self._request = request
        self._settings = settings
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.last_seen = time.monotonic()
        self.closed = False

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._write_loop()),
            asyncio.create_task(self._ping_loop()),
        ]

    def send(self, text: str) -> None:
        """Queue a text frame; never blocks the caller."""
        if self.closed:
            return
        if self._queue.qsize() >= MAX_BACKLOG:
            self.drop()
            return
        self._queue.put_nowait(text)

    async def _write_loop(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.ping_interval)
            if time.monotonic() - self.last_seen > self._settings.pong_timeout:
                await self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"Pong timeout")
                return
            try:
                await self.ws.ping()
            except (ConnectionError, RuntimeError):
                return

    def drop(self) -> None:
        """Cut the connection without a close frame, like a network failure."""
        self.closed = True
        transport = self._request.transport
        if transport is not None:
            transport.abort()

    async def stop(self) -> None:
        """Stop the writer and pinger (the connection is over)."""
        self.closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class ChannelRegistry:
    """Every open connection, so the simulator can drop them all at once."""

    def __init__(self) -> None:
        self._channels: set[Channel] = set()

    def add(self, channel: Channel) -> None:
        self._channels.add(channel)

    def discard(self, channel: Channel) -> None:
        self._channels.discard(channel)

    def __len__(self) -> int:
        return len(self._channels)

    async def drop_all(self) -> None:
        for channel in list(self._channels):
            channel.drop()
        await asyncio.sleep(0)


class MessageRate:
    """Incoming frames in the last second, for Binance's 5-messages-a-second rule."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._times: deque[float] = deque()

    def allow(self) -> bool:
        now = time.monotonic()
        self._times.append(now)
        while self._times and now - self._times[0] > 1.0:
            self._times.popleft()
        return len(self._times) <= self.per_second


TextHandler = Callable[[str], Awaitable[bool]]


async def open_channel(
    request: web.Request, settings: SocketSettings, registry: ChannelRegistry
) -> Channel:
    """Complete the WebSocket handshake and start the connection's writer and pinger."""
    ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
    await ws.prepare(request)
    channel = Channel(ws, request, settings)
    channel.start()
    registry.add(channel)
    return channel


async def pump(channel: Channel, on_text: TextHandler, rate: MessageRate | None = None) -> None:
    """Read frames until the connection ends; `on_text` returns False to end it.

    Pings are answered here (autoping is off so that every frame can be counted); a client
    sending frames faster than `rate` allows is disconnected with 1008.
    """
    ws = channel.ws
    while True:
        msg = await ws.receive()
        channel.last_seen = time.monotonic()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return
        if rate is not None and not rate.allow():
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"Too many messages")
            return
        if msg.type is WSMsgType.PING:
            await ws.pong(msg.data)
        elif msg.type is WSMsgType.TEXT and not await on_text(msg.data):
            await ws.close()
            return
