"""The truth about every order, in every failure: "not placed" only when Binance proves it,
every change told exactly once, nothing lost across a gap or a restart.

End to end: the real bot between the Bot API emulator and the exchange simulator.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from chatbot.config import Settings
from chatbot.runtime import runtime
from chatbot.sandbox.exchange.engine import OrderRequest as SimOrder
from tests.e2e.conftest import ALICE, ALICE_KEY, SettingsFactory, ask
from tests.e2e.helpers import (
    WATCH,
    following,
    notice_texts,
    place_resting_buy,
    press_confirm,
    process_dies,
    said,
    ticket_of,
)


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Settings:
    return settings_factory(CHATBOT_ORDER_WATCH=str(WATCH))


def match_late(exchange, ticket_id: str, symbol="BTCUSDT", side="BUY", qty="0.001") -> None:
    """Binance matches the order now, long after it answered that its status was unknown."""
    spec = exchange.catalog.get(symbol)
    request = SimOrder(spec, side, "MARKET", None, Decimal(qty), None, None, ticket_id)
    exchange.engine.place(exchange.account(ALICE_KEY), request)


async def test_lost_answer_is_unknown_then_missing_never_not_placed(alice_with_key, exchange):
    exchange.faults.fail_next("/api/v3/order", code=-1007, execute=False)
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    await press_confirm(alice_with_key, preview)
    assert "Not confirmed yet" in alice_with_key.current(preview).text
    missing = await alice_with_key.wait_for(
        lambda: said(alice_with_key, "Still no record"), timeout=WATCH + 15
    )
    assert missing
    update = alice_with_key.messages[-1].text
    assert "most likely was not placed" in update and "Check /orders" in update
    assert not said(alice_with_key, "Not placed") and not said(alice_with_key, "try again")
    assert exchange.orders_for(ALICE_KEY) == []


async def test_order_appearing_after_the_watch_is_still_reported(
    alice_with_key, exchange, running_bot
):
    await following(running_bot)
    exchange.faults.fail_next("/api/v3/order", code=-1007, execute=False)
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    await press_confirm(alice_with_key, preview)
    await alice_with_key.wait_for(lambda: said(alice_with_key, "Still no record"), WATCH + 15)
    match_late(exchange, ticket_of(preview))
    await alice_with_key.wait_for(lambda: "Filled" in alice_with_key.current(preview).text, 15)
    notice = await alice_with_key.wait_for(
        lambda: next((n for n in notice_texts(alice_with_key) if n.startswith("✅")), None), 15
    )
    assert "BUY MARKET BTCUSDT" in notice and "Filled 0.001 of 0.001" in notice
    assert any("now confirmed" in n for n in notice_texts(alice_with_key))
    assert len(exchange.orders_for(ALICE_KEY)) == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503},  # a load balancer's HTML page
        {"status": 400},  # a proxy's 400 page: no Binance error code
        {"status": 408},
        {"code": -1006, "status": 400},  # "execution status unknown", on a 4xx
        {"code": -1007, "status": 408},
        {"code": -1000, "status": 400},
    ],
)
async def test_unknown_answer_with_the_order_executed_ends_filled(alice_with_key, exchange, fault):
    exchange.faults.fail_next("/api/v3/order", execute=True, **fault)
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    await press_confirm(alice_with_key, preview)
    # the user-data stream's NEW may edit the preview first ("placed"), its fill follows
    await alice_with_key.wait_for(lambda: "Filled" in alice_with_key.current(preview).text, 15)
    assert not said(alice_with_key, "Not placed")
    assert len(exchange.orders_for(ALICE_KEY)) == 1


async def test_a_refusal_with_a_binance_code_is_not_placed(alice_with_key, exchange):
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.01")
    exchange.deposit(ALICE_KEY, "USDT", Decimal("-999"))  # spent elsewhere: -2010 at Confirm
    await press_confirm(alice_with_key, preview)
    text = alice_with_key.current(preview).text
    assert "Not placed" in text and "enough balance" in text
    assert not text.endswith("..")
    assert exchange.orders_for(ALICE_KEY) == []


async def test_restart_with_a_ticket_in_each_state(
    api, exchange, settings, alice_with_key, running_bot
):
    from chatbot.app import running_bot as run
    from chatbot.exchange.client import OrderRequest
    from chatbot.storage.tickets import TicketState

    services = runtime(running_bot).services
    tickets = services.orders.ticket_repository
    creds = await services.keys.credentials(ALICE)
    previews = {}
    for state in ("confirming", "submitted", "unknown"):
        previews[state] = await ask(alice_with_key, "/buy BTCUSDT 0.001")
        assert await tickets.claim(ticket_of(previews[state]), ALICE, 0)
    # the process dies: one ticket before sending, one after sending (the order executed),
    # one whose answer was lost and that Binance never got
    submitted, unknown = ticket_of(previews["submitted"]), ticket_of(previews["unknown"])
    await tickets.move(submitted, (TicketState.CONFIRMING,), TicketState.SUBMITTED)
    await services.account.client.place_order(
        creds,
        OrderRequest("BTCUSDT", "BUY", "MARKET", Decimal("0.001"), client_order_id=submitted),
    )
    await tickets.move(unknown, (TicketState.CONFIRMING,), TicketState.UNKNOWN)
    await process_dies(running_bot)  # its user-data stream too: no second process tells it
    async with run(settings, poll_timeout=1):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        await alice.wait_for(lambda: "Filled" in alice.current(previews["submitted"]).text, 15)
        # told once: by the old process when the stream's fill beat the stop, else after the restart
        await alice.wait_for(
            lambda: [n for n in notice_texts(alice) if n.startswith("✅ Filled")], 15
        )
        await alice.wait_for(lambda: "Not sent" in alice.current(previews["confirming"]).text, 15)
        assert "nothing was placed" in alice.current(previews["confirming"]).text
        await alice.wait_for(
            lambda: "Still no record" in alice.current(previews["unknown"]).text, WATCH + 15
        )
        assert not said(alice, "Not placed")
        assert len([n for n in notice_texts(alice) if n.startswith("✅ Filled")]) == 1
    assert [o.client_order_id for o in exchange.orders_for(ALICE_KEY)] == [submitted]


async def test_fill_while_the_bot_was_down_is_told_after_the_restart(
    api, exchange, settings, alice_with_key, running_bot
):
    from chatbot.app import running_bot as run

    await following(running_bot)
    await place_resting_buy(alice_with_key, exchange)
    await process_dies(running_bot)
    exchange.set_price("BTCUSDT", Decimal("54990"))  # filled while nobody listens
    async with run(settings, poll_timeout=1):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        notice = await alice.wait_for(
            lambda: next((n for n in notice_texts(alice) if n.startswith("✅ Filled")), None), 15
        )
        assert "BUY LIMIT BTCUSDT" in notice and "Fee:" in notice


async def test_order_placed_and_filled_elsewhere_during_a_restart_is_told(
    api, exchange, settings, alice_with_key, running_bot
):
    from chatbot.app import running_bot as run

    await following(running_bot)
    await place_resting_buy(alice_with_key, exchange)  # BTCUSDT is now a symbol of Alice's
    await process_dies(running_bot)
    spec = exchange.catalog.get("BTCUSDT")
    web_order = SimOrder(spec, "SELL", "MARKET", None, Decimal("0.002"), None, None, "web123")
    exchange.engine.place(exchange.account(ALICE_KEY), web_order)  # on Binance's app
    async with run(settings, poll_timeout=1):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        notice = await alice.wait_for(
            lambda: next((n for n in notice_texts(alice) if "SELL MARKET" in n), None), 15
        )
        assert notice.startswith("✅ Filled") and "Filled 0.002 of 0.002" in notice


async def test_a_refused_cancel_does_not_hide_a_later_cancel(alice_with_key, exchange, running_bot):
    await following(running_bot)
    await place_resting_buy(alice_with_key, exchange)
    [order] = exchange.orders_for(ALICE_KEY)
    exchange.faults.fail_next("/api/v3/order", method="DELETE", code=-2011, status=400)
    reply = await ask(alice_with_key, f"/cancel {order.order_id}")
    assert "could not cancel" in reply.text
    exchange.engine.cancel(exchange.account(ALICE_KEY), order, None)  # cancelled on the web
    notice = await alice_with_key.wait_for(
        lambda: next((n for n in notice_texts(alice_with_key) if n.startswith("✖")), None), 15
    )
    assert f"#{order.order_id}" in notice


async def test_a_filter_failure_rereads_the_rules_and_previews_again(alice_with_key, exchange):
    exchange.faults.fail_next("/api/v3/order", code=-1013, status=400)
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    await alice_with_key.press(preview, "Confirm")
    fresh = await alice_with_key.reply(timeout=15)
    refused = alice_with_key.current(preview).text
    assert "Not placed" in refused and "rules were re-read" in refused
    assert "Preview: BUY BTCUSDT" in fresh.text and fresh.buttons
    assert exchange.orders_for(ALICE_KEY) == []
    await press_confirm(alice_with_key, fresh)
    await alice_with_key.wait_for(lambda: "Filled" in alice_with_key.current(fresh).text, 15)


async def test_a_failure_before_sending_ends_not_sent_never_stuck_sending(alice_with_key, exchange):
    # the slippage check's book ticker fails after Confirm: the order never leaves the bot
    preview = await ask(alice_with_key, "/buy BTCUSDT 0.001")
    exchange.faults.fail_next("/api/v3/ticker/bookTicker", count=5, code=-1003, status=429)
    await press_confirm(alice_with_key, preview)
    text = alice_with_key.current(preview).text
    assert "Not sent" in text and "Sending" not in text, text
    assert exchange.orders_for(ALICE_KEY) == []
