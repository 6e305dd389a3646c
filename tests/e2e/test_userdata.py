"""Users' order and balance events over the WebSocket API, against the simulator's sockets."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

from aiohttp import WSMsgType, web

from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import AuthError, InvalidSignature
from chatbot.exchange.models import Order
from chatbot.key_types import KeyType
from tests.e2e import user_stream_harness as harness
from tests.e2e.user_stream_harness import (
    ALICE,
    BOB,
    CAROL,
    KEYS,
    SECRETS,
    WAIT,
    account,
    fill,
    rest_limit_buy,
)

# the harness's fixtures, by name for pytest: a REST client, a recorder of callbacks, streams
client, recorder, stream_factory, stream = (
    harness.client,
    harness.recorder,
    harness.stream_factory,
    harness.stream,
)


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
    stream = await stream_factory(users_per_socket=1)
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
