"""One market-stream manager for the whole bot: every watched symbol's trades and candles.

    settings = MarketStreamSettings(url="wss://stream.binance.com:9443")
    stream = MarketStream(settings, on_price=on_price, on_kline=on_kline, on_gap=on_gap,
                          on_state=on_state)
    await stream.start()
    await stream.add("BTCUSDT")      # counted: the first add subscribes btcusdt@trade
    await stream.add_klines("BTCUSDT", "1h")  # counted too: btcusdt@kline_1h
    await stream.remove_klines("BTCUSDT", "1h")  # the last remove unsubscribes
    await stream.remove("BTCUSDT")
    await stream.stop()

Streams (a symbol's trades, its candles of one interval) are spread over groups, each holding
at most `streams_per_socket` streams on one combined-stream socket (`/stream?streams=`) at a
time; a group is opened when the others are full and closed when its last stream goes (the
first one stays). Each group is supervised on its own (see group.py): paced, coalesced
SUBSCRIBE/UNSUBSCRIBE, reconnection with backoff and jitter, a gap-free renewal before
Binance's 24 h cut, replacement of a silent socket.

What the caller gets:
- `on_price(symbol, price, trade_time_ms)` is a plain function, called in the socket's reader
  for every trade, in order per symbol: it must not block (start a task for slow work). Price
  is the exact `Decimal` of Binance's string; time is the trade's time `T`, ms since the epoch.
  Its exceptions are logged and swallowed. Once `remove()` takes a symbol's last reference, no
  further trade of it is delivered.
- `on_kline(symbol, interval, kline, closed)` is a plain function too, called in the reader for
  every event of a kline stream (`add_klines`), in order per stream: the candle's state so far
  (`closed` False) and, once, the finished candle (`closed` True, Binance's `x`). A renewal
  delivers each closed candle exactly once (see group.py). Its exceptions are logged and
  swallowed.
- On the futures channel `markPrice@1s` (`MarketStreamSettings.channel`), `add()` follows a
  contract's mark price (`btcusdt@markPrice@1s`): `on_price(symbol, mark, event_time_ms)`
  every second, and `on_funding(symbol, rate, event_time_ms)` with the same payload's funding
  rate (a fraction: 0.0001 is 0.01%), both plain functions like `on_price`.
- `add()` and `remove()` (and their kline twins) return at once (they never wait for Binance,
  so adding thousands of symbols one by one costs a few SUBSCRIBE messages). A new stream's
  events flow from when Binance confirms the subscription, which `await settle()` waits for.
- `on_gap(symbols)` is awaited after a group's socket comes up and is subscribed (first connect,
  reconnect, renewal), listing the symbols it carries, by trades or candles: events may have
  been missed before, so the caller reads the current prices (and the candles closed
  meanwhile) once over REST and evaluates them.
- `on_state(False)` is awaited when the stream as a whole goes down (any group lost or
  failing to connect; `down_since` is then the `time.time()` of that moment) and
  `on_state(True)` when every group is back, after the `on_gap` calls of the recovery.
- Callbacks `on_gap` and `on_state` run one at a time, in order, in a task of their own: a slow
  one delays the next notification, never the prices.

Every connection attempt (first, reconnect, renewal) waits its turn in `attempts`, the
process's one limiter of Binance's connection attempts per IP, when one is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from chatbot.errors import present
from chatbot.exchange.market_models import KLINE_INTERVALS
from chatbot.exchange.market_stream.group import (
    FundingHandler,
    KlineHandler,
    PriceHandler,
    StreamGroup,
)
from chatbot.exchange.market_stream.settings import MarketStreamSettings
from chatbot.exchange.market_stream.socket import (
    ControlBudget,
    MarketSocket,
    Sink,
    combined_url,
    kline_stream_name,
    normalize_symbol,
    stream_name,
)
from chatbot.exchange.ws.attempts import ConnectionAttempts

log = logging.getLogger(__name__)

GapHandler = Callable[[list[str]], Awaitable[None]]
StateHandler = Callable[[bool], Awaitable[None]]


class MarketStream:
    """Trades of every added symbol, delivered to `on_price`, and candles of every added
    (symbol, interval), delivered to `on_kline`; see the module docstring."""

    def __init__(
        self,
        settings: MarketStreamSettings,
        *,
        on_price: PriceHandler,
        on_kline: KlineHandler | None = None,
        on_funding: FundingHandler | None = None,
        on_gap: GapHandler | None = None,
        on_state: StateHandler | None = None,
        session: aiohttp.ClientSession | None = None,
        attempts: ConnectionAttempts | None = None,
    ) -> None:
        if inspect.iscoroutinefunction(on_price):
            raise TypeError("on_price must be a plain function; start a task for async work")
        if inspect.iscoroutinefunction(on_kline) or inspect.iscoroutinefunction(on_funding):
            raise TypeError("on_kline and on_funding must be plain functions")
        self.settings = settings
        self._on_price = on_price
        self._on_kline = on_kline
        self._on_funding = on_funding
        self._on_gap = on_gap
        self._on_state = on_state
        self._session = session
        self._own_session = session is None
        self._attempts = attempts  # Binance's per-IP limit on connection attempts, shared
        self._refs: dict[str, int] = {}  # by stream name
        self._streams: dict[str, tuple[str, str | None]] = {}  # stream -> (symbol, interval)
        self._home: dict[str, StreamGroup] = {}
        self._groups: list[StreamGroup] = []
        self._retiring: set[asyncio.Task[None]] = set()
        self._notes: asyncio.Queue[tuple[Callable[[Any], Awaitable[None]], Any]] | None = None
        self._notifier: asyncio.Task[None] | None = None
        self._started = False
        self._stopped = False
        self._up = True  # as last reported through on_state (nothing reported yet: up)
        self.down_since: float | None = None

    # -- state -------------------------------------------------------------------------------

    @property
    def symbols(self) -> set[str]:
        """The symbols whose trades were added and not yet removed (a copy)."""
        return {symbol for symbol, interval in self._streams.values() if interval is None}

    @property
    def klines(self) -> set[tuple[str, str]]:
        """The (symbol, interval)s whose candles were added and not yet removed (a copy)."""
        return {(s, i) for s, i in self._streams.values() if i is not None}

    @property
    def connected(self) -> bool:
        """Every group's socket is open (subscriptions may still be on their way)."""
        return self._started and all(c.connected for c in self._groups)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the first group's socket; returns once it is open or its first attempt failed
        (it is then retried in the background, and `on_state(False)` is called)."""
        if self._stopped:
            raise RuntimeError("a stopped MarketStream cannot be started again")
        if self._started:
            return
        self._started = True
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._notes = asyncio.Queue()
        self._notifier = asyncio.create_task(self._notify_loop(), name="market-stream-notes")
        if not self._groups:
            self._groups.append(self._new_group())
        for group in self._groups:
            group.start()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.request_timeout + 1):
                await self._groups[0].first_attempt.wait()

    async def stop(self) -> None:
        """Close every group's sockets (each close handshake takes at most 1 s, all at once) and
        drop pending notifications. A stopped stream is not started again."""
        self._started, self._stopped = False, True
        await asyncio.gather(*(c.stop() for c in self._groups), *self._retiring)
        if self._notifier is not None:
            self._notifier.cancel()
            await asyncio.wait({self._notifier})
            self._notifier = None
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def settle(self) -> None:
        """Wait until Binance holds exactly the wanted streams on every group (which
        includes waiting for a lost group to come back: use a timeout)."""
        while unsettled := [c for c in self._groups if not c.settled.is_set()]:
            await unsettled[0].settled.wait()

    async def subscriptions(self) -> list[set[str]]:
        """What Binance says each group holds (LIST_SUBSCRIPTIONS: one paced control
        message per group), for diagnostics and tests. Raises `StreamDisconnected` when a
        group's socket is not open."""
        return [await c.listed() for c in list(self._groups)]

    # -- subscriptions -----------------------------------------------------------------------

    async def add(self, symbol: str) -> None:
        """Watch a symbol's trades (case-insensitive); counted, so each add wants a `remove`.
        Raises ValueError for a name that cannot be a symbol."""
        name = normalize_symbol(symbol)
        self._take(stream_name(name, self.settings.channel), name, None)

    async def remove(self, symbol: str) -> None:
        """Drop one reference; the last one unsubscribes (removing more than added: no-op)."""
        self._release(stream_name(normalize_symbol(symbol), self.settings.channel))

    async def add_klines(self, symbol: str, interval: str) -> None:
        """Watch a symbol's candles of one of Binance's intervals (`1m`, `1h`, `1M`, ...,
        case-sensitive); counted like `add`, and a kline stream counts against
        `streams_per_socket` like a trade stream. Raises ValueError for a bad symbol or
        interval, TypeError when the stream was built without `on_kline`."""
        name = normalize_symbol(symbol)
        if interval not in KLINE_INTERVALS:
            raise ValueError(f"not one of Binance's kline intervals: {interval!r}")
        if self._on_kline is None:
            raise TypeError("this market stream was built without on_kline")
        self._take(kline_stream_name(name, interval), name, interval)

    async def remove_klines(self, symbol: str, interval: str) -> None:
        """Drop one reference; the last one unsubscribes (removing more than added: no-op)."""
        self._release(kline_stream_name(normalize_symbol(symbol), interval))

    def _take(self, stream: str, symbol: str, interval: str | None) -> None:
        count = self._refs.get(stream, 0)
        self._refs[stream] = count + 1
        if count:
            return
        group = next((c for c in self._groups if c.has_room), None)
        if group is None:
            group = self._new_group()
            self._groups.append(group)
            if self._started:
                group.start()
        group.want(stream, symbol, interval)
        self._streams[stream] = (symbol, interval)
        self._home[stream] = group

    def _release(self, stream: str) -> None:
        count = self._refs.get(stream, 0)
        if count > 1:
            self._refs[stream] = count - 1
            return
        if not count:
            return
        del self._refs[stream], self._streams[stream]
        group = self._home.pop(stream)
        group.drop(stream)
        if not group.wanted and group is not self._groups[0]:
            self._groups.remove(group)
            task = asyncio.create_task(group.stop())
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
            self._state_changed()

    # -- wiring ------------------------------------------------------------------------------

    def _new_group(self) -> StreamGroup:
        return StreamGroup(
            open_socket=self._open_socket,
            on_price=self._on_price,
            on_kline=self._on_kline,
            on_funding=self._on_funding,
            notify_gap=self._gap,
            state_changed=self._state_changed,
            settings=self.settings,
        )

    async def _open_socket(
        self, streams: list[str], sink: Sink, wake: Callable[[], None]
    ) -> MarketSocket:
        session = present(self._session, "the market stream's HTTP session (started)")
        settings = self.settings
        url, carried = combined_url(settings.url, streams, settings.max_url_chars)
        return await MarketSocket.open(
            session,
            url,
            carried,
            event=settings.shape.event,
            sink=sink,
            wake=wake,
            budget=ControlBudget(settings.control_rate),
            silence_timeout=settings.silence_timeout,
            request_timeout=settings.request_timeout,
            attempts=self._attempts,
        )

    def _gap(self, symbols: list[str]) -> None:
        if self._on_gap is not None and self._notes is not None:
            self._notes.put_nowait((self._on_gap, symbols))

    def _state_changed(self) -> None:
        up = not any(c.down for c in self._groups)
        if up == self._up:
            return
        self._up = up
        self.down_since = None if up else time.time()
        log.warning("market stream %s", "is back" if up else "is down")
        if self._on_state is not None and self._notes is not None:
            self._notes.put_nowait((self._on_state, up))

    async def _notify_loop(self) -> None:
        notes = present(self._notes, "the market stream's notice queue (started)")
        while True:
            callback, argument = await notes.get()
            try:
                await callback(argument)
            except Exception:
                log.exception("market stream callback %s failed", callback)
