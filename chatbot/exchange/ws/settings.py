"""What every stream's sockets and groups are configured with, as one frozen value.

Each stream adds its own fields (market_stream/settings.py, user_stream/settings.py); the app
builds both once from `Settings`, tests with the durations they need. Durations in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

RENEW_AFTER = 23 * 3600.0  # Binance cuts a connection at 24 h


@dataclass(frozen=True, kw_only=True)
class StreamSettings:
    """`url` is the service's root; `backoff` the first reconnect delay and its cap;
    `silence_timeout` how long a socket may stay without any frame before it is taken for
    dead; `request_timeout` how long a connect or a request waits for Binance."""

    url: str
    renew_after: float = RENEW_AFTER
    backoff: tuple[float, float] = (0.5, 30.0)
    silence_timeout: float = 30.0
    request_timeout: float = 10.0
