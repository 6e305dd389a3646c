"""Exits end to end: /protect, /sl, /tp and /buy with tp/sl, from the preview through Confirm to
the orders on the simulator and back, with the simulator's prices driving the triggers."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from chatbot.sandbox.exchange.orders import Order
from tests.e2e.conftest import ask
from tests.e2e.helpers import confirm, orders_at_exchange, until


def _by_type(orders: list[Order]) -> dict[str, Order]:
    return {o.type: o for o in orders}


async def test_protect_places_an_oco_whose_take_profit_cancels_the_stop(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/protect BTC sl 58000 tp 63000")
    text = preview.text
    assert "Preview: exit on BTCUSDT (OCO" in text, text
    assert "Take-profit: sell 0.05 BTC at 63,000 (limit maker)" in text
    assert "Stop-loss: sell 0.05 BTC if the price falls to 58,000 (market)" in text
    assert "Loss at the stop: −" in text and "of your balance" in text
    assert "Gain at the target: +" in text and "Risk:reward 1 : " in text
    assert orders_at_exchange(exchange) == []  # nothing sent before Confirm
    result = await confirm(alice_with_key, preview)
    assert "Placed" in result.text and "(OCO, order list #" in result.text, result.text
    legs = _by_type(orders_at_exchange(exchange))
    assert set(legs) == {"LIMIT_MAKER", "STOP_LOSS"}
    assert legs["LIMIT_MAKER"].order_list_id == legs["STOP_LOSS"].order_list_id >= 0
    assert legs["LIMIT_MAKER"].orig_qty == Decimal("0.05")
    exchange.set_price("BTCUSDT", Decimal("63500"))
    await until(lambda: _by_type(orders_at_exchange(exchange))["LIMIT_MAKER"].status == "FILLED")
    await until(lambda: _by_type(orders_at_exchange(exchange))["STOP_LOSS"].status == "EXPIRED")


async def test_protect_one_side_places_a_single_stop(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/protect BTC 0.02 sl -5%")
    assert "(one order)" in preview.text
    assert "Stop-loss: sell 0.02 BTC if the price falls to 57,000 (market)" in preview.text
    result = await confirm(alice_with_key, preview)
    assert "Placed" in result.text and "stop-loss #" in result.text, result.text
    [order] = orders_at_exchange(exchange)
    assert (order.type, order.stop_price, order.order_list_id) == ("STOP_LOSS", 57000, -1)


async def test_sl_alone_triggers_when_the_price_falls(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    result = await confirm(alice_with_key, await ask(alice_with_key, "/sl BTC 0.01 @ 59000"))
    assert "stop-loss #" in result.text, result.text
    [order] = orders_at_exchange(exchange)
    assert order.status == "NEW" and not order.is_working
    exchange.set_price("BTCUSDT", Decimal("58900"))
    await until(lambda: orders_at_exchange(exchange)[0].status == "FILLED")


async def test_tp_alone_is_a_take_profit_order(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/tp BTC +5%")
    assert "Take-profit: sell 0.05 BTC if the price rises to 63,000 (market)" in preview.text
    assert "Gain at the target: +" in preview.text
    result = await confirm(alice_with_key, preview)
    assert "take-profit #" in result.text, result.text
    [order] = orders_at_exchange(exchange)
    assert (order.type, order.stop_price) == ("TAKE_PROFIT", 63000)


async def test_a_trailing_stop_activates_and_triggers(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/sl BTC trail 2%")
    assert "once the price falls 2% from its highest" in preview.text, preview.text
    await confirm(alice_with_key, preview)
    [order] = orders_at_exchange(exchange)
    assert (order.trailing_delta, order.stop_price) == (200, 0)
    exchange.set_price("BTCUSDT", Decimal("62000"))  # the highest since it was placed
    exchange.set_price("BTCUSDT", Decimal("61000"))  # -1.6%: still above its trigger
    assert orders_at_exchange(exchange)[0].status == "NEW"
    exchange.set_price("BTCUSDT", Decimal("60700"))  # -2.1% from 62,000: triggers
    await until(lambda: orders_at_exchange(exchange)[0].status == "FILLED")


async def test_buy_with_tp_and_sl_is_one_otoco(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTC 0.01 @ 59000 tp 63000 sl 57000")
    text = preview.text
    assert "Preview: BUY BTCUSDT with exits (OTOCO)" in text, text
    assert "Limit price: 59,000 USDT" in text and "after its fee" in text
    assert "Take-profit: sell 0.00999 BTC at 63,000 (limit maker)" in text
    assert "Risk:reward 1 : " in text
    result = await confirm(alice_with_key, preview)
    assert "Entry placed" in result.text and "go on the book when it fills" in result.text
    legs = _by_type(orders_at_exchange(exchange))
    assert set(legs) == {"LIMIT", "LIMIT_MAKER", "STOP_LOSS"}
    assert legs["LIMIT"].is_working and legs["LIMIT_MAKER"].status == "PENDING_NEW"
    exchange.set_price("BTCUSDT", Decimal("58900"))  # the entry fills: its OCO starts
    await until(lambda: _by_type(orders_at_exchange(exchange))["LIMIT_MAKER"].status == "NEW")
    assert _by_type(orders_at_exchange(exchange))["LIMIT"].status == "FILLED"


async def test_refusals_say_the_rule_before_any_ticket(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    refusals = {
        "/sl BTC 61000": "a stop-loss to sell must be below the last price",
        "/protect BTC sl 58000 tp 59000": "the limit order must be above the last price",
        "/sl BTC trail 25%": "a trailing stop must trail by 0.1% to 20% on BTCUSDT",
        "/protect BTC sl 58000 tp 200000": "2x / 0.5x the average price",
        "/protect BTC 1 sl 58000": "you have 0.05 BTC free",
        "/buy BTC 0.01 @ 59000 tp 58000 sl 57000": "take-profit",
        "/buy BTC $100 tp +5% sl -3%": "with exits, type the quantity to buy",
        "/buy BTC 0.01 tp +5%": "a /buy carries both exits",
    }
    for command, rule in refusals.items():
        reply = await ask(alice_with_key, command)
        assert rule.lower() in reply.text.lower(), (command, reply.text)
        assert not reply.buttons, command
    assert orders_at_exchange(exchange) == []


async def test_max_num_algo_orders_is_refused_in_the_preview(alice_with_key, exchange):
    from tests.e2e.conftest import ALICE_KEY

    exchange.deposit(ALICE_KEY, "FET", Decimal("100"))
    exchange.set_price("FETUSDT", Decimal("2"))
    await confirm(alice_with_key, await ask(alice_with_key, "/sl FET 50 @ 1.8"))
    reply = await ask(alice_with_key, "/sl FET 50 @ 1.7")
    assert "MAX_NUM_ALGO_ORDERS" in reply.text and not reply.buttons, reply.text
    assert len(orders_at_exchange(exchange)) == 1


async def test_a_double_confirm_places_one_list(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/protect BTC sl 58000 tp 63000")
    await asyncio.gather(*(alice_with_key.press(preview, "Confirm") for _ in range(5)))
    await alice_with_key.wait_for(lambda: "Placed" in alice_with_key.current(preview).text, 15)
    assert len(orders_at_exchange(exchange)) == 2  # one OCO: two legs


async def test_a_lost_otoco_answer_is_found_by_its_list_client_id(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    exchange.faults.fail_next("/api/v3/orderList/otoco", count=1, status=503, execute=True)
    preview = await ask(alice_with_key, "/buy BTC 0.01 @ 59000 tp 63000 sl 57000")
    result = await confirm(alice_with_key, preview)
    assert "Entry placed" in result.text, result.text
    assert len(orders_at_exchange(exchange)) == 3  # sent once, never again


async def test_a_trailing_take_profit_activates_at_its_level_then_triggers(
    alice_with_key, exchange
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/tp BTC 62000 trail 1%")
    assert "trailing 1% once it reaches 62,000" in preview.text, preview.text
    assert "At the target: not known until it starts to trail." in preview.text
    await confirm(alice_with_key, preview)
    [order] = orders_at_exchange(exchange)
    assert (order.type, order.stop_price, order.trailing_delta) == ("TAKE_PROFIT", 62000, 100)
    exchange.set_price("BTCUSDT", Decimal("61000"))
    assert orders_at_exchange(exchange)[0].trail_best is None  # not active below its level
    exchange.set_price("BTCUSDT", Decimal("62500"))  # reaches its level: trailing starts
    assert orders_at_exchange(exchange)[0].trail_best == Decimal("62500")
    exchange.set_price("BTCUSDT", Decimal("63000"))
    exchange.set_price("BTCUSDT", Decimal("62400"))  # -0.95% from 63,000: not yet
    assert orders_at_exchange(exchange)[0].status == "NEW"
    exchange.set_price("BTCUSDT", Decimal("62300"))  # -1.1%: triggers
    await until(lambda: orders_at_exchange(exchange)[0].status == "FILLED")
