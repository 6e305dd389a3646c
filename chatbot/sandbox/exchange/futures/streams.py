"""Futures market streams: `/fstream/market/ws[/<streams>]` and `/fstream/market/stream?streams=`.

Binance routes USDⓈ-M streams by path since 2026-04-23: `/market` carries the regular market
data (markPrice, aggTrade, kline, ...), `/public` the high-frequency book data, `/private` user
data; a connection to the old unrouted `/ws` or `/stream` gets no `/market` stream's events,
silently. Here they share the simulator's port under `/fstream/market`, so
`sim.futures_stream_url` is `ws://host:port/fstream/market` and a client appends the same paths
it appends for spot. The unrouted paths are not served at all (a handshake to them fails), so a
client pointed at the old URL is seen at once rather than left waiting for events.

Streams (symbols lowercase): `<s>@markPrice` (every 3 s of real time while subscribed),
`<s>@markPrice@1s` (every second), both also at once when the mark price or the funding
rate moves (a spot print, `set_funding_rate`, `set_basis`); `<s>@aggTrade` and
`<s>@kline_<interval>` on every print, in futures shapes (futures prices, no `M` field).
Connections, control messages (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY,
GET_PROPERTY) and the 1024 streams per connection are the spot hub's own code (this class
says which streams exist and what they carry, and allows Binance's futures 10 incoming
messages a second where spot allows 5).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from ..candles import slot_open
from ..market import Market, SymbolMarket
from ..sockets import ChannelRegistry, SocketSettings
from ..streams import StreamHub
from ..tape import Trade
from ..wire import Clock
from .contracts import Contract
from .market import FuturesMarket
from .rest import FUTURES_INTERVALS

MARK_EVERY_SECONDS = 3
_INTERVALS = "|".join(re.escape(name) for name in FUTURES_INTERVALS)
_STREAM = re.compile(rf"^[^@/A-Z\s]+@(aggTrade|markPrice|markPrice@1s|kline_({_INTERVALS}))$")


class FuturesStreamHub(StreamHub):
    """The spot hub's connections and subscriptions, carrying futures events."""

    messages_per_second = 10  # Binance's futures streams: 10 incoming messages a second

    def __init__(
        self,
        market: Market,
        futures: FuturesMarket,
        clock: Clock,
        registry: ChannelRegistry,
        settings: SocketSettings,
    ) -> None:
        self._futures = futures
        super().__init__(market, clock, registry, settings)
        futures.add_mark_listener(self.publish_mark)
        self._ticker: asyncio.Task[None] | None = None

    def valid(self, name: object) -> bool:
        return isinstance(name, str) and _STREAM.match(name) is not None

    # -- the mark price timer ---------------------------------------------------------------

    def start(self) -> None:
        """Start publishing `@markPrice@1s` every second and `@markPrice` every 3 s."""
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None

    async def _tick(self) -> None:
        second = 0
        while True:
            await asyncio.sleep(1.0)
            second += 1
            suffixes = ["@markPrice@1s"]
            if second % MARK_EVERY_SECONDS == 0:
                suffixes.append("@markPrice")
            for contract in self._futures.contracts:
                prefix = contract.name.lower()
                for suffix in suffixes:
                    self._publish_mark_stream(contract.name, prefix + suffix)

    def publish_mark(self, name: str) -> None:
        """The mark price (or rate) moved: both mark streams of `name` hear it now."""
        prefix = name.lower()
        for suffix in ("@markPrice", "@markPrice@1s"):
            self._publish_mark_stream(name, prefix + suffix)

    def _publish_mark_stream(self, name: str, stream: str) -> None:
        if self._wanted(stream):
            self.publish(stream, self._futures.mark_price_event(name))

    # -- prints -----------------------------------------------------------------------------

    def on_trade(self, state: SymbolMarket, trade: Trade) -> None:
        name = state.spec.name
        if name not in self._futures.contracts:
            return
        contract = self._futures.contracts.get(name)
        prefix = name.lower() + "@"
        now = self._clock.now_ms()
        if self._wanted(prefix + "aggTrade"):
            self.publish(prefix + "aggTrade", self._agg_trade(contract, state, trade, now))
        for interval in FUTURES_INTERVALS:
            if self._wanted(f"{prefix}kline_{interval}"):
                self._publish_futures_kline(contract, interval, trade.time, now)

    def _agg_trade(
        self, contract: Contract, state: SymbolMarket, trade: Trade, now: int
    ) -> dict[str, Any]:
        price = self._futures.futures_price(contract, trade.price)
        qty = contract.qty(self._futures.trade_qty(contract, trade))
        return {
            "e": "aggTrade",
            "E": now,
            "s": contract.name,
            "a": state.last_agg_id,
            "p": contract.price(price),
            "q": qty,
            "nq": qty,  # without RPI orders: all of it, as the simulator has none
            "f": trade.id,
            "l": trade.id,
            "T": trade.time,
            "m": trade.buyer_is_maker,
        }

    def _publish_futures_kline(self, contract: Contract, interval: str, at: int, now: int) -> None:
        stream = f"{contract.name.lower()}@kline_{interval}"
        open_time = slot_open(interval, at)
        previous = self._kline_open.get(stream)
        if previous is not None and previous != open_time:
            self.publish(stream, self._kline(contract, interval, previous, True, now))
        self._kline_open[stream] = open_time
        self.publish(stream, self._kline(contract, interval, open_time, False, now))

    def _kline(
        self, contract: Contract, interval: str, open_time: int, closed: bool, now: int
    ) -> dict[str, Any]:
        spot = self._futures.spot_tape(contract).candle(interval, open_time)
        candle = self._futures.candle(contract, spot)
        return {
            "e": "kline",
            "E": now,
            "s": contract.name,
            "k": {
                "t": candle.open_time,
                "T": candle.close_time,
                "s": contract.name,
                "i": interval,
                "f": candle.first_trade_id,
                "L": candle.last_trade_id,
                "o": contract.price(candle.open),
                "c": contract.price(candle.close),
                "h": contract.price(candle.high),
                "l": contract.price(candle.low),
                "v": contract.qty(candle.volume),
                "n": candle.trades,
                "x": closed,
                "q": contract.price(candle.quote_volume),
                "V": contract.qty(candle.taker_volume),
                "Q": contract.price(candle.taker_quote),
                "B": "0",
            },
        }
