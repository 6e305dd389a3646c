"""Binance's WebSocket limits: connection attempts per IP, subscription ids per session.

The simulator enforces both (its own tests come first); then the real stream classes, sharing
one limiter of connection attempts, against it over loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from chatbot.exchange.market_stream.settings import MarketStreamSettings
from chatbot.exchange.market_stream.stream import MarketStream
from chatbot.exchange.ws.attempts import ConnectionAttempts
from chatbot.runtime import runtime
from tests.e2e import user_stream_harness as harness
from tests.e2e.binance_wire import DOC_KEY, Binance, signed_params
from tests.e2e.conftest import ask
from tests.e2e.helpers import following, place_resting_buy, watching
from tests.e2e.user_stream_harness import ALICE, BOB, KEYS, account

WAIT = 20.0  # seconds: generous, for a loaded machine; a passing test never waits this long


# the harness's fixtures, by name for pytest: a REST client, a recorder of callbacks, streams
client, recorder, stream_factory = (
    harness.client,
    harness.recorder,
    harness.stream_factory,
)


async def until(condition: Callable[[], bool]) -> None:
    """Wait for a fact the simulator holds (it has no event to wait on)."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def answer(ws: aiohttp.ClientWebSocketResponse, method: str, params: Any = None) -> Any:
    """Send one WebSocket API request and return its answer (events in between are skipped)."""
    request_id = f"r{id(params)}"
    await ws.send_json({"id": request_id, "method": method, "params": params or {}})
    while True:
        message = await ws.receive_json(timeout=WAIT)
        if message.get("id") == request_id:
            return message


# -- the simulator -------------------------------------------------------------------------------


async def test_the_simulator_refuses_the_301st_connection_attempt_in_5_minutes(
    exchange, session: aiohttp.ClientSession
):
    assert exchange.limits.connection_attempts == 300
    assert exchange.limits.connection_window == 300.0
    for _ in range(300):  # attempts count, not open connections: each is closed at once
        async with session.ws_connect(exchange.stream_url + "/ws"):
            pass
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(exchange.stream_url + "/ws")
    assert refused.value.status == 429
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 300
    assert exchange.limits.refused_connections == 1

    # the WebSocket API is another host at Binance, with a count of its own
    async with session.ws_connect(exchange.ws_api_url) as ws:
        assert (await answer(ws, "ping"))["status"] == 200


async def test_the_attempt_window_slides(exchange, session: aiohttp.ClientSession):
    exchange.limits.connection_attempts, exchange.limits.connection_window = 2, 0.5
    for _ in range(2):
        async with session.ws_connect(exchange.ws_api_url):
            pass
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await session.ws_connect(exchange.ws_api_url)
    await asyncio.sleep(0.6)  # the window itself is what is tested: the attempts leave it
    async with session.ws_connect(exchange.ws_api_url) as ws:
        assert (await answer(ws, "ping"))["status"] == 200
    assert exchange.limits.refused_connections == 1


async def test_a_session_hands_out_its_subscription_ids_then_answers_2042(
    exchange, trader: Binance, session: aiohttp.ClientSession
):
    assert exchange.limits.subscription_ids == 65_535  # Binance's, lowered below for speed
    exchange.limits.subscription_ids = 5
    async with session.ws_connect(exchange.ws_api_url) as ws:
        ids = []
        for _ in range(5):
            made = await answer(
                ws, "userDataStream.subscribe.signature", signed_params(trader.signer, DOC_KEY)
            )
            ids.append(made["result"]["subscriptionId"])
            ended = await answer(ws, "userDataStream.unsubscribe", {"subscriptionId": ids[-1]})
            assert ended["status"] == 200
        refused = await answer(
            ws, "userDataStream.subscribe.signature", signed_params(trader.signer, DOC_KEY)
        )
    assert ids == [0, 1, 2, 3, 4]
    assert refused["status"] == 400 and refused["error"] == {
        "code": -2042,
        "msg": "Maximum subscription ID reached for this connection.",
    }
    assert exchange.limits.refused_subscription_ids == 1

    async with session.ws_connect(exchange.ws_api_url) as ws:  # a new session starts afresh
        made = await answer(
            ws, "userDataStream.subscribe.signature", signed_params(trader.signer, DOC_KEY)
        )
    assert made["result"] == {"subscriptionId": 0}


# -- the client ----------------------------------------------------------------------------------


class Prices:
    def __init__(self) -> None:
        self.gaps: list[list[str]] = []

    def on_price(self, symbol: str, price: Decimal, at: int) -> None:
        """Prices are not what these tests look at."""

    async def on_gap(self, symbols: list[str]) -> None:
        self.gaps.append(symbols)


async def test_a_burst_of_reconnects_stays_under_the_attempt_limit(
    exchange, client, stream_factory, recorder
):
    exchange.limits.connection_attempts, exchange.limits.connection_window = 3, 1.0
    attempts = ConnectionAttempts(3, 1.0, margin=0.3)
    users = [ALICE, BOB]
    user_data = await stream_factory(users_per_socket=1, attempts=attempts)  # a group each
    for user in users:
        await user_data.subscribe(user, account(exchange, user))
    prices = Prices()
    one_per_socket = {"streams_per_socket": 1, "backoff": (0.05, 0.3)}  # a socket per symbol
    market = MarketStream(
        MarketStreamSettings(url=exchange.stream_url, **one_per_socket),
        on_price=prices.on_price,
        on_gap=prices.on_gap,
        attempts=attempts,
    )
    symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "XRPUSDT"]
    await market.start()
    try:
        for symbol in symbols:
            await market.add(symbol)
        await until(lambda: market.connected and user_data.connected)
        await until(lambda: exchange.open_websockets == len(users) + len(symbols))
        await until(lambda: len(prices.gaps) == len(symbols) - 1)  # all but the first's
        prices.gaps.clear()

        for blip in (1, 2):  # two network blips in a row: every connection reconnects at once
            await exchange.drop_websockets()
            await until(lambda: not user_data.connected)
            await until(lambda: market.connected and user_data.connected)
            # a socket counts as connected before its users are subscribed again; a blip
            # during that subscribe would be a third gap, so the next blip waits for it
            await recorder.wait_until(
                lambda blip=blip: all(recorder.resynced(u) == blip for u in users)
            )
        for user in users:  # everyone is subscribed again, and hears of their account
            exchange.deposit(KEYS[user], "USDT", Decimal(user))
        await recorder.wait_until(lambda: all(recorder.deposits(u) == [u] for u in users))
        await until(lambda: sum(len(g) for g in prices.gaps) >= 2 * len(symbols))
    finally:
        await market.stop()
    assert exchange.limits.refused_connections == 0
    assert attempts.delayed > 0  # the limiter did make attempts wait
    assert sorted(s for gap in prices.gaps for s in gap) == sorted(symbols * 2)


async def test_a_group_moves_to_a_fresh_connection_before_its_ids_run_out(
    exchange, client, stream_factory, recorder
):
    exchange.limits.subscription_ids = 12
    stream = await stream_factory(users_per_socket=2, subscription_ids=12)
    await stream.subscribe(ALICE, account(exchange, ALICE))
    bob = account(exchange, BOB)

    amounts = [Decimal(n) for n in range(1, 31)]
    for amount in amounts:  # Bob comes and goes, using ids, while Alice's events flow
        assert await stream.subscribe(BOB, bob)
        exchange.deposit(KEYS[ALICE], "USDT", amount)
        await stream.unsubscribe(BOB)
        await until(lambda: exchange.user_data_subscriptions(KEYS[BOB]) == 0)
    await recorder.wait_until(lambda: recorder.deposits(ALICE) == amounts)

    assert stream.renewals >= 2  # 30 ids for Bob: at least two moves with 12 per session
    assert exchange.limits.refused_subscription_ids == 0  # moved before running out
    assert recorder.resynced(ALICE) == 0 and recorder.key_failures == []
    exchange.deposit(KEYS[ALICE], "USDT", Decimal(99))
    await recorder.wait_until(lambda: recorder.deposits(ALICE) == [*amounts, 99])


async def test_a_2042_renews_the_connection_and_is_not_the_users_failure(
    exchange, client, stream_factory, recorder
):
    exchange.limits.subscription_ids = 6  # fewer than the client expects: Binance says -2042
    # a user's failure would wait out a backoff longer than subscribe() waits (2 s)
    stream = await stream_factory(users_per_socket=2, backoff=(5.0, 30.0))
    await stream.subscribe(ALICE, account(exchange, ALICE))
    bob = account(exchange, BOB)

    for round_ in range(1, 9):
        assert await stream.subscribe(BOB, bob), f"round {round_}"  # live, -2042 or not
        exchange.deposit(KEYS[ALICE], "USDT", Decimal(round_))
        await stream.unsubscribe(BOB)
        await until(lambda: exchange.user_data_subscriptions(KEYS[BOB]) == 0)
    await recorder.wait_until(lambda: recorder.deposits(ALICE) == list(range(1, 9)))

    assert exchange.limits.refused_subscription_ids >= 1 and stream.renewals >= 1
    assert recorder.key_failures == [] and recorder.resynced(ALICE) == 0
    await stream.subscribe(BOB, bob)
    exchange.deposit(KEYS[BOB], "USDT", Decimal(7))
    await recorder.wait_until(lambda: recorder.deposits(BOB) == [7])


# -- the bot -------------------------------------------------------------------------------------


@pytest.fixture
def settings(settings_factory, exchange):
    """A bot allowed one connection attempt per second (and the margin: one per 2 s), against
    a simulator that refuses a second attempt to a service within 1.5 s: stricter than the
    bot's own limit, so only the margin keeps it out of trouble, with 0.5 s left for the time
    between the bot counting an attempt and the simulator seeing it arrive."""
    exchange.limits.connection_attempts, exchange.limits.connection_window = 1, 1.5
    return settings_factory(CHATBOT_WS_CONNECT_LIMIT="1", CHATBOT_WS_CONNECT_WINDOW="1")


async def test_the_bot_reconnects_both_streams_within_the_attempt_limit(
    alice_with_key, exchange, running_bot
):
    live_alerts, live = runtime(running_bot).alert_feed, runtime(running_bot).fill_feed
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice_with_key, "/alert BTC > 61000")
    await watching(running_bot, "BTCUSDT")
    await following(running_bot)
    await place_resting_buy(alice_with_key, exchange)

    for _ in range(2):  # two network blips: both streams reconnect at once
        await exchange.drop_websockets()
        await until(lambda: not live.stream.connected)
        await until(lambda: live_alerts.stream.connected and live.stream.connected)
    await following(running_bot)
    await watching(running_bot, "BTCUSDT")

    exchange.set_price("BTCUSDT", Decimal("61001"))  # the alert fires
    exchange.set_price("BTCUSDT", Decimal("54990"))  # the resting buy at 55,000 fills
    for told in ("🔔 BTCUSDT ≥ 61000: crossed at 61,001", "✅ Filled: BUY LIMIT BTCUSDT"):
        await alice_with_key.wait_for(
            lambda t=told: any(m.text.startswith(t) for m in alice_with_key.messages), WAIT
        )
    assert exchange.limits.refused_connections == 0
    metrics = runtime(running_bot).metrics.render().decode()
    assert "chatbot_ws_connect_attempts " in metrics and "chatbot_ws_connect_waiting " in metrics
