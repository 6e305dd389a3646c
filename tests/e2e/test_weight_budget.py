"""One request-weight budget for the whole bot, through the real bot, the simulator (which
answers 429 past its per-IP limit and bans with 418 an IP that calls on before Retry-After) and
the Bot API emulator."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from chatbot.runtime import runtime
from tests.e2e.conftest import ALICE, ALICE_KEY, BOB, ask
from tests.e2e.helpers import (
    OTHERS,
    confirm,
    following,
    free_port,
    get,
    store_keys,
    until,
    until_async,
    users_synced,
)


async def test_start_up_with_many_keys_stays_under_the_limit_and_an_order_goes_first(
    api, exchange, settings_factory
):
    from chatbot.app import running_bot

    # 35 users' start-up reads (the account, weight 20, and subscribing, 2) need 770, more
    # than this limit's background share (480 a minute)
    exchange.limits.weight_per_minute = 800
    exchange.set_price("BTCUSDT", Decimal("60000"))
    users = [ALICE, *OTHERS]
    port = free_port()
    settings = settings_factory(
        CHATBOT_ALLOWED_USERS=",".join(map(str, users)), CHATBOT_HTTP_PORT=str(port)
    )
    await store_keys(settings, exchange, users)
    async with running_bot(settings, poll_timeout=1):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        preview = await ask(alice, "/buy BTCUSDT 0.001")
        assert "Preview: BUY BTCUSDT" in preview.text, preview.text
        result = await confirm(alice, preview)
        assert "Filled" in result.text, result.text
        # the order went first: it did not wait for the start-up work to finish
        assert await users_synced(settings.db_path) < len(users)
        _, metrics = await get(f"http://127.0.0.1:{port}/metrics")
        assert "chatbot_binance_weight_share" in metrics
        assert _background_waiting(metrics), metrics
        # the start-up work goes on, spread out, and never runs into Binance's limit
        await until_async(lambda: _synced_at_least(settings.db_path, 3), within=40)
    assert exchange.limits.rejections_429 == 0
    assert exchange.faults.ban_error() is None


async def _synced_at_least(path: str, count: int) -> bool:
    return await users_synced(path) >= count


def _background_waiting(metrics: str) -> bool:
    for line in metrics.splitlines():
        if line.startswith('chatbot_binance_waiting{priority="background"}'):
            return float(line.split()[-1]) > 0
    return False


async def test_a_429_pauses_every_call_for_retry_after_and_no_ban_follows(
    api, exchange, running_bot
):
    alice = api.conversation(api.user(ALICE, first_name="Alice"))
    bob = api.conversation(api.user(BOB, first_name="Bob"))
    exchange.limits.in_flight_ms = 0  # any call before Retry-After has passed: 418 ban
    exchange.faults.rate_limit_next("/api/v3/ticker/24hr", retry_after=2)
    await alice.send("/price BTC")
    await until(lambda: exchange.limits.rejections_429 == 1)
    bob_reply = await ask(bob, "/price ETH")  # sent during the pause: waits, is not refused
    alice_reply = await alice.reply()
    assert "ETHUSDT" in bob_reply.text and "24h high" in bob_reply.text, bob_reply.text
    assert "BTCUSDT" in alice_reply.text and "24h high" in alice_reply.text, alice_reply.text
    assert exchange.faults.ban_error() is None
    assert exchange.limits.rejections_429 == 1


async def test_a_long_pause_tells_the_user_how_long(alice, exchange):
    exchange.faults.rate_limit_next("/api/v3/ticker/24hr", retry_after=30)
    reply = await ask(alice, "/price BTC")
    assert "try again in 30 s" in reply.text, reply.text
    reply = await ask(alice, "/price ETH")  # nothing is sent meanwhile: still told, not banned
    assert "try again in" in reply.text, reply.text
    assert exchange.faults.ban_error() is None


async def test_cancelling_an_order_the_bot_follows_asks_no_open_orders_of_every_symbol(
    alice_with_key, exchange
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await confirm(alice_with_key, await ask(alice_with_key, "/buy BTC 0.001 @ 50000"))
    [order] = exchange.orders_for(ALICE_KEY)
    before = exchange.limits.spent[("GET", "/api/v3/openOrders")]
    reply = await ask(alice_with_key, f"/cancel {order.order_id}")
    assert f"Cancelled order #{order.order_id}" in reply.text, reply.text
    assert exchange.limits.spent[("GET", "/api/v3/openOrders")] == before  # not 80 more
    again = await ask(alice_with_key, f"/cancel {order.order_id}")
    assert f"no open order #{order.order_id}" in again.text, again.text


async def test_new_orders_are_paced_under_the_accounts_order_limit(api, exchange, settings_factory):
    from chatbot.app import running_bot

    exchange.limits.orders_per_10s = 5  # announced in exchangeInfo; the bot keeps to 4
    exchange.set_price("BTCUSDT", Decimal("60000"))
    settings = settings_factory()
    await store_keys(settings, exchange, [ALICE])
    async with running_bot(settings, poll_timeout=1):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        previews = [await ask(alice, "/buy BTCUSDT 0.0002") for _ in range(6)]
        results = await asyncio.gather(*(confirm(alice, p) for p in previews))
    placed = [r for r in results if "Filled" in r.text]
    told = [r for r in results if "try again in" in r.text]
    assert len(placed) + len(told) == 6, [r.text for r in results]
    assert len(placed) == len(exchange.orders_for(ALICE_KEY)) >= 4
    assert exchange.limits.rejections_429 == 0  # Binance never had to refuse one (-1015)


async def test_balance_is_kept_by_the_user_data_stream_once_known(
    alice_with_key, exchange, running_bot
):
    await following(running_bot)
    assert "USDT 1,000" in (await ask(alice_with_key, "/balance")).text  # asked of Binance
    asked = exchange.limits.spent[("GET", "/api/v3/account")]
    exchange.deposit(ALICE_KEY, "USDT", Decimal("500"))  # the stream tells the new balance
    reply = await ask(alice_with_key, "/balance")
    while "USDT 1,500" not in reply.text:  # the event may still be on its way
        assert "USDT 1,000" in reply.text, reply.text
        reply = await ask(alice_with_key, "/balance")
    assert exchange.limits.spent[("GET", "/api/v3/account")] == asked  # no weight spent
    await exchange.drop_websockets()  # a gap: what the stream told can no longer be trusted
    await until(lambda: not runtime(running_bot).fill_feed.stream.connected)
    exchange.account(ALICE_KEY).credit("USDT", Decimal("1"))  # changed, unseen by the stream
    await following(running_bot)
    reply = await ask(alice_with_key, "/balance")
    assert "USDT 1,501" in reply.text, reply.text
    assert exchange.limits.spent[("GET", "/api/v3/account")] > asked


async def test_many_users_asking_one_price_at_once_cost_one_request(
    api, exchange, settings_factory
):
    from chatbot.app import running_bot

    settings = settings_factory(CHATBOT_ALLOWED_USERS="*")
    async with running_bot(settings, poll_timeout=1):
        users = [api.conversation(api.user(5000 + n, first_name=f"U{n}")) for n in range(40)]
        await ask(users[0], "/price ETH")  # symbols known: exchangeInfo is not part of the count
        before = exchange.limits.spent[("GET", "/api/v3/ticker/24hr")]
        replies = await asyncio.gather(*(ask(user, "/price BTC") for user in users))
        assert all("BTCUSDT" in reply.text for reply in replies), replies[0].text
        # one request (weight 2) for all forty, two if the burst straddled the cache's second
        assert exchange.limits.spent[("GET", "/api/v3/ticker/24hr")] - before <= 2 * 2


async def test_replicas_behind_one_ip_spend_one_budget_by_binances_count(exchange):
    """Two replicas' clients on one IP: Binance's count of the IP's weight comes back on every
    response, so each governor counts the other's calls as spent, and the two stop together at
    one share of the limit (neither divides it nor spends it twice)."""
    from chatbot.exchange.client import BinanceClient
    from chatbot.exchange.errors import RateLimited

    here, there = BinanceClient(exchange.rest_url), BinanceClient(exchange.rest_url)
    try:
        for client in (here, there):
            await client.exchange_info()  # the limit: 6,000 a minute; users' reads 4,320 of it
            client.governor.user_wait = 0.0  # refuse at once rather than wait for the minute
        await until_async(_clear_of_the_minutes_turn, within=10)  # all of it in one minute
        for _ in range(16):
            await here.depth("BTCUSDT", limit=5000)  # 250 weight each: 4,000
        await there.ping()
        assert there.governor.used >= 4000  # the other replica's weight, by Binance's count
        await there.depth("BTCUSDT", limit=5000)  # 4,250 and more: still under 4,320
        with pytest.raises(RateLimited):
            await there.depth("BTCUSDT", limit=5000)  # the IP's share is spent
        await here.ping()  # the first replica learns the IP's count on its next response
        with pytest.raises(RateLimited):
            await here.depth("BTCUSDT", limit=5000)  # and stops too
        assert exchange.limits.refused_weight == 0  # the refusals were the bot's, not Binance's
    finally:
        await here.close()
        await there.close()


async def _clear_of_the_minutes_turn() -> bool:
    """Binance's weight window turns with the minute (and the bot's a second later)."""
    import time

    return 2 < time.time() % 60 < 55
