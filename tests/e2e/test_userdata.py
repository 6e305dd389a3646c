"""Users' order and balance events over the WebSocket API, against the simulator's sockets."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from chatbot.exchange.client import ApiCredentials, BinanceClient, OrderRequest
from chatbot.exchange.errors import AuthError, BinanceError, InvalidSignature
from chatbot.exchange.events import BalanceChange, ExecutionReport, UserEvent
from chatbot.exchange.models import Order
from chatbot.exchange.signing import KeyType
from chatbot.exchange.userdata import UserDataStream

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
async def client(exchange) -> AsyncIterator[BinanceClient]:
    async with BinanceClient(exchange.rest_url, timeout=5.0) as c:
        yield c


def account(exchange, user_id: int) -> ApiCredentials:
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
async def stream_factory(exchange, client, recorder) -> AsyncIterator[Callable[..., Any]]:
    """Start user-data streams on the simulator (fast backoff); all are stopped afterwards."""
    streams: list[UserDataStream] = []

    async def start(**options: Any) -> UserDataStream:
        stream = UserDataStream(
            options.pop("url", exchange.ws_api_url),
            timestamp=client.timestamp,
            on_event=recorder.on_event,
            on_resync=recorder.on_resync,
            on_key_failed=recorder.on_key_failed,
            **{"backoff": (0.05, 0.3), "request_timeout": 2.0, **options},
        )
        await stream.start()
        streams.append(stream)
        return stream

    yield start
    for stream in streams:
        await stream.stop()


@pytest.fixture
async def stream(stream_factory) -> UserDataStream:
    return await stream_factory()


async def rest_limit_buy(client: BinanceClient, exchange, creds: ApiCredentials) -> Order:
    """A GTC LIMIT BUY 1% under the market: it rests until `fill` prints a trade through it."""
    price = (exchange.price("BTCUSDT") * Decimal("0.99")).quantize(Decimal("0.01"))
    request = OrderRequest(
        "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.001"), price=price, time_in_force="GTC"
    )
    return await client.place_order(creds, request)


def fill(exchange, order: Order) -> None:
    """Print a trade at the order's price (it fills), then put the market back."""
    market = exchange.price("BTCUSDT")
    exchange.set_price("BTCUSDT", order.price)
    exchange.set_price("BTCUSDT", market)


async def test_limit_order_fill_reaches_its_user(stream, client, exchange, recorder):
    creds = account(exchange, ALICE)
    assert await stream.subscribe(ALICE, creds) is True
    assert stream.connected and stream.subscribed_users == {ALICE}

    order = await rest_limit_buy(client, exchange, creds)
    await recorder.wait_until(lambda: len(recorder.reports(ALICE, order.order_id)) == 1)
    started = time.monotonic()
    fill(exchange, order)
    await recorder.wait_until(lambda: len(recorder.reports(ALICE, order.order_id)) == 2)
    assert time.monotonic() - started < 1.0

    new, trade = recorder.reports(ALICE, order.order_id)
    assert (new.execution_type, new.status) == ("NEW", "NEW")
    assert (trade.execution_type, trade.status) == ("TRADE", "FILLED")
    assert trade.client_order_id == order.client_order_id and trade.is_maker
    assert trade.last_qty == trade.cumulative_qty == Decimal("0.001")
    assert trade.average_price == order.price and trade.is_final
    assert recorder.resyncs == [] and recorder.key_failures == []


async def test_two_users_on_one_connection_get_only_their_own_events(
    stream, client, exchange, recorder
):
    alice, bob = account(exchange, ALICE), account(exchange, BOB)
    assert await stream.subscribe(ALICE, alice) and await stream.subscribe(BOB, bob)
    assert exchange.open_websockets == 1

    order = await rest_limit_buy(client, exchange, alice)
    fill(exchange, order)
    exchange.deposit(KEYS[BOB], "USDT", Decimal(7))
    await recorder.wait_until(
        lambda: len(recorder.reports(ALICE)) == 2 and recorder.deposits(BOB) == [7]
    )
    assert recorder.reports(BOB) == [] and recorder.deposits(ALICE) == []
    assert {e.order_id for e in recorder.reports(ALICE)} == {order.order_id}


async def test_reconnects_resyncs_and_keeps_delivering(stream, client, exchange, recorder):
    creds = account(exchange, ALICE)
    await stream.subscribe(ALICE, creds)

    await exchange.drop_websockets()
    await recorder.wait_until(lambda: recorder.resyncs == [[ALICE]])
    assert stream.connected and stream.subscribed_users == {ALICE}

    order = await rest_limit_buy(client, exchange, creds)
    fill(exchange, order)
    await recorder.wait_until(lambda: len(recorder.reports(ALICE, order.order_id)) == 2)


async def test_a_fill_during_the_gap_is_left_to_the_rest_resync(stream, client, exchange, recorder):
    creds = account(exchange, ALICE)
    await stream.subscribe(ALICE, creds)
    order = await rest_limit_buy(client, exchange, creds)
    await recorder.wait_until(lambda: len(recorder.reports(ALICE)) == 1)
    reread: list[Order] = []

    async def reread_orders(user_ids: list[int]) -> None:
        reread.append(await client.query_order(creds, "BTCUSDT", order_id=order.order_id))

    recorder.on_resync_hook = reread_orders
    await exchange.drop_websockets()
    fill(exchange, order)  # while nobody is connected
    await recorder.wait_until(lambda: recorder.resyncs == [[ALICE]])
    assert [o.status for o in reread] == ["FILLED"]

    exchange.deposit(KEYS[ALICE], "USDT", Decimal(1))  # a later event: the stream is live again
    await recorder.wait_until(lambda: recorder.deposits(ALICE) == [1])
    assert [r.execution_type for r in recorder.reports(ALICE)] == ["NEW"]


async def test_a_refused_key_is_reported_once_across_reconnects(stream, exchange, recorder, caplog):
    caplog.set_level(logging.DEBUG)
    alice = account(exchange, ALICE)
    unknown_key = ApiCredentials.create(KEYS[BOB], SECRETS[BOB], KeyType.HMAC)
    assert await stream.subscribe(ALICE, alice) is True
    assert await stream.subscribe(BOB, unknown_key) is False
    await recorder.wait_until(lambda: len(recorder.key_failures) == 1)

    for round_ in range(1, 4):
        await exchange.drop_websockets()
        await recorder.wait_until(lambda n=round_: recorder.resynced(ALICE) == n)
    [(user, error)] = recorder.key_failures
    assert user == BOB and isinstance(error, AuthError) and error.code == -2015
    assert stream.subscribed_users == {ALICE}
    assert all(BOB not in users for users in recorder.resyncs)
    for secret in (*KEYS.values(), *SECRETS.values()):
        assert secret not in str(error) and secret not in caplog.text
    assert "refused the key" in caplog.text


async def test_a_key_refused_on_resubscribe_stops_being_retried(stream, exchange, recorder):
    creds = account(exchange, ALICE)
    await stream.subscribe(ALICE, creds)
    exchange.account(KEYS[ALICE]).secret = "rotated-on-binance" * 3  # our secret is now wrong

    await exchange.drop_websockets()
    await recorder.wait_until(lambda: len(recorder.key_failures) == 1)
    [(user, error)] = recorder.key_failures
    assert user == ALICE and isinstance(error, InvalidSignature) and error.code == -1022
    assert stream.subscribed_users == set()

    bob = account(exchange, BOB)  # a second user shows the reconnects happen
    await stream.subscribe(BOB, bob)
    for round_ in range(1, 3):
        await exchange.drop_websockets()
        await recorder.wait_until(lambda n=round_: recorder.resynced(BOB) == n)
    assert len(recorder.key_failures) == 1

    exchange.account(KEYS[ALICE]).secret = SECRETS[ALICE]  # the user fixes the key
    assert await stream.subscribe(ALICE, creds) is True


async def test_unsubscribe_stops_events(stream, exchange, recorder):
    alice, bob = account(exchange, ALICE), account(exchange, BOB)
    await stream.subscribe(ALICE, alice)
    await stream.subscribe(BOB, bob)
    exchange.deposit(KEYS[ALICE], "USDT", Decimal(1))
    await recorder.wait_until(lambda: recorder.deposits(ALICE) == [1])

    await stream.unsubscribe(ALICE)
    assert stream.subscribed_users == {BOB}
    exchange.deposit(KEYS[ALICE], "USDT", Decimal(2))
    exchange.deposit(KEYS[BOB], "USDT", Decimal(3))  # later, on the same connection
    await recorder.wait_until(lambda: recorder.deposits(BOB) == [3])
    assert recorder.deposits(ALICE) == [1]


async def test_renewal_loses_and_duplicates_nothing(stream_factory, client, exchange, recorder):
    stream = await stream_factory(renew_after=0.15)
    creds = account(exchange, ALICE)
    await stream.subscribe(ALICE, creds)

    orders, amounts = [], [Decimal(n) for n in range(1, 401)]
    for n, amount in enumerate(amounts):
        exchange.deposit(KEYS[ALICE], "USDT", amount)
        if n % 50 == 0:
            orders.append(await rest_limit_buy(client, exchange, creds))
            fill(exchange, orders[-1])
        await asyncio.sleep(0.001)  # events all along, some while both sockets deliver
    exchange.deposit(KEYS[ALICE], "USDT", Decimal(1000))  # last: a duplicate arrives before
    await recorder.wait_until(lambda: Decimal(1000) in recorder.deposits(ALICE))
    assert recorder.deposits(ALICE) == [*amounts, Decimal(1000)]
    assert len(recorder.reports(ALICE)) == 2 * len(orders)

    assert stream.renewals >= 2  # renewals did happen meanwhile
    assert recorder.resyncs == []  # and nothing was re-read after them: there was no gap
    for order in orders:
        kinds = [r.execution_type for r in recorder.reports(ALICE, order.order_id)]
        assert kinds == ["NEW", "TRADE"]
    assert exchange.open_websockets <= 2


async def test_reconnects_through_failed_handshakes(stream, exchange, recorder):
    await stream.subscribe(ALICE, account(exchange, ALICE))
    exchange.faults.fail_next("/ws-api/v3", count=2, status=503)
    await exchange.drop_websockets()
    await recorder.wait_until(lambda: recorder.resyncs == [[ALICE]])
    exchange.deposit(KEYS[ALICE], "USDT", Decimal(5))
    await recorder.wait_until(lambda: recorder.deposits(ALICE) == [5])


async def test_pings_are_answered(exchange_factory, stream_factory, recorder):
    fast_pinger = await exchange_factory(ping_interval=0.05, pong_timeout=0.2)
    stream = await stream_factory(url=fast_pinger.ws_api_url)
    await stream.subscribe(ALICE, account(fast_pinger, ALICE))
    await asyncio.sleep(0.5)  # ten pings; a client that did not pong is cut after 0.25 s
    fast_pinger.deposit(KEYS[ALICE], "USDT", Decimal(1))
    await recorder.wait_until(lambda: recorder.deposits(ALICE) == [1])
    assert recorder.resyncs == [] and stream.connected


async def test_a_silent_connection_is_replaced(stream_factory, recorder):
    connections = asyncio.Queue[int]()

    async def mute(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)  # answers nothing, not even pings
        await ws.prepare(request)
        connections.put_nowait(1)
        async for msg in ws:
            if msg.type is WSMsgType.CLOSE:
                break
        return ws

    app = web.Application()
    app.router.add_get("/ws-api/v3", mute)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await stream_factory(url=f"ws://127.0.0.1:{port}/ws-api/v3", silence_timeout=0.3)
        for _ in range(2):  # the first connection, then a replacement
            await asyncio.wait_for(connections.get(), WAIT)
    finally:
        await runner.cleanup()


async def test_stop_closes_everything_quickly(stream_factory, exchange, recorder):
    stream = await stream_factory(max_per_connection=1)
    await stream.subscribe(ALICE, account(exchange, ALICE))
    await stream.subscribe(BOB, account(exchange, BOB))
    await stream.subscribe(CAROL, account(exchange, CAROL))
    assert exchange.open_websockets == 3 and stream.connected

    started = time.monotonic()
    await stream.stop()
    assert time.monotonic() - started < 1.0
    assert not stream.connected
    async with asyncio.timeout(WAIT):  # the simulator notices the closes a moment later
        while exchange.open_websockets:  # noqa: ASYNC110 (a count, not an event, to wait on)
            await asyncio.sleep(0.01)
