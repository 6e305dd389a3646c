"""A keyed user's commands cost next to no request weight once their account and open orders
are known: the user-data stream keeps both. Through the real bot, the simulator (which counts
the weight of every call by endpoint) and the Bot API emulator."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from pydantic import SecretStr

from chatbot.exchange.signing import HmacSigner
from chatbot.runtime import runtime
from tests.e2e.binance_wire import Binance
from tests.e2e.conftest import ALICE, ALICE_KEY, ALICE_SECRET, BOB, ask
from tests.e2e.helpers import (
    OTHERS,
    confirm,
    following,
    notices,
    place_resting_buy,
    store_keys,
    until_async,
    users_synced,
)

OPEN_ORDERS, ACCOUNT = ("GET", "/api/v3/openOrders"), ("GET", "/api/v3/account")


def alices_app(session, exchange) -> Binance:
    """Alice's own Binance app: orders placed and cancelled outside the chat."""
    return Binance(session, exchange.rest_url, ALICE_KEY, HmacSigner(SecretStr(ALICE_SECRET)))


def spent(exchange) -> tuple[int, int]:
    return exchange.limits.spent[OPEN_ORDERS], exchange.limits.spent[ACCOUNT]


async def wait_for_notice(conv, prefix: str, count: int = 1) -> None:
    await conv.wait_for(
        lambda: len([n for n in notices(conv) if n.text.startswith(prefix)]) >= count, timeout=15
    )


# Its polling loops send a command per look; a slow run must not meet the 20-per-minute limit.
@pytest.mark.parametrize("overrides", [{"CHATBOT_COMMAND_LIMIT": "500"}])
async def test_orders_and_previews_answer_from_the_stream_and_stay_exact(
    alice_with_key, exchange, running_bot, session
):
    await following(running_bot)
    app = alices_app(session, exchange)
    chat_order = await place_resting_buy(alice_with_key, exchange)  # 0.001 at 55,000
    placed = await app.order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.002",
        price="50000",
    )
    web_id = placed.body["orderId"]
    [chat_id] = [o.order_id for o in exchange.orders_for(ALICE_KEY) if o.order_id != web_id]
    listed = await ask(alice_with_key, "/orders")
    while f"#{web_id}" not in listed.text:  # its NEW event may still be on its way
        listed = await ask(alice_with_key, "/orders")
    assert f"#{chat_id} BUY LIMIT BTCUSDT 0/0.001 @ 55,000" in listed.text, listed.text
    assert f"#{web_id} BUY LIMIT BTCUSDT 0/0.002 @ 50,000 · 0 min old" in listed.text
    before = spent(exchange)

    exchange.set_price("BTCUSDT", Decimal("55000"), qty=Decimal("0.0004"))  # a partial fill
    await wait_for_notice(alice_with_key, "🔸")
    cancelled = await app.signed(
        "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": web_id}
    )
    assert cancelled.status == 200, cancelled.body
    await wait_for_notice(alice_with_key, "✖")
    for _ in range(10):
        listed = await ask(alice_with_key, "/orders")
        assert "Open orders (1)" in listed.text, listed.text
        assert f"#{chat_id} BUY LIMIT BTCUSDT 0.0004/0.001 @ 55,000" in listed.text, listed.text
    assert "You have no open orders on ETHUSDT" in (await ask(alice_with_key, "/orders ETH")).text
    # 1,000 - 22 spent on the fill - 33 held by the rest of the order
    free = "Your free USDT: 945"
    for _ in range(5):
        preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
        while free not in preview.text:  # the balance event may trail the order's
            assert "Your free USDT: 8" in preview.text, preview.text
            preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    assert spent(exchange) == before  # neither openOrders nor account asked again
    assert chat_order is not None


async def test_a_stream_gap_makes_the_next_orders_wait_for_one_re_read(
    alice_with_key, exchange, running_bot
):
    await following(running_bot)
    resting = await place_resting_buy(alice_with_key, exchange)
    [order] = exchange.orders_for(ALICE_KEY)
    assert f"#{order.order_id}" in (await ask(alice_with_key, "/orders")).text, resting.text
    before, _ = spent(exchange)
    await exchange.drop_websockets()  # a gap: the stream's record can no longer be trusted
    await until_async(lambda: _stream_down(running_bot), within=10)
    await following(running_bot)
    for _ in range(3):
        listed = await ask(alice_with_key, "/orders")
        assert f"#{order.order_id} BUY LIMIT BTCUSDT 0/0.001 @ 55,000" in listed.text, listed.text
    assert spent(exchange)[0] == before + 80  # the gap's one re-read of every symbol


async def _stream_down(running_bot) -> bool:
    return not runtime(running_bot).fill_feed.stream.connected


async def test_keyed_users_starting_together_read_no_open_orders_of_every_symbol(
    api, exchange, settings_factory, session
):
    from chatbot.app import running_bot

    users = [ALICE, *OTHERS]
    settings = settings_factory(CHATBOT_ALLOWED_USERS=",".join(map(str, users)))
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await store_keys(settings, exchange, users)
    exchange.deposit(ALICE_KEY, "BTC", Decimal("0.01"))
    app = alices_app(session, exchange)
    placed = await app.order(  # placed before the bot ever followed Alice
        symbol="BTCUSDT",
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.005",
        price="70000",
    )
    async with running_bot(settings, poll_timeout=1) as bot_app:
        await until_async(lambda: _synced(settings.db_path, len(users)), within=60)
        # only Alice has funds locked by an open order: one read of every symbol, for her
        assert exchange.limits.spent[OPEN_ORDERS] == 80
        assert exchange.limits.spent[ACCOUNT] == 20 * len(users)
        before = spent(exchange)
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        listed = await ask(alice, "/orders")
        assert f"#{placed.body['orderId']} SELL LIMIT BTCUSDT 0/0.005 @ 70,000" in listed.text
        other = api.conversation(api.user(OTHERS[0], first_name="Other"))
        assert "You have no open orders." in (await ask(other, "/orders")).text
        assert "USDT" in (await ask(other, "/balance")).text
        assert spent(exchange) == before  # the start-up reads seeded what they answer from
        assert notices(alice) == []  # her order was remembered, not announced as new
        assert runtime(bot_app).fill_feed.stream.connected


async def _synced(path: str, count: int) -> bool:
    return await users_synced(path) >= count


async def test_an_order_confirmed_while_reads_use_up_the_budget_is_placed_at_once(
    api, exchange, settings_factory
):
    from chatbot.app import running_bot

    exchange.limits.weight_per_minute = 250  # the bot's share 200, users' reads 180 of it
    exchange.set_price("BTCUSDT", Decimal("60000"))
    # Bob may read until Binance's budget refuses him, even when a slow machine lets the
    # minute turn meanwhile (then it takes more than 20 commands)
    settings = settings_factory(CHATBOT_COMMAND_LIMIT="500")
    await store_keys(settings, exchange, [ALICE])
    await until_async(_early_in_a_minute, within=40)  # the test within one of Binance's minutes
    async with running_bot(settings, poll_timeout=1):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        bob = api.conversation(api.user(BOB, first_name="Bob"))
        preview = await ask(alice, "/buy BTCUSDT 0.001")
        assert "Preview: BUY BTCUSDT" in preview.text, preview.text
        # Bob's reads spend all that users' reads may: recent trades (25) while they fit,
        # then prices (2 each, shared for a second) until not even one fits
        await _read_until_refused(bob, ["/trades BTCUSDT"])
        await _read_until_refused(bob, [f"/price {s}" for s in ("BTC", "ETH", "BNB", "SOL", "XRP")])
        result = await confirm(alice, preview)
        assert "Filled" in result.text, result.text
    assert len(exchange.orders_for(ALICE_KEY)) == 1
    assert exchange.limits.rejections_429 == 0


async def _read_until_refused(conv, commands: list[str]) -> None:
    for n in range(200):
        reply = await ask(conv, commands[n % len(commands)])
        if "request limit" in reply.text:
            return
    raise AssertionError(f"never refused: {reply.text}")


async def _early_in_a_minute() -> bool:
    """Clear of the minute's turn, which the bot waits a second longer for than Binance."""
    return 5 < time.time() % 60 < 30
