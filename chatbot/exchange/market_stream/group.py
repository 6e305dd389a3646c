"""Up to 1024 streams on one socket that is kept open: reconnected, renewed, reconciled.

One supervisor task per group owns the socket; `want` and `drop` only change the wanted
streams and wake it. The supervisor then reconciles, UNSUBSCRIBE first (so the socket never
holds more than its capacity), each control message carrying up to `MAX_PARAMS` streams and
sent only when the socket's `ControlBudget` allows: adds and removes that arrive while it waits
are coalesced into the next message. Beyond that:

- a lost or silent socket is reopened after an exponential backoff with jitter (at least
  Binance's `Retry-After` after a 418/429 handshake: the `Supervisor` of ws/supervisor.py,
  which this group is), its streams in the URL where they fit;
- before Binance's 24 h cut (`renew_after`), or at once on `serverShutdown`, a new socket is
  opened and subscribed while the old one still delivers. The new socket's trades are held
  back, the old one's recorded, until the old socket answers a LIST_SUBSCRIPTIONS sent after
  the new subscriptions were confirmed: a socket is read in order, so by then the old one has
  delivered every trade printed before the new one took over. The held trades are then passed
  on, and the new socket's later ones, less those whose trade id the old socket already
  delivered (it may be ahead of the new one). Nothing is lost, nothing is delivered twice, each
  symbol's trades keep their order.
  Kline events go the same way, placed by (open time, last trade id, closed) instead of a trade
  id (`event_place`): within one candle the last trade id only grows and the closed event comes
  last, and a later candle opens later. So a closed candle is delivered exactly once. Binance
  also repeats an open candle's state every 2 s; such a repeat of a state the old socket
  delivered before the renewal began may be delivered again (a state, not a new event).

After every socket comes up and is subscribed (first connect, reconnect, renewal) the symbols it
carries, by their trades or their candles, are reported through `notify_gap`, so the owner can
read current prices and the candles it missed once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from chatbot.errors import present
from chatbot.exchange.errors import ConnectionLost
from chatbot.exchange.market_models import Kline
from chatbot.exchange.market_stream.settings import MarketStreamSettings
from chatbot.exchange.market_stream.socket import (
    MAX_PARAMS,
    ControlRefused,
    MarketSocket,
    Sink,
    StreamDisconnected,
    StreamTimeout,
    ignore,
)
from chatbot.exchange.ws.supervisor import Supervisor

log = logging.getLogger(__name__)

PriceHandler = Callable[[str, Decimal, int], None]
FundingHandler = Callable[[str, Decimal, int], None]  # (symbol, rate as a fraction, time ms)
KlineHandler = Callable[[str, str, Kline, bool], None]  # (symbol, interval, kline, closed)
SocketOpener = Callable[[list[str], Sink, Callable[[], None]], Awaitable[MarketSocket]]


class StreamGroup(Supervisor[MarketSocket]):
    """Up to `capacity` streams on one (reconnected, renewed) socket."""

    task_name = "market-stream-group"

    def __init__(
        self,
        *,
        open_socket: SocketOpener,
        on_price: PriceHandler,
        notify_gap: Callable[[list[str]], None],
        state_changed: Callable[[], None],
        settings: MarketStreamSettings,
        on_kline: KlineHandler | None = None,
        on_funding: FundingHandler | None = None,
    ) -> None:
        super().__init__(settings)
        self._open_socket = open_socket
        self._on_price = on_price
        self._on_kline = on_kline
        shape = settings.shape
        self._id_field = shape.place
        self._time_field = shape.time
        self._on_funding = on_funding if shape.funding else None
        self._notify_gap = notify_gap
        self._state_changed = state_changed
        self.capacity = settings.streams_per_socket
        # stream -> (symbol, interval: None for its trades), in the order they were wanted
        self.wanted: dict[str, tuple[str, str | None]] = {}
        self.trades: set[str] = set()  # the symbols whose trades are delivered
        self.klines: set[tuple[str, str]] = set()  # (symbol, interval)s whose candles go out
        self.rejected: set[str] = set()  # streams Binance refused; not asked for again
        self.socket: MarketSocket | None = None
        self.down = False
        self.settled = asyncio.Event()  # Binance holds exactly the wanted streams
        self.first_attempt = asyncio.Event()

    # -- what the owner uses -----------------------------------------------------------------

    @property
    def has_room(self) -> bool:
        return len(self.wanted) < self.capacity

    @property
    def connected(self) -> bool:
        return self.socket is not None and not self.socket.closed

    @property
    def symbols(self) -> list[str]:
        """Every symbol this group carries, by its trades or its candles, sorted."""
        return sorted({symbol for symbol, _ in self.wanted.values()})

    def want(self, stream: str, symbol: str, interval: str | None = None) -> None:
        """Want a symbol's trade stream, or with `interval` its kline stream."""
        self.wanted[stream] = (symbol, interval)
        if interval is None:
            self.trades.add(symbol)
        else:
            self.klines.add((symbol, interval))
        self._changed()

    def drop(self, stream: str) -> None:
        """Stop wanting a stream; its events stop being delivered at once."""
        entry = self.wanted.pop(stream, None)
        if entry is not None:
            symbol, interval = entry
            if interval is None:
                self.trades.discard(symbol)
            else:
                self.klines.discard((symbol, interval))
            self.rejected.discard(stream)
            self._changed()

    def _changed(self) -> None:
        self.settled.clear()
        self._wake.set()

    async def stop(self) -> None:
        self.trades, self.klines = set(), set()
        await super().stop()
        self.settled.set()  # nothing more will change: nobody should wait on it
        self.first_attempt.set()

    async def listed(self) -> set[str]:
        """The streams Binance says this group's socket holds (LIST_SUBSCRIPTIONS)."""
        socket = self.socket
        if socket is None or socket.closed:
            raise StreamDisconnected()
        await socket.budget.acquire()
        return set(await socket.request("LIST_SUBSCRIPTIONS"))

    def deliver(self, data: dict[str, Any]) -> None:
        """The hot path: one trade (or mark price) payload from the socket's reader to
        `on_price`, its funding rate to `on_funding`, or one kline payload to `on_kline`."""
        symbol = data["s"]
        candle = data.get("k")
        if candle is None:
            if symbol in self.trades:
                try:
                    self._on_price(symbol, Decimal(data["p"]), data[self._time_field])
                    if self._on_funding is not None and data.get("r"):
                        self._on_funding(symbol, Decimal(data["r"]), data[self._time_field])
                except Exception:  # the caller's bug must not end the stream for every symbol
                    log.exception("on_price failed for %s", symbol)
        elif (symbol, candle["i"]) in self.klines and self._on_kline is not None:
            try:
                self._on_kline(symbol, candle["i"], Kline.from_stream(candle), candle["x"])
            except Exception:
                log.exception("on_kline failed for %s %s", symbol, candle["i"])

    # -- the supervisor ----------------------------------------------------------------------

    async def _connect(self) -> None:
        socket = await self._open(self.deliver)
        self.first_attempt.set()
        self.socket = socket

    def _connect_failed(self, error: ConnectionLost) -> None:
        log.warning("market stream connection failed: %s", error.message)
        self.first_attempt.set()
        self._set_down(True)

    def _lost(self) -> None:
        self.settled.clear()
        self._set_down(True)
        log.warning("market stream lost; reconnecting (%d streams)", len(self.wanted))

    async def _open(self, sink: Sink) -> MarketSocket:
        streams = [s for s in self.wanted if s not in self.rejected]
        socket = await self._open_socket(streams, sink, self._wake.set)
        socket.renew_at = await self._adopt(socket)
        return socket

    async def _serve(self) -> None:
        """Keep the socket's subscriptions as wanted until it is lost (renewals replace it)."""
        socket = present(self.socket, "the group's socket (opened)")
        await self._reconcile(socket)
        if socket.closed:
            return
        self._came_up()
        while not self._stopped.is_set():
            socket = present(self.socket, "the group's socket (opened)")
            if socket.shutdown_announced or time.monotonic() >= socket.renew_at:
                await self._renew(socket)
                continue
            await self._wait_for_wake(socket.renew_at)
            self._wake.clear()
            await self._reconcile(socket)
            if socket.closed:
                return

    def _came_up(self) -> None:
        if symbols := self.symbols:
            self._notify_gap(symbols)
        self._set_down(False)

    def _set_down(self, down: bool) -> None:
        if self.down != down:
            self.down = down
            self._state_changed()

    # -- reconciling -------------------------------------------------------------------------

    async def _reconcile(self, socket: MarketSocket) -> None:
        """Send control messages until Binance holds exactly the wanted streams (or the socket
        is lost); UNSUBSCRIBE goes first, so the socket never holds more than its capacity."""
        while not socket.closed:
            stale, fresh = self._pending_changes(socket)
            if not stale and not fresh:
                if socket is self.socket:
                    self.settled.set()
                return
            await socket.budget.acquire()
            stale, fresh = self._pending_changes(socket)  # what arrived meanwhile rides along
            if stale:
                await self._send(socket, "UNSUBSCRIBE", stale[:MAX_PARAMS])
            elif fresh:
                await self._send(socket, "SUBSCRIBE", fresh[:MAX_PARAMS])

    def _pending_changes(self, socket: MarketSocket) -> tuple[list[str], list[str]]:
        told, wanted, rejected = socket.told, self.wanted, self.rejected
        stale = [s for s in told if s not in wanted]
        fresh = [s for s in wanted if s not in told and s not in rejected]
        return stale, fresh

    async def _send(self, socket: MarketSocket, method: str, streams: list[str]) -> None:
        subscribe = method == "SUBSCRIBE"
        if subscribe:
            socket.told.update(streams)  # at once: Binance applies messages in order
        else:
            socket.told.difference_update(streams)
        try:
            await socket.request(method, streams)
        except ControlRefused as error:
            log.warning("Binance refused %s of %d streams: %s", method, len(streams), error)
            if subscribe:
                socket.told.difference_update(streams)
                self.rejected.update(s for s in streams if s in self.wanted)
        except StreamTimeout:
            log.warning("market stream %s got no answer; reconnecting", method)
            await socket.close()
        except StreamDisconnected:
            pass  # the supervisor sees the socket closed

    # -- renewing ----------------------------------------------------------------------------

    async def _renew(self, old: MarketSocket) -> None:
        """Move every stream to a new socket without a gap; see the module docstring."""
        held: list[dict[str, Any]] = []
        seen: dict[Any, Any] = {}
        id_field, deliver = self._id_field, self.deliver

        def record(data: dict[str, Any]) -> None:
            key, place = event_place(data, id_field)
            seen[key] = place
            deliver(data)

        old.sink = record
        new: MarketSocket | None = None
        try:
            new = await self._open(held.append)
            await self._reconcile(new)
            await new.budget.acquire()
            await new.request("LIST_SUBSCRIPTIONS")  # answered: Binance serves the new socket
        except (ConnectionLost, StreamTimeout, ControlRefused) as exc:
            old.sink = deliver  # the old socket delivered everything meanwhile
            old.shutdown_announced = False
            old.renew_at = self._postponed(getattr(exc, "retry_after", None))
            log.warning("market stream renewal postponed: %s", exc.message)
            if new is not None:
                await new.close()
            return
        with contextlib.suppress(StreamDisconnected, StreamTimeout, ControlRefused):
            await old.budget.acquire()
            await old.request("LIST_SUBSCRIPTIONS")  # a barrier: see the module docstring
        self._hand_over(old, new, held, seen)
        await old.close()
        log.info("market stream renewed (%d streams)", len(self.wanted))
        self._came_up()

    def _hand_over(
        self,
        old: MarketSocket,
        new: MarketSocket,
        held: list[dict[str, Any]],
        seen: dict[Any, Any],
    ) -> None:
        """Make `new` the socket: pass on its held events, then its live ones, less those the
        old socket delivered (`seen`: the last place per stream, see `event_place`)."""
        id_field, deliver = self._id_field, self.deliver

        def catch_up(data: dict[str, Any]) -> None:  # the new socket may lag behind the old
            key, place = event_place(data, id_field)
            last = seen.get(key)
            if last is not None:
                if place <= last:
                    return
                del seen[key]
                if not seen:
                    new.sink = deliver
            deliver(data)

        old.sink = ignore  # from here on the new socket delivers everything
        new.sink = catch_up if seen else deliver
        for data in held:
            catch_up(data)
        self.socket = new


def event_place(data: dict[str, Any], id_field: str) -> tuple[Any, Any]:
    """Which stream an event belongs to, and its place in that stream's order: a trade's id
    (`id_field`; a mark price update's event time) for its symbol; (open time, last trade
    id, closed) for a symbol's candles of one interval, which orders the updates of a
    candle, its closed event after them, and the candles by their open time."""
    candle = data.get("k")
    if candle is None:
        return data["s"], data[id_field]
    return (data["s"], candle["i"]), (candle["t"], candle["L"], candle["x"])
