"""One combined market-stream socket (`/stream?streams=`), and the pure rules it follows.

Frames are `{"stream": "<name>", "data": <payload>}` for events and `{"result", "id"}` (or an
error, `{"error": {"code", "msg"}, "id"}` / `{"code", "msg", "id"}`) for control answers, all
read in order by one reader task (`JsonSocket`, ws/socket.py). `_on_text` is the hot path: it
parses a frame, and a payload whose `e` is the channel's event (`trade`, `aggTrade`,
`markPriceUpdate`: `CHANNELS`) or `kline` goes straight to `sink` (one attribute call, no
copy). The owner swaps `sink` to hold or record events while it moves streams to a new socket.

What an owner must know:
- Binance counts every incoming frame, pings and pongs included, against 5 a second (10 on
  the futures streams) and cuts the connection beyond that. `ControlBudget` paces control
  messages and leaves room for the pong aiohttp sends back to Binance's ping (`autoping`);
  callers `await budget.acquire()` before each `request`. The socket sends no pings of its own.
- Binance pings every 20 s (every 3 min on the futures streams), so a healthy socket is never
  silent for long: one on which no frame at all arrived for `silence_timeout` seconds is
  closed (and `wake` is called).
- `wake` is also called when Binance announces `serverShutdown`; `shutdown_announced` is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from chatbot.exchange.errors import (
    BinanceError,
    ConnectionLost,
    ExchangeUnavailable,
)
from chatbot.exchange.ws.attempts import ConnectionAttempts
from chatbot.exchange.ws.connect import connect
from chatbot.exchange.ws.socket import JsonSocket

log = logging.getLogger(__name__)

Sink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Channel:
    """What a channel's payloads look like: their `e` (`event`), the field that orders one
    symbol's events (`place`: a trade's id; a mark price update has none, its event time
    `E` grows), the time handed to `on_price` (`time`: a trade's `T`; a mark price update's
    `T` is the NEXT FUNDING time, so its `E`), and whether it carries a funding rate `r`."""

    event: str
    place: str
    time: str
    funding: bool = False


CHANNELS = {
    "trade": Channel("trade", "t", "T"),
    "aggTrade": Channel("aggTrade", "a", "T"),
    "markPrice@1s": Channel("markPriceUpdate", "E", "E", funding=True),  # USDⓈ-M futures
}
KLINE_EVENT = "kline"  # the `e` of every `<symbol>@kline_<interval>` payload
MAX_PARAMS = 200  # streams per SUBSCRIBE: Binance silently ignores much larger messages
MAX_URL_STREAM_CHARS = 4000  # stream names carried in the connect URL; the rest are SUBSCRIBEd
_MAX_MESSAGE = 1 << 20
_loads = json.loads


class StreamDisconnected(ConnectionLost):
    """The market-stream socket is closed or could not be opened."""

    default_message = "The connection to Binance's market streams was lost."


class StreamTimeout(ExchangeUnavailable):
    default_message = "Binance's market streams did not answer a control message in time."


class ControlRefused(BinanceError):
    """Binance refused a control message (`code` 0-3, see the stream docs)."""


# -- pure rules ------------------------------------------------------------------------------


def normalize_symbol(symbol: str) -> str:
    """`btcusdt` -> `BTCUSDT`; raises ValueError for what cannot be a stream's symbol."""
    name = symbol.strip().upper()
    if not name or any(c in name for c in "@/ ") or not name.isprintable():
        raise ValueError(f"not a symbol: {symbol!r}")
    return name


def stream_name(symbol: str, channel: str) -> str:
    """The stream of a normalized symbol: Binance wants the symbol in lower case."""
    return f"{symbol.lower()}@{channel}"


def kline_stream_name(symbol: str, interval: str) -> str:
    """The candle stream of a normalized symbol: `btcusdt@kline_1h` (the interval keeps its
    case: `1m` is a minute, `1M` a month)."""
    return f"{symbol.lower()}@kline_{interval}"


def combined_url(
    base: str, streams: Iterable[str], max_chars: int = MAX_URL_STREAM_CHARS
) -> tuple[str, list[str]]:
    """The `/stream?streams=` URL carrying as many of `streams` (in order) as fit in
    `max_chars`, and the list of those carried; subscribing in the URL costs no control
    message, which makes a reconnect quick."""
    carried: list[str] = []
    used = 0
    for stream in streams:
        used += len(stream) + 1
        if used > max_chars + 1:
            break
        carried.append(stream)
    url = base.rstrip("/") + "/stream"
    return (url + "?streams=" + "/".join(carried) if carried else url), carried


def batches(items: list[str], size: int = MAX_PARAMS) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ControlBudget:
    """At most `capacity` frames in any `window` seconds, for Binance's per-connection limit.

    From `control_rate` frames a second, one is left over for the pong answering Binance's
    ping (which we cannot schedule) and the window is stretched by `margin` seconds against
    frames bunching up in transit: with the default 5/s, 4 control messages per 1.1 s.
    """

    def __init__(
        self,
        control_rate: float,
        *,
        reserve: int = 1,
        margin: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if control_rate <= 0:
            raise ValueError("control_rate must be positive")
        self.capacity = max(1, math.floor(control_rate) - reserve)
        self.window = max(1.0, 1.0 / control_rate) + margin
        self._clock = clock
        self._sent: deque[float] = deque()

    def wait_time(self) -> float:
        """Seconds until one more frame may be sent (0: now)."""
        now = self._clock()
        while self._sent and self._sent[0] + self.window <= now:  # the same sum as below
            self._sent.popleft()
        if len(self._sent) < self.capacity:
            return 0.0
        return self._sent[0] + self.window - now

    def spend(self) -> None:
        self._sent.append(self._clock())

    async def acquire(self) -> None:
        """Wait for room, then count one frame as sent (the caller sends it next)."""
        delay = self.wait_time()
        while delay > 0:
            await asyncio.sleep(delay)
            delay = self.wait_time()
        self.spend()


# -- the socket ------------------------------------------------------------------------------


class MarketSocket(JsonSocket):
    """One open combined-stream socket. Build it with `await MarketSocket.open(...)`."""

    label = "market stream"
    reader_name = "market-stream-reader"
    disconnected = StreamDisconnected
    timed_out = StreamTimeout

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        streams: list[str],
        *,
        event: str,
        sink: Sink,
        wake: Callable[[], None],
        budget: ControlBudget,
        silence_timeout: float,
        request_timeout: float,
    ) -> None:
        self.event = event
        self.sink = sink
        self._wake = wake
        self.budget = budget
        self.told: set[str] = set(streams)  # what we asked Binance for, in the order it reads
        self.renew_at = math.inf
        self.shutdown_announced = False
        super().__init__(
            ws, request_timeout=request_timeout, silence_timeout=silence_timeout, on_closed=wake
        )

    @classmethod
    async def open(
        cls,
        session: aiohttp.ClientSession,
        url: str,
        streams: list[str],
        *,
        event: str,
        sink: Sink,
        wake: Callable[[], None],
        budget: ControlBudget,
        silence_timeout: float,
        request_timeout: float,
        attempts: ConnectionAttempts | None = None,
    ) -> MarketSocket:
        """Connect to `url` (which carries `streams`), within the shared limit on connection
        `attempts`; raises `StreamDisconnected`."""
        ws = await connect(
            session,
            url,
            error=StreamDisconnected,
            service="market streams",
            connect_timeout=request_timeout,
            heartbeat=None,  # Binance pings us; our own pings would eat the control budget
            max_msg_size=_MAX_MESSAGE,
            attempts=attempts,
        )
        return cls(
            ws,
            streams,
            event=event,
            sink=sink,
            wake=wake,
            budget=budget,
            silence_timeout=silence_timeout,
            request_timeout=request_timeout,
        )

    async def request(self, method: str, params: list[Any] | None = None) -> Any:
        """Send one control message and return its `result`. Raises `ControlRefused`,
        `StreamTimeout` or `StreamDisconnected`. Pace calls with `budget.acquire()`."""
        message: dict[str, Any] = {"method": method}
        if params is not None:
            message["params"] = params
        return await self._request(message, None)

    async def close(self) -> None:
        """Close the socket (a close handshake of at most 1 s) and stop the reader."""
        self.sink = ignore
        await super().close()

    # -- reading -----------------------------------------------------------------------------

    def _on_text(self, text: str) -> None:
        """The hot path: a payload of the subscribed trade event, or a kline, goes straight
        to `sink`."""
        frame = _loads(text)
        data = frame.get("data")
        event = data.get("e") if type(data) is dict else None
        if event == self.event or event == KLINE_EVENT:
            self.sink(data)
        else:
            self._on_other(frame)

    def _on_other(self, frame: dict[str, Any]) -> None:
        data = frame.get("data", frame)
        if isinstance(data, dict) and data.get("e") == "serverShutdown":
            log.info("Binance announced a market-stream server shutdown")
            self.shutdown_announced = True
            self._wake()
            return
        if "data" in frame or not self._awaits(frame.get("id")):
            return  # an event of another kind (not ours), or an answer nobody waits for
        error = frame.get("error") if isinstance(frame.get("error"), dict) else frame
        if "code" in error:
            refused = ControlRefused(str(error.get("msg", "")), code=error["code"])
            self._settle(frame["id"], error=refused)
        else:
            self._settle(frame["id"], frame.get("result"))


def ignore(data: dict[str, Any]) -> None:
    """The sink of a socket being let go: its events are another socket's to deliver."""
