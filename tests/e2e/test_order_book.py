"""Orders on a book with depth, and answers that arrive late, cut off or not at all: what the
user is told, end to end (real bot, Bot API emulator, exchange simulator)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chatbot.config import Settings
from tests.e2e.conftest import ALICE_KEY, SettingsFactory, ask
from tests.e2e.helpers import WATCH, following, notice_texts, place_resting_buy, press_confirm, said

LATE = 6.0  # seconds after its "-1007" answer that the simulator matches the order


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Settings:
    return settings_factory(CHATBOT_ORDER_WATCH=str(WATCH + 10))


async def test_late_matching_is_never_not_placed_and_its_fill_is_told(
    alice_with_key, exchange, running_bot
):
    await following(running_bot)
    exchange.faults.fail_next("/api/v3/order", code=-1007, status=503, execute_after=LATE)
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    await press_confirm(alice_with_key, preview)
    assert "Not confirmed yet" in alice_with_key.current(preview).text
    await alice_with_key.wait_for(lambda: "Filled" in alice_with_key.current(preview).text, 20)
    notice = await alice_with_key.wait_for(
        lambda: next((n for n in notice_texts(alice_with_key) if n.startswith("✅")), None), 15
    )
    assert "Filled 0.001 of 0.001" in notice
    assert not said(alice_with_key, "Not placed") and not said(alice_with_key, "try again")
    assert len(exchange.orders_for(ALICE_KEY)) == 1


@pytest.mark.parametrize("fault", ["truncate_next", "drop_next"])
async def test_an_unreadable_or_missing_answer_is_looked_up(alice_with_key, exchange, fault):
    getattr(exchange.faults, fault)("/api/v3/order", execute=True)
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    await press_confirm(alice_with_key, preview)
    # the user-data stream's NEW may edit the preview first ("placed"), its fill follows
    await alice_with_key.wait_for(lambda: "Filled" in alice_with_key.current(preview).text, 15)
    assert not said(alice_with_key, "Not placed")
    assert len(exchange.orders_for(ALICE_KEY)) == 1


async def test_market_buy_larger_than_the_best_level_walks_the_book(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    exchange.deposit(ALICE_KEY, "USDT", Decimal("1000000"))
    top = exchange.book_top("BTCUSDT")
    quantity = (top.ask_qty * 3).quantize(Decimal("0.00001"))
    preview = await ask(alice_with_key, f"/buy BTCUSDT {quantity}")
    await press_confirm(alice_with_key, preview)
    text = alice_with_key.current(preview).text
    [order] = exchange.orders_for(ALICE_KEY)
    assert len(order.fills) >= 3 and order.status == "FILLED"
    average = order.cumm_quote / order.executed_qty
    fees = sum(fill.commission for fill in order.fills)
    assert f"Bought {quantity.normalize():f} BTCUSDT" in text
    assert f"{average:,.2f}"[:-1] in text.replace(",", ",")  # the average, not the top price
    assert f"fee {fees.normalize():f} BTC" in text


async def test_partial_fill_then_cancel_tells_both(alice_with_key, exchange, running_bot):
    await following(running_bot)
    await place_resting_buy(alice_with_key, exchange)
    exchange.set_price("BTCUSDT", Decimal("55000"), qty=Decimal("0.0004"))
    partial = await alice_with_key.wait_for(
        lambda: next((n for n in notice_texts(alice_with_key) if n.startswith("🔸")), None), 15
    )
    assert "Filled 0.0004 of 0.001" in partial
    [order] = exchange.orders_for(ALICE_KEY)
    reply = await ask(alice_with_key, f"/cancel {order.order_id}")
    assert "Cancelled order" in reply.text and "0.0004 of 0.001 had filled" in reply.text
    exchange.set_price("BTCUSDT", Decimal("54000"))  # nothing more can fill
    assert [n for n in notice_texts(alice_with_key) if n.startswith("✖")] == []
    [order] = exchange.orders_for(ALICE_KEY)
    assert order.status == "CANCELED" and order.executed_qty == Decimal("0.0004")
