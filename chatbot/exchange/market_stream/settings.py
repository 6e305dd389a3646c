"""The market stream's settings: one frozen value the app builds once (see ws/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.exchange.market_stream.socket import (
    CHANNELS,
    MAX_URL_STREAM_CHARS,
    Channel,
    ControlBudget,
)
from chatbot.exchange.ws.settings import StreamSettings

MAX_STREAMS_PER_SOCKET = 1024  # Binance's limit per connection


@dataclass(frozen=True, kw_only=True)
class MarketStreamSettings(StreamSettings):
    """`url` is the market streams' root (`wss://stream.binance.com:9443`). A group holds at
    most `streams_per_socket` streams (Binance allows 1024); `control_rate` is Binance's limit
    on messages a second per connection (5 on spot, 10 on USDⓈ-M futures), which
    SUBSCRIBE/UNSUBSCRIBE are paced under; `channel` is "trade" or "aggTrade" (spot), or
    "markPrice@1s" (futures: the mark price every second, with the funding rate);
    `max_url_chars` how much of a socket's stream list rides in its connect URL (the rest is
    subscribed). Raises ValueError for values Binance would not take."""

    streams_per_socket: int = MAX_STREAMS_PER_SOCKET
    control_rate: float = 5.0
    channel: str = "trade"
    max_url_chars: int = MAX_URL_STREAM_CHARS

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {sorted(CHANNELS)}, not {self.channel!r}")
        if not 1 <= self.streams_per_socket <= MAX_STREAMS_PER_SOCKET:
            raise ValueError(f"streams_per_socket must be between 1 and {MAX_STREAMS_PER_SOCKET}")
        ControlBudget(self.control_rate)  # validates the rate

    @property
    def shape(self) -> Channel:
        """What the channel's payloads carry (event name, order and time fields)."""
        return CHANNELS[self.channel]

    @property
    def id_field(self) -> str:
        """The field that orders one symbol's events (`t` of a trade, `E` of a mark price)."""
        return self.shape.place
