"""The market stream's settings: one frozen value the app builds once (see ws/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.exchange.market_stream.socket import ID_FIELDS, MAX_URL_STREAM_CHARS, ControlBudget
from chatbot.exchange.ws.settings import StreamSettings

MAX_STREAMS_PER_SOCKET = 1024  # Binance's limit per connection


@dataclass(frozen=True, kw_only=True)
class MarketStreamSettings(StreamSettings):
    """`url` is the market streams' root (`wss://stream.binance.com:9443`). A group holds at
    most `streams_per_socket` streams (Binance allows 1024); `control_rate` is Binance's limit
    on messages a second per connection (5), which SUBSCRIBE/UNSUBSCRIBE are paced under;
    `channel` is "trade" or "aggTrade"; `max_url_chars` how much of a socket's stream list
    rides in its connect URL (the rest is subscribed). Raises ValueError for values Binance
    would not take."""

    streams_per_socket: int = MAX_STREAMS_PER_SOCKET
    control_rate: float = 5.0
    channel: str = "trade"
    max_url_chars: int = MAX_URL_STREAM_CHARS

    def __post_init__(self) -> None:
        if self.channel not in ID_FIELDS:
            raise ValueError(f"channel must be one of {sorted(ID_FIELDS)}, not {self.channel!r}")
        if not 1 <= self.streams_per_socket <= MAX_STREAMS_PER_SOCKET:
            raise ValueError(f"streams_per_socket must be between 1 and {MAX_STREAMS_PER_SOCKET}")
        ControlBudget(self.control_rate)  # validates the rate

    @property
    def id_field(self) -> str:
        """The payload's per-symbol event id of the channel (`t` of a trade)."""
        return ID_FIELDS[self.channel]
