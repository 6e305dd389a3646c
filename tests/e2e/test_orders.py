"""Orders end to end: preview, confirmation, and every way it can go wrong, against the
exchange simulator through the real bot."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.e2e.conftest import ALICE, ALICE_KEY, BOB, ask
from tests.e2e.helpers import confirm, orders_at_exchange


async def test_market_buy_is_previewed_then_filled_once(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    assert "Preview: BUY BTCUSDT, market order" in preview.text
    assert "Quantity: 0.001 BTC" in preview.text and "best ask" in preview.text
    assert "Cost: ≈ 60.01 USDT" in preview.text and "Fee: ≈" in preview.text
    assert "Your free USDT: 1,000" in preview.text
    assert [b.text for b in preview.buttons[0]] == ["✅ Confirm", "✖ Cancel"]
    assert orders_at_exchange(exchange) == []  # nothing sent before Confirm
    result = await confirm(alice_with_key, preview)
    assert "Filled" in result.text and "Bought 0.001 BTCUSDT" in result.text
    assert not result.buttons
    [order] = orders_at_exchange(exchange)
    assert order.status == "FILLED"


async def test_limit_order_rests_open(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTC 0.001 @ 55000")
    assert "limit order (GTC)" in preview.text and "Limit price: 55,000 USDT" in preview.text
    result = await confirm(alice_with_key, preview)
    assert "Order placed" in result.text and "is open" in result.text
    [order] = orders_at_exchange(exchange)
    assert order.status == "NEW"
    assert "BTCUSDT" in (await ask(alice_with_key, "/orders")).text


async def test_quote_amount_order(alice_with_key, exchange):
    preview = await ask(alice_with_key, "/buy BTCUSDT 100 USDT")
    assert "Spend: 100 USDT" in preview.text and "Quantity: ≈" in preview.text
    result = await confirm(alice_with_key, preview)
    assert "Filled" in result.text
    assert (await ask(alice_with_key, "/buy ETH $50")).buttons


async def test_quantity_and_price_are_rounded_and_said_so(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/sell BTCUSDT 0.0012345 @ 61000.123")
    assert "Quantity: 0.00123 BTC (rounded from 0.0012345)" in preview.text
    assert "Limit price: 61,000.13 USDT (rounded from 61,000.123)" in preview.text


async def test_filter_refusals_show_the_rule_and_no_button(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    cases = {
        "/buy BTCUSDT 0.00005": "minimum order is 5 USDT",
        "/buy BTCUSDT 0.000001": "minimum quantity",
        "/buy BTCUSDT 1 @ 20000": "price must be between",
        "/sell BTCUSDT 10000": "maximum quantity",
    }
    for command, expected in cases.items():
        reply = await ask(alice_with_key, command)
        assert expected in reply.text, (command, reply.text)
        assert not reply.buttons
    assert orders_at_exchange(exchange) == []


async def test_bad_order_grammar_gets_an_example(alice_with_key):
    for command in ("/buy", "/buy BTC", "/buy BTC lots", "/buy BTC 1 @", "/buy BTC 1 ETH"):
        reply = await ask(alice_with_key, command)
        assert "/buy BTC" in reply.text, (command, reply.text)


async def test_cancel_then_confirm_places_nothing(alice_with_key, exchange):
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    await alice_with_key.press(preview, "Cancel")
    assert "Cancelled" in (await alice_with_key.edit(preview)).text
    query = await alice_with_key.press(preview, "Confirm")
    assert "cancelled" in (await alice_with_key.answer(query)).text
    assert orders_at_exchange(exchange) == []


async def test_fifty_concurrent_confirms_place_exactly_one_order(alice_with_key, exchange):
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    queries = await asyncio.gather(*(alice_with_key.press(preview, "Confirm") for _ in range(50)))
    answers = await asyncio.gather(*(alice_with_key.answer(q, timeout=30) for q in queries))
    assert sum(a.text == "Placing the order…" for a in answers) == 1
    # past the button limit (40 a minute by default) a press is told to wait
    assert all(a.text.startswith(("Placing", "Already", "Too many taps")) for a in answers)
    assert sum(a.text.startswith(("Placing", "Already")) for a in answers) == 40
    await alice_with_key.wait_for(lambda: "Filled" in alice_with_key.current(preview).text, 15)
    assert len(orders_at_exchange(exchange)) == 1


async def test_another_users_press_is_refused(api, alice_with_key, exchange):
    group = api.group_chat(-100999, title="Desk")
    alice_in_group = api.conversation(api.user(ALICE, first_name="Alice"), group)
    preview = await ask(alice_in_group, "/buy BTCUSDT 0.001")
    bob = api.conversation(api.user(BOB, first_name="Bob"), group)
    answer = await bob.answer(await bob.press(preview, "Confirm"))
    assert "not your order" in answer.text
    assert orders_at_exchange(exchange) == []


async def test_expired_preview_is_not_placed(alice_with_key, exchange, settings, ticket_clock):
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    ticket_clock.advance(settings.confirm_ttl + 0.1)  # the time to confirm runs out
    query = await alice_with_key.press(preview, "Confirm")
    assert "Expired" in (await alice_with_key.answer(query)).text
    assert "expired" in (await alice_with_key.edit(preview)).text
    assert orders_at_exchange(exchange) == []


async def test_price_moved_gives_a_fresh_preview_instead(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    exchange.set_price("BTCUSDT", Decimal("61500"))  # +2.5% against a buyer
    await alice_with_key.press(preview, "Confirm")
    fresh = await alice_with_key.reply(timeout=15)
    assert "price moved" in alice_with_key.current(preview).text
    assert "Preview: BUY BTCUSDT" in fresh.text and "61,5" in fresh.text and fresh.buttons
    assert orders_at_exchange(exchange) == []
    result = await confirm(alice_with_key, fresh)
    assert "Filled" in result.text


async def test_lost_answer_ends_with_exactly_one_order_and_the_truth(alice_with_key, exchange):
    exchange.faults.fail_next("/api/v3/order", count=1, status=503, execute=True)
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    await confirm(alice_with_key, preview)
    # the user-data stream's NEW may edit the preview first ("placed"), its fill follows
    await alice_with_key.wait_for(lambda: "Filled" in alice_with_key.current(preview).text, 15)
    assert len(orders_at_exchange(exchange)) == 1


async def test_cancel_one_and_cancel_all(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    for price in ("50000", "51000", "52000"):
        await confirm(alice_with_key, await ask(alice_with_key, f"/buy BTC 0.001 @ {price}"))
    first = orders_at_exchange(exchange)[0]
    reply = await ask(alice_with_key, f"/cancel {first.order_id}")
    assert f"Cancelled order #{first.order_id}" in reply.text
    assert "no open order #42" in (await ask(alice_with_key, "/cancel 42")).text
    preview = await ask(alice_with_key, "/cancel BTCUSDT all")
    assert "Cancel all 2 open orders on BTCUSDT?" in preview.text
    result = await confirm(alice_with_key, preview)
    assert "Cancelled 2 orders on BTCUSDT" in result.text
    assert "no open orders" in (await ask(alice_with_key, "/orders")).text


async def test_cap_on_order_value(api, settings_factory, exchange):
    from chatbot.app import running_bot as run

    exchange.add_account(ALICE_KEY, secret="s" * 64, balances={"USDT": Decimal(100000)})
    async with run(settings_factory(CHATBOT_MAX_ORDER_USDT="500"), poll_timeout=1):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        await ask(alice, f"/setkey {ALICE_KEY} {'s' * 64}")
        reply = await ask(alice, "/buy BTCUSDT 1000 USDT")
        assert "at most 500 USDT per order" in reply.text and not reply.buttons
