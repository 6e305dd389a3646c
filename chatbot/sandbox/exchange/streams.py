"""Market streams: `/ws`, `/ws/<streams>` (raw payloads) and `/stream?streams=` (combined).

Supported streams (symbols lowercase): `<s>@trade`, `<s>@aggTrade`, `<s>@bookTicker`,
`<s>@kline_<interval>`, `<s>@miniTicker`, `<s>@ticker` and `!miniTicker@arr`. Every print on
the tape publishes them at once (the ticker streams too, rather than Binance's 1 s cadence;
`!miniTicker@arr` carries the one symbol that changed). A kline stream whose candle rolled over
since its last event, or since it was subscribed, first gets the finished candle with `x: true`
(only the last one it saw: candles skipped whole, by a clock jump, are not streamed).

Control messages SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and GET_PROPERTY
(`combined`) answer like Binance, errors as `{"error": {"code", "msg"}, "id"}`. Limits: 1024
streams per connection, more than 5 incoming messages a second closes the connection.

Each event is serialized once per format and queued to every subscriber (see sockets.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from .candles import INTERVAL_MS, slot_open
from .market import Market, SymbolMarket
from .payloads import (
    Rolling,
    agg_trade_event,
    book_ticker_event,
    kline_event,
    mini_ticker_event,
    ticker_event,
    trade_event,
)
from .sockets import Channel, ChannelRegistry, MessageRate, SocketSettings, open_channel, pump
from .tape import Trade
from .wire import Clock, dumps

MAX_STREAMS = 1024
MESSAGES_PER_SECOND = 5
ALL_MINI_TICKERS = "!miniTicker@arr"
_INTERVALS = "|".join(re.escape(name) for name in INTERVAL_MS)
_STREAM = re.compile(
    rf"^[^@/A-Z\s]+@(trade|aggTrade|bookTicker|miniTicker|ticker|kline_({_INTERVALS}))$"
)
_METHODS = "SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY"


def valid_stream(name: object) -> bool:
    return isinstance(name, str) and (name == ALL_MINI_TICKERS or _STREAM.match(name) is not None)


class ControlError(Exception):
    """A control message Binance would refuse: `{"error": {"code", "msg"}, "id"}`."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


class StreamConnection:
    """One market-stream connection: its channel, its streams in order, its format."""

    def __init__(self, channel: Channel, combined: bool) -> None:
        self.channel = channel
        self.combined = combined
        self.streams: dict[str, None] = {}


class StreamHub:
    """Subscriptions by stream name, fed by every print on the market's tape."""

    messages_per_second = MESSAGES_PER_SECOND  # incoming frames a connection may send

    def __init__(
        self, market: Market, clock: Clock, registry: ChannelRegistry, settings: SocketSettings
    ) -> None:
        self._market = market
        self._clock = clock
        self._registry = registry
        self.settings = settings
        self._subscribers: dict[str, set[StreamConnection]] = {}
        self._kline_open: dict[str, int] = {}
        market.add_listener(self.on_trade)

    def valid(self, name: object) -> bool:
        """Whether `name` is a stream this hub serves (the futures hub serves others)."""
        return valid_stream(name)

    # -- publishing -------------------------------------------------------------------------

    def publish(self, stream: str, payload: Any) -> None:
        listeners = self._subscribers.get(stream)
        if not listeners:
            return
        raw = dumps(payload)
        combined = '{"stream":' + dumps(stream) + ',"data":' + raw + "}"
        for connection in listeners:
            connection.channel.send(combined if connection.combined else raw)

    def _wanted(self, stream: str) -> bool:
        return bool(self._subscribers.get(stream))

    def on_trade(self, state: SymbolMarket, trade: Trade) -> None:
        """Publish everything one print changes, for the streams someone listens to."""
        name = state.spec.name
        prefix = name.lower() + "@"
        now = self._clock.now_ms()
        if self._wanted(prefix + "trade"):
            self.publish(prefix + "trade", trade_event(state, trade, now))
        if self._wanted(prefix + "aggTrade"):
            self.publish(prefix + "aggTrade", agg_trade_event(state, trade, now))
        if self._wanted(prefix + "bookTicker"):
            self.publish(prefix + "bookTicker", book_ticker_event(self._market, name))
        for interval in INTERVAL_MS:
            if self._wanted(f"{prefix}kline_{interval}"):
                self._publish_kline(state, interval, trade.time, now)
        tickers = (prefix + "miniTicker", prefix + "ticker", ALL_MINI_TICKERS)
        if any(self._wanted(stream) for stream in tickers):
            roll = Rolling(self._market, name, now)
            self.publish(prefix + "miniTicker", mini_ticker_event(roll))
            self.publish(prefix + "ticker", ticker_event(roll))
            self.publish(ALL_MINI_TICKERS, [mini_ticker_event(roll)])

    def _publish_kline(self, state: SymbolMarket, interval: str, at: int, now: int) -> None:
        stream = f"{state.spec.name.lower()}@kline_{interval}"
        open_time = slot_open(interval, at)
        previous = self._kline_open.get(stream)
        if previous is not None and previous != open_time:
            finished = state.tape.candle(interval, previous)
            self.publish(stream, kline_event(state.spec.name, interval, finished, True, now))
        self._kline_open[stream] = open_time
        candle = state.tape.candle(interval, open_time)
        self.publish(stream, kline_event(state.spec.name, interval, candle, False, now))

    # -- subscriptions ----------------------------------------------------------------------

    def listeners(self, stream: str) -> int:
        """How many connections carry `stream` now: a trade published from then on reaches
        them (tests wait for this instead of for time)."""
        return len(self._subscribers.get(stream, ()))

    def subscribe(self, connection: StreamConnection, streams: list[str]) -> None:
        fresh = [s for s in dict.fromkeys(streams) if s not in connection.streams]
        if len(connection.streams) + len(fresh) > MAX_STREAMS:
            raise ControlError(2, f"Invalid request: too many streams (at most {MAX_STREAMS})")
        now = self._clock.now_ms()
        for stream in fresh:
            connection.streams[stream] = None
            self._subscribers.setdefault(stream, set()).add(connection)
            _, kline, interval = stream.partition("@kline_")
            if kline and stream not in self._kline_open:  # its candle closes with a later print
                self._kline_open[stream] = slot_open(interval, now)

    def unsubscribe(self, connection: StreamConnection, streams: list[str]) -> None:
        for stream in streams:
            connection.streams.pop(stream, None)
            listeners = self._subscribers.get(stream)
            if listeners is not None:
                listeners.discard(connection)
                if not listeners:
                    del self._subscribers[stream]
                    self._kline_open.pop(stream, None)

    # -- connections ------------------------------------------------------------------------

    async def raw(self, request: web.Request) -> web.StreamResponse:
        """`/ws` and `/ws/<stream>[/<stream>...]`: raw payloads."""
        tail = request.match_info.get("streams", "")
        return await self._serve(request, [s for s in tail.split("/") if s], combined=False)

    async def combined(self, request: web.Request) -> web.StreamResponse:
        """`/stream?streams=<a>/<b>`: payloads wrapped as `{"stream", "data"}`."""
        names = request.query.get("streams", "")
        return await self._serve(request, [s for s in names.split("/") if s], combined=True)

    async def _serve(
        self, request: web.Request, streams: list[str], *, combined: bool
    ) -> web.StreamResponse:
        if not all(self.valid(s) for s in streams) or len(set(streams)) > MAX_STREAMS:
            return web.Response(status=400, text="Invalid request: invalid stream")
        channel = await open_channel(request, self.settings, self._registry)
        connection = StreamConnection(channel, combined)
        self.subscribe(connection, streams)
        try:
            await pump(
                channel,
                lambda text: self._control(connection, text),
                MessageRate(self.messages_per_second),
            )
        finally:
            self.unsubscribe(connection, list(connection.streams))
            self._registry.discard(channel)
            await channel.stop()
        return channel.ws

    async def _control(self, connection: StreamConnection, text: str) -> bool:
        request_id: Any = None
        try:
            message = _parse(text)
            request_id = message.get("id")
            result = self._apply(connection, message)
            reply: dict[str, Any] = {"result": result, "id": request_id}
        except ControlError as error:
            reply = {"error": {"code": error.code, "msg": error.msg}, "id": request_id}
        connection.channel.send(dumps(reply))
        return True

    def _apply(self, connection: StreamConnection, message: dict[str, Any]) -> Any:
        method, params = message["method"], message.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(self.valid(p) for p in params):
                raise ControlError(2, "Invalid request: invalid stream")
            action = self.subscribe if method == "SUBSCRIBE" else self.unsubscribe
            action(connection, params)
            return None
        if method == "LIST_SUBSCRIPTIONS":
            return list(connection.streams)
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return _property(connection, method, params)
        raise ControlError(
            2, f"Invalid request: unknown variant `{method}`, expected one of {_METHODS}"
        )


def _parse(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise ControlError(
            3, f"Invalid JSON: expected value at line {error.lineno} column {error.colno}"
        ) from None
    if not isinstance(message, dict) or "method" not in message:
        raise ControlError(2, "Invalid request: missing field `method`")
    request_id = message.get("id")
    valid_id = request_id is None or (
        isinstance(request_id, int) and not isinstance(request_id, bool) and abs(request_id) < 2**63
    )
    if isinstance(request_id, str):
        valid_id = len(request_id) <= 36 and request_id.replace("-", "").isalnum()
    if not valid_id:
        raise ControlError(2, "Invalid request: invalid id")
    return message


def _property(connection: StreamConnection, method: str, params: Any) -> Any:
    if not isinstance(params, list) or not params or params[0] != "combined":
        raise ControlError(0, "Unknown property")
    if method == "GET_PROPERTY":
        return connection.combined
    if len(params) != 2 or not isinstance(params[1], bool):
        raise ControlError(1, "Invalid value type: expected Boolean")
    connection.combined = params[1]
    return None
