"""What a subscription group knows: the users it should hold subscriptions for, and the
subscriptions actually made on each of its sockets (a socket's subscription ids mean nothing on
another socket, so each socket keeps its own map)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from chatbot.errors import present
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.user_stream.socket import WsApiSocket


@dataclass(eq=False)
class Member:
    """A user the group should hold a subscription for."""

    credentials: ApiCredentials
    waiters: list[asyncio.Future[bool]] = field(default_factory=list)
    failures: int = 0
    retry_at: float = 0.0  # monotonic; no subscribe attempt before then

    def settle(self, live: bool) -> None:
        for future in self.waiters:
            if not future.done():
                future.set_result(live)
        self.waiters.clear()


@dataclass(eq=False)
class Link:
    """One socket of the group and the subscriptions made on it."""

    conn: WsApiSocket | None = None
    renew_at: float = 0.0
    users: dict[int, tuple[int, ApiCredentials]] = field(default_factory=dict)
    by_subscription: dict[int, int] = field(default_factory=dict)
    held: list[tuple[int, dict[str, Any]]] | None = None  # events kept back during a handover
    ids_used: int = 0  # subscribe requests sent: each may take one of the session's ids

    @property
    def socket(self) -> WsApiSocket:
        return present(self.conn, "the group's WebSocket API connection")

    def bind(self, user_id: int, credentials: ApiCredentials, result: Any) -> None:
        subscription_id = int(result["subscriptionId"])
        self.users[user_id] = (subscription_id, credentials)
        self.by_subscription[subscription_id] = user_id

    def unbind(self, user_id: int) -> int | None:
        entry = self.users.pop(user_id, None)
        if entry is None:
            return None
        self.by_subscription.pop(entry[0], None)
        return entry[0]
