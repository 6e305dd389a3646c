"""The user-data stream tests' harness (tests/e2e/test_userdata.py, test_ws_limits.py): funded
simulator accounts, a REST client, a recorder of the stream's callbacks and streams started on the
simulator with a fast backoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from chatbot.exchange.client import BinanceClient, OrderRequest
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.events import BalanceChange, ExecutionReport, UserEvent
from chatbot.exchange.models import Order
from chatbot.exchange.user_stream.settings import UserStreamSettings
from chatbot.exchange.user_stream.stream import UserDataStream
from chatbot.exchange.ws.attempts import ConnectionAttempts
from chatbot.key_types import KeyType
from chatbot.sandbox.exchange import ExchangeSimulator

ALICE, BOB, CAROL = 1, 2, 3
KEYS = {ALICE: "A" * 64, BOB: "B" * 64, CAROL: "C" * 64}
SECRETS = {ALICE: "alice-secret" * 5, BOB: "bob-secret" * 6, CAROL: "carol-secret" * 5}
WAIT = 5.0  # seconds: generous, for a loaded machine; a passing test never waits this long


class Recorder:
    """Everything the stream's callbacks received, and a way to wait for what is expected."""

    def __init__(self) -> None:
        self.events: list[tuple[int, UserEvent]] = []
        self.resyncs: list[list[int]] = []
        self.key_failures: list[tuple[int, BinanceError]] = []
        self.on_resync_hook: Callable[[list[int]], Any] | None = None
        self._changed = asyncio.Condition()

    async def on_event(self, user_id: int, event: UserEvent) -> None:
        await self._record(self.events, (user_id, event))

    async def on_resync(self, user_ids: list[int]) -> None:
        if self.on_resync_hook is not None:
            await self.on_resync_hook(user_ids)
        await self._record(self.resyncs, user_ids)

    async def on_key_failed(self, user_id: int, error: BinanceError) -> None:
        await self._record(self.key_failures, (user_id, error))

    async def _record(self, into: list[Any], item: Any) -> None:
        async with self._changed:
            into.append(item)
            self._changed.notify_all()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(condition)

    def reports(self, user_id: int, order_id: int | None = None) -> list[ExecutionReport]:
        return [
            e
            for u, e in self.events
            if u == user_id
            and isinstance(e, ExecutionReport)
            and (order_id is None or e.order_id == order_id)
        ]

    def deposits(self, user_id: int) -> list[Decimal]:
        return [e.delta for u, e in self.events if u == user_id and isinstance(e, BalanceChange)]

    def resynced(self, user_id: int) -> int:
        return sum(user_id in users for users in self.resyncs)


@pytest.fixture
async def client(exchange: ExchangeSimulator) -> AsyncIterator[BinanceClient]:
    async with BinanceClient(exchange.rest_url, timeout=5.0) as c:
        yield c


def account(exchange: ExchangeSimulator, user_id: int) -> ApiCredentials:
    """Register the user's funded account on the simulator; their HMAC credentials."""
    exchange.add_account(
        KEYS[user_id],
        secret=SECRETS[user_id],
        balances={"USDT": Decimal(100000), "BTC": Decimal(2)},
    )
    return ApiCredentials.create(KEYS[user_id], SECRETS[user_id], KeyType.HMAC)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def stream_factory(
    exchange: ExchangeSimulator, client: BinanceClient, recorder: Recorder
) -> AsyncIterator[Callable[..., Any]]:
    """Start user-data streams on the simulator (fast backoff); all are stopped afterwards."""
    streams: list[UserDataStream] = []

    async def start(
        *, attempts: ConnectionAttempts | None = None, **settings: Any
    ) -> UserDataStream:
        fast = {"url": exchange.ws_api_url, "backoff": (0.05, 0.3), "request_timeout": 2.0}
        stream = UserDataStream(
            UserStreamSettings(**{**fast, **settings}),
            timestamp=client.timestamp,
            on_event=recorder.on_event,
            on_resync=recorder.on_resync,
            on_key_failed=recorder.on_key_failed,
            attempts=attempts,
        )
        await stream.start()
        streams.append(stream)
        return stream

    yield start
    for stream in streams:
        await stream.stop()


@pytest.fixture
async def stream(stream_factory: Callable[..., Awaitable[UserDataStream]]) -> UserDataStream:
    return await stream_factory()


async def rest_limit_buy(
    client: BinanceClient, exchange: ExchangeSimulator, creds: ApiCredentials
) -> Order:
    """A GTC LIMIT BUY 1% under the market: it rests until `fill` prints a trade through it."""
    price = (exchange.price("BTCUSDT") * Decimal("0.99")).quantize(Decimal("0.01"))
    request = OrderRequest(
        "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.001"), price=price, time_in_force="GTC"
    )
    return await client.place_order(creds, request)


def fill(exchange: ExchangeSimulator, order: Order) -> None:
    """Print a trade at the order's price (it fills), then put the market back."""
    market = exchange.price("BTCUSDT")
    exchange.set_price("BTCUSDT", order.price)
    exchange.set_price("BTCUSDT", market)
