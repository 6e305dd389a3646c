"""Fill notifications: Binance's user-data stream (WebSocket API) into the chat."""

from __future__ import annotations

from decimal import Decimal

from chatbot.exchange.client import OrderRequest
from chatbot.runtime import runtime
from tests.e2e.conftest import ALICE, ALICE_KEY, ask
from tests.e2e.helpers import (
    confirm,
    following,
    notices,
    place_resting_buy,
    price_of,
    process_dies,
    sentinel_filled,
)


async def test_resting_order_fill_is_told(alice_with_key, exchange, running_bot):
    await following(running_bot)
    await place_resting_buy(alice_with_key, exchange)
    exchange.set_price("BTCUSDT", Decimal("54990"))
    notice = await alice_with_key.reply(timeout=10)
    assert notice.text.startswith("✅ Filled") and "LIMIT BTCUSDT" in notice.text
    assert "Filled 0.001 of 0.001" in notice.text and "Average price 55,000" in notice.text


async def test_market_order_from_the_chat_is_not_told_twice(alice_with_key, exchange, running_bot):
    await following(running_bot)
    result = await confirm(alice_with_key, await ask(alice_with_key, "/buy BTCUSDT 0.001"))
    assert "Filled" in result.text
    await sentinel_filled(alice_with_key, exchange)
    assert [price_of(m) for m in notices(alice_with_key)] == ["54000"]


async def test_fill_after_a_forced_drop_is_told(alice_with_key, exchange, running_bot):
    await following(running_bot)
    await place_resting_buy(alice_with_key, exchange)
    await exchange.drop_websockets()
    await following(running_bot)
    exchange.set_price("BTCUSDT", Decimal("54990"))
    notice = await alice_with_key.reply(timeout=15)
    assert notice.text.startswith("✅ Filled")
    await sentinel_filled(alice_with_key, exchange)
    assert [price_of(m) for m in notices(alice_with_key)] == ["55000", "54000"]


async def test_fill_during_the_gap_is_told_once(alice_with_key, exchange, running_bot):
    await following(running_bot)
    await place_resting_buy(alice_with_key, exchange)
    await exchange.drop_websockets()
    exchange.set_price("BTCUSDT", Decimal("54990"))  # while nobody listens
    notice = await alice_with_key.reply(timeout=15)
    assert notice.text.startswith("✅ Filled") and "#" in notice.text
    await sentinel_filled(alice_with_key, exchange)
    assert [price_of(m) for m in notices(alice_with_key)] == ["55000", "54000"]


async def test_orders_from_elsewhere_are_told(alice_with_key, exchange, running_bot):
    await following(running_bot)
    services = runtime(running_bot).services
    creds = await services.keys.credentials(ALICE)
    client = services.account.client
    order = await client.place_order(
        creds,
        OrderRequest(
            "ETHUSDT",
            "BUY",
            "LIMIT",
            Decimal("0.01"),
            price=(exchange.price("ETHUSDT") * Decimal("0.7")).quantize(Decimal("0.01")),
            time_in_force="GTC",
        ),
    )
    await client.cancel_order(creds, "ETHUSDT", order_id=order.order_id)  # as if on the web
    notice = await alice_with_key.reply(timeout=10)
    assert notice.text.startswith("✖ Cancelled") and "ETHUSDT" in notice.text


async def test_cancel_from_the_chat_is_not_told_twice(alice_with_key, exchange, running_bot):
    await following(running_bot)
    await place_resting_buy(alice_with_key, exchange)
    [order] = exchange.orders_for(ALICE_KEY)
    reply = await ask(alice_with_key, f"/cancel {order.order_id}")
    assert "Cancelled order" in reply.text
    await sentinel_filled(alice_with_key, exchange)
    assert [price_of(m) for m in notices(alice_with_key)] == ["54000"]


async def test_a_key_that_stops_working_is_told_once(alice_with_key, exchange, running_bot):
    await following(running_bot)
    exchange.account(ALICE_KEY).secret = "regenerated-on-binance"  # the old secret is refused
    await exchange.drop_websockets()
    await following(running_bot, subscribed=False)
    await exchange.drop_websockets()
    message = await alice_with_key.reply(timeout=15)
    assert "no longer works" in message.text
    await exchange.drop_websockets()  # one more reconnect: the refused key is not tried again
    await following(running_bot, subscribed=False)
    assert "no longer works" not in (await ask(alice_with_key, "/keyinfo")).text  # a later fact
    assert sum("no longer works" in m.text for m in alice_with_key.messages) == 1


async def test_users_with_keys_are_followed_after_a_restart(
    api, exchange, settings, alice_with_key, running_bot
):
    from chatbot.app import running_bot as run

    await following(running_bot)
    await place_resting_buy(alice_with_key, exchange)
    await process_dies(running_bot)
    async with run(settings, poll_timeout=1) as again:
        await following(again)
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        exchange.set_price("BTCUSDT", Decimal("54990"))
        notice = await alice.reply(timeout=10)
        assert notice.text.startswith("✅ Filled")
