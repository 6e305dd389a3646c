"""Order lists (OCO, OTOCO) in the chat: however many events Binance sends about a list, the
user reads one message saying how it ended; an OTOCO's entry is told as an ordinary fill. The
lists are placed through the client, as if in the Binance app or on the web."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

from telegram.ext import Application

from chatbot.exchange.order_lists import ListLeg, OcoRequest, OrderList, OtocoRequest
from chatbot.runtime import runtime
from chatbot.sandbox.botapi import Conversation
from chatbot.sandbox.exchange import ExchangeSimulator
from chatbot.storage.database import open_database
from tests.e2e.conftest import ALICE, ALICE_KEY, ask
from tests.e2e.helpers import (
    following,
    notice_texts,
    place_resting_buy,
    process_dies,
    sentinel_filled,
    until_async,
    users_synced,
)

QTY = Decimal("0.01")


async def place_oco(running_bot: Application, exchange: ExchangeSimulator) -> OrderList:
    """Sell 0.01 BTC held at 63,000 (take-profit) or if the price falls to 57,000 (stop-loss),
    with BTCUSDT at 60,000."""
    exchange.set_price("BTCUSDT", Decimal("60000"))
    services = runtime(running_bot).services
    creds = await services.keys.credentials(ALICE)
    request = OcoRequest(
        symbol="BTCUSDT",
        side="SELL",
        quantity=QTY,
        above=ListLeg("LIMIT_MAKER", price=Decimal("63000")),
        below=ListLeg("STOP_LOSS", stop_price=Decimal("57000")),
        list_client_order_id="app-oco-1",
    )
    return await services.account.client.place_oco(creds, request)


async def place_otoco(running_bot: Application, exchange: ExchangeSimulator) -> OrderList:
    """Buy 0.01 BTC at 59,000, then sell it at 63,000 or if the price falls to 57,000."""
    exchange.set_price("BTCUSDT", Decimal("60000"))
    services = runtime(running_bot).services
    creds = await services.keys.credentials(ALICE)
    request = OtocoRequest(
        symbol="BTCUSDT",
        working_type="LIMIT",
        working_side="BUY",
        working_price=Decimal("59000"),
        working_quantity=QTY,
        working_time_in_force="GTC",
        pending_side="SELL",
        pending_quantity=QTY,
        pending_above=ListLeg("LIMIT_MAKER", price=Decimal("63000")),
        pending_below=ListLeg("STOP_LOSS", stop_price=Decimal("57000")),
        list_client_order_id="app-otoco-1",
    )
    return await services.account.client.place_otoco(creds, request)


def list_messages(alice: Conversation) -> list[str]:
    return [t for t in notice_texts(alice) if " on BTCUSDT " in t and ("OCO" in t)]


async def test_an_oco_whose_take_profit_fills_is_told_once(alice_with_key, exchange, running_bot):
    await following(running_bot)
    placed = await place_oco(running_bot, exchange)
    exchange.set_price("BTCUSDT", Decimal("63010"))
    await alice_with_key.wait_for(lambda: bool(list_messages(alice_with_key)), timeout=15)
    await sentinel_filled(alice_with_key, exchange)
    [told] = list_messages(alice_with_key)
    assert told.startswith(f"✅ OCO #{placed.order_list_id} on BTCUSDT done")
    assert "take-profit filled, sold 0.01 BTC at 63,000 for 630 USDT" in told
    assert "the stop-loss was cancelled" in told
    texts = notice_texts(alice_with_key)
    assert len(texts) == 2, texts  # the list's message and the sentinel's fill, nothing per leg


async def test_an_oco_whose_stop_triggers_is_told_once(alice_with_key, exchange, running_bot):
    await following(running_bot)
    await place_oco(running_bot, exchange)
    exchange.set_price("BTCUSDT", Decimal("56990"))
    await alice_with_key.wait_for(lambda: bool(list_messages(alice_with_key)), timeout=15)
    await sentinel_filled(alice_with_key, exchange)
    [told] = list_messages(alice_with_key)
    assert "stop-loss filled, sold 0.01 BTC" in told and "the take-profit was cancelled" in told
    assert len(notice_texts(alice_with_key)) == 2


async def test_an_otoco_tells_its_entry_then_its_end_with_the_result(
    alice_with_key, exchange, running_bot
):
    await following(running_bot)
    await place_otoco(running_bot, exchange)
    exchange.set_price("BTCUSDT", Decimal("58990"))  # the entry fills at 59,000
    await alice_with_key.wait_for(
        lambda: any("now on the book" in t for t in notice_texts(alice_with_key)), timeout=15
    )
    [entry] = notice_texts(alice_with_key)
    assert entry.startswith("✅ Filled") and "BUY LIMIT BTCUSDT" in entry
    exchange.set_price("BTCUSDT", Decimal("56990"))  # the stop triggers
    await alice_with_key.wait_for(lambda: bool(list_messages(alice_with_key)), timeout=15)
    await sentinel_filled(alice_with_key, exchange)
    [told] = list_messages(alice_with_key)
    assert told.startswith("✅ OTOCO #") and "stop-loss filled, sold 0.01 BTC" in told
    assert "the take-profit was cancelled" in told
    # the market stop sold into the book for what it says; the entry cost 0.01 × 59,000 = 590
    proceeds = Decimal(re.search(r"for ([\d,.]+) USDT", told)[1].replace(",", ""))
    loss = (590 - proceeds).quantize(Decimal("0.01"))
    assert proceeds < 590 and f"Result against the entry: −{loss} USDT" in told
    assert len(notice_texts(alice_with_key)) == 3


async def lists_known(database: str) -> int:
    """How many order lists the bot follows (`database`: CHATBOT_DB)."""
    db = await open_database(database)
    try:
        row = await db.fetch_one("SELECT COUNT(*) AS n FROM order_lists")
    finally:
        await db.close()
    return int(row["n"]) if row else 0


async def test_a_list_that_ended_while_the_bot_was_down_is_told_once_after_restart(
    api, exchange, settings, alice_with_key, running_bot
):
    from chatbot.app import running_bot as run

    await following(running_bot)
    await place_oco(running_bot, exchange)
    await until_async(lambda: lists_known(settings.db_path), within=15)
    await until_async(lambda: users_synced(settings.db_path), within=15)
    await process_dies(running_bot)
    exchange.set_price("BTCUSDT", Decimal("63010"))  # the take-profit fills unseen
    async with run(settings, poll_timeout=1) as again:
        await following(again)
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        await alice.wait_for(lambda: bool(list_messages(alice)), timeout=15)
        await sentinel_filled(alice, exchange)
        [told] = list_messages(alice)
        assert "take-profit filled, sold 0.01 BTC at 63,000" in told
        assert "the stop-loss was cancelled" in told
        assert len(notice_texts(alice)) == 2


async def legs_tracked(database: str) -> int:
    db = await open_database(database)
    try:
        row = await db.fetch_one(
            "SELECT COUNT(*) AS n FROM tracked_orders WHERE order_list_id IS NOT NULL"
        )
    finally:
        await db.close()
    return int(row["n"]) if row else 0


async def test_orders_groups_the_legs_of_a_list_beside_plain_orders(
    alice_with_key, exchange, settings, running_bot
):
    await following(running_bot)
    await place_resting_buy(alice_with_key, exchange)
    placed = await place_oco(running_bot, exchange)
    await until_async(lambda: legs_tracked(settings.db_path), within=15)
    reply = await ask(alice_with_key, "/orders")
    lines = reply.text.splitlines()
    [oco] = [line for line in lines if line.startswith("OCO #")]
    assert oco.startswith(f"OCO #{placed.order_list_id} BTCUSDT: ")
    assert "sell 0.01 @ 63,000 (limit maker)" in oco
    assert "stop-loss #" in oco and "sell 0.01 if ≤ 57,000 (market)" in oco
    assert "take-profit #" in oco
    assert all(f"#{o.order_id} " in oco for o in placed.orders)
    [plain] = [line for line in lines if "BUY LIMIT BTCUSDT" in line]
    assert "@ 55,000" in plain


async def test_cancel_of_a_leg_previews_the_list_and_cancels_it_once_after_confirm(
    alice_with_key, exchange, settings, running_bot
):
    await following(running_bot)
    placed = await place_oco(running_bot, exchange)
    await until_async(lambda: legs_tracked(settings.db_path), within=15)
    leg = placed.orders[0].order_id
    preview = await ask(alice_with_key, f"/cancel {leg}")
    assert f"Cancel order list #{placed.order_list_id} on BTCUSDT?" in preview.text
    assert all(f"#{o.order_id} " in preview.text for o in placed.orders)
    assert all(o.status == "NEW" for o in exchange.orders_for(ALICE_KEY))  # nothing yet
    await asyncio.gather(*(alice_with_key.press(preview, "Confirm") for _ in range(5)))
    await alice_with_key.wait_for(
        lambda: alice_with_key.current(preview).text.startswith("✅ Cancelled order list"),
        timeout=15,
    )
    result = alice_with_key.current(preview).text
    assert all(f"#{o.order_id} " in result for o in placed.orders)
    assert sorted(o.status for o in exchange.orders_for(ALICE_KEY)) == ["CANCELED"] * 2
    await sentinel_filled(alice_with_key, exchange)
    assert len(notice_texts(alice_with_key)) == 1  # the sentinel: the cancel was not told again
    # five presses, one cancel: a second DELETE would have been refused (list gone) and said so
    assert not any("no longer open" in m.text for m in alice_with_key.messages)
    assert "✅ Cancelled order list" in alice_with_key.current(preview).text
