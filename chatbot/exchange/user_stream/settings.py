"""The user-data stream's settings: one frozen value the app builds once (see ws/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.exchange.ws.settings import StreamSettings

MAX_USERS_PER_SOCKET = 1000  # Binance's limit of subscriptions per WebSocket API session
MAX_SUBSCRIPTION_IDS = 65_535  # ids one session hands out over its life (then -2042)


@dataclass(frozen=True, kw_only=True)
class UserStreamSettings(StreamSettings):
    """`url` is the WebSocket API's (`wss://ws-api.binance.com:443/ws-api/v3`). A group holds
    at most `users_per_socket` users' subscriptions (Binance allows 1000); `subscription_ids`
    is how many ids one socket may hand out over its life, after which its group moves to a
    fresh one (Binance's 65,535; lower only for tests). Raises ValueError for values that
    cannot work."""

    silence_timeout: float = 60.0
    users_per_socket: int = 200
    subscription_ids: int = MAX_SUBSCRIPTION_IDS

    def __post_init__(self) -> None:
        if not 1 <= self.users_per_socket <= MAX_USERS_PER_SOCKET:
            raise ValueError(f"users_per_socket must be 1..{MAX_USERS_PER_SOCKET}")
        if self.subscription_ids <= 2 * self.users_per_socket:
            raise ValueError("subscription_ids must be more than twice users_per_socket")
