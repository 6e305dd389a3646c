"""Order previews end to end: they refuse what Binance would refuse, never crash on odd
numbers, and offer no Confirm the balance cannot cover, through the real bot against the
exchange simulator."""

from __future__ import annotations

import re
from decimal import Decimal

from chatbot.exchange.client import BinanceClient
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.runtime import runtime
from chatbot.services.market import MarketService
from chatbot.services.order_outcomes import PressKind
from chatbot.storage.tickets import TicketState
from tests.e2e.conftest import ALICE, BOB, ask
from tests.e2e.helpers import confirm, orders_at_exchange

SEVENTY_DIGITS = "1" + "0" * 69


def button_texts(message) -> list[str]:
    return [button.text for row in message.buttons for button in row]


# --- no Confirm when the balance cannot cover the order ------------------------------------------


async def test_a_sell_beyond_the_free_balance_offers_the_largest_that_fits(
    alice_with_key, exchange
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/sell BTC 5")  # Alice has 0.05 BTC free
    assert "Not enough BTC: this order needs 5." in preview.text
    assert "the most that fits now is 0.05 BTC" in preview.text
    assert "Confirm within" not in preview.text
    assert button_texts(preview) == ["Sell 0.05 BTC instead"]
    await alice_with_key.press(preview, "Sell 0.05 BTC instead")
    fresh = await alice_with_key.reply(timeout=15)
    assert "Preview: SELL BTCUSDT, market order" in fresh.text
    assert "Quantity: 0.05 BTC" in fresh.text and "Not enough" not in fresh.text
    assert button_texts(fresh) == ["✅ Confirm", "✖ Cancel"]
    await alice_with_key.wait_for(lambda: not alice_with_key.current(preview).buttons)
    assert orders_at_exchange(exchange) == []  # nothing sent before Confirm
    result = await confirm(alice_with_key, fresh)
    assert "Filled" in result.text and "Sold 0.05 BTCUSDT" in result.text


async def test_a_buy_beyond_the_free_quote_offers_what_it_buys_at_the_best_ask(
    alice_with_key, exchange
):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    ask_price = exchange.book_top("BTCUSDT").ask
    largest = (Decimal(1000) / ask_price).quantize(Decimal("0.00001"), rounding="ROUND_FLOOR")
    preview = await ask(alice_with_key, "/buy BTCUSDT 1")  # 1,000 USDT free
    assert "Not enough USDT" in preview.text
    label = f"Buy {largest} BTC instead"
    assert button_texts(preview) == [label]
    await alice_with_key.press(preview, label)
    fresh = await alice_with_key.reply(timeout=15)
    assert f"Quantity: {largest} BTC" in fresh.text and fresh.buttons
    result = await confirm(alice_with_key, fresh)
    assert "Filled" in result.text


async def test_a_limit_buy_beyond_the_free_quote_fits_at_its_limit_price(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTC 1 @ 50000")
    assert button_texts(preview) == ["Buy 0.02 BTC instead"]  # 1,000 USDT / 50,000
    await alice_with_key.press(preview, "Buy 0.02 BTC instead")
    fresh = await alice_with_key.reply(timeout=15)
    assert "limit order (GTC)" in fresh.text and "Quantity: 0.02 BTC" in fresh.text
    assert "Limit price: 50,000 USDT" in fresh.text and fresh.buttons


async def test_an_amount_beyond_the_free_quote_offers_the_free_amount(alice_with_key, exchange):
    preview = await ask(alice_with_key, "/buy ETH $5000")
    assert button_texts(preview) == ["Spend 1,000 USDT instead"]
    await alice_with_key.press(preview, "Spend 1,000 USDT instead")
    fresh = await alice_with_key.reply(timeout=15)
    assert "Spend: 1,000 USDT" in fresh.text and fresh.buttons


async def test_when_no_smaller_order_fits_there_is_no_button_and_the_reason(
    alice_with_key, exchange
):
    preview = await ask(alice_with_key, "/sell XRP 100")  # 0.2 XRP free
    assert "Not enough XRP" in preview.text
    assert "no smaller order fits either: 0.2 XRP" in preview.text
    assert "minimum order is 5 USDT" in preview.text
    assert not preview.buttons
    assert "no ETH free" in (await ask(alice_with_key, "/sell ETH 1")).text


async def test_the_largest_button_is_the_owners_and_works_once(
    api, alice_with_key, exchange, running_bot
):
    group = api.group_chat(-100777, title="Desk")
    alice = api.conversation(api.user(ALICE, first_name="Alice"), group)
    bob = api.conversation(api.user(BOB, first_name="Bob"), group)
    preview = await ask(alice, "/sell BTC 5")
    answer = await bob.answer(await bob.press(preview, "Sell 0.05 BTC instead"))
    assert "not your order" in answer.text
    # Its ticket can never be confirmed, whatever callback data a client makes up.
    ticket_id = preview.buttons[0][0].callback_data.split(":")[2]
    forged = await runtime(running_bot).services.orders.confirm(ticket_id, ALICE)
    assert forged.won is None and forged.kind is PressKind.LOST
    assert forged.state is TicketState.CANCELLED
    query = await alice.press(preview, "Sell 0.05 BTC instead")
    assert (await alice.reply(timeout=15)).buttons
    await alice.answer(query)
    again = await alice.answer(await alice.press(preview, "Sell 0.05 BTC instead"))
    assert "already used" in again.text
    assert orders_at_exchange(exchange) == []


# --- orders by quote amount: Binance's rule, both sides of the boundary ---------------------------


async def test_a_quote_amount_just_under_the_minimum_names_the_smallest_that_works(
    alice_with_key, exchange
):
    # A heavy print at 62,000: the 5-minute average price is 62,000 (give or take a cent).
    exchange.market.set_price("BTCUSDT", Decimal("62000"), qty=Decimal("1000000"))
    # 5.20 USDT buys 0.00008 BTC at the ask, worth 4.96 USDT at the average price: too little.
    refused = await ask(alice_with_key, "/buy BTC $5.20")
    assert refused.text.startswith("Order refused: minimum order is 5 USDT; this one is 4.9")
    assert "(0.00008 BTC for 5.2 USDT at the best ask)" in refused.text
    assert not refused.buttons
    smallest = re.search(r"the smallest amount that works now is ([\d.]+) USDT", refused.text)
    assert smallest is not None, refused.text
    enough = Decimal(smallest.group(1))
    preview = await ask(alice_with_key, f"/buy BTC {enough} USDT")
    assert f"Spend: {enough} USDT" in preview.text and "Quantity: ≈ 0.00009 BTC" in preview.text
    assert preview.buttons
    short = await ask(alice_with_key, f"/buy BTC {enough - Decimal('0.01')} USDT")
    assert "Order refused" in short.text and not short.buttons
    assert "Filled" in (await confirm(alice_with_key, preview)).text


async def test_a_tiny_limit_order_shows_its_real_value(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    reply = await ask(alice_with_key, "/buy BTC 0.001 @ 1")
    assert "minimum order is 5 USDT; this one is 0.001 USDT" in reply.text
    assert not reply.buttons


# --- odd numbers ----------------------------------------------------------------------------------


async def test_odd_numbers_get_a_clear_reply_with_an_example(alice_with_key, exchange):
    cases = {
        f"/buy BTC {SEVENTY_DIGITS}": "too large: Binance takes an amount of at most",
        f"/buy BTC 0.001 @ {SEVENTY_DIGITS}": "too large: Binance takes a price of at most",
        "/sell BTC 0." + "1" * 70: "too many decimals",
        "/buy BTC $" + SEVENTY_DIGITS: "too large",
        "/buy BTC 92233720368 @ 92233720368": "Order refused: maximum",
        "/sell BTC 0.000000000000000001": "minimum quantity is 0.00001 BTC",
    }
    for command, expected in cases.items():
        reply = await ask(alice_with_key, command)
        assert expected in reply.text, (command, reply.text)
        assert "Something went wrong" not in reply.text and not reply.buttons
    assert orders_at_exchange(exchange) == []


# --- each filter's reference price, fetched as Binance defines it ---------------------------------


async def test_reference_prices_follow_each_filters_minutes(exchange):
    async with BinanceClient(exchange.rest_url) as client:
        market = MarketService(client)
        exchange.set_price("BTCUSDT", Decimal("61000"))  # a trade in this minute's kline
        rules = await client.symbol_rules("BTCUSDT")
        average = await client.avg_price("BTCUSDT")
        before = client.requests_sent
        same = await market.reference_prices(rules, "MARKET")
        assert same.of("NOTIONAL") == average.price
        assert client.requests_sent == before + 1  # the avgPrice its minutes match, only
        mixed = _with_minutes(rules, notional=0, band=1)
        last = (await client.ticker_price("BTCUSDT")).price
        assert (await market.reference_prices(mixed, "MARKET")).of("NOTIONAL") == last
        candles = await client.klines("BTCUSDT", "1m", limit=1)
        vwap = sum(c.quote_volume for c in candles) / sum(c.volume for c in candles)
        assert (await market.reference_prices(mixed, "LIMIT")).of("PERCENT_PRICE_BY_SIDE") == vwap


def _with_minutes(rules: SymbolRules, *, notional: int, band: int) -> SymbolRules:
    import dataclasses

    assert rules.notional is not None and rules.percent_price_by_side is not None
    return dataclasses.replace(
        rules,
        notional=dataclasses.replace(rules.notional, avg_price_mins=notional),
        percent_price_by_side=dataclasses.replace(rules.percent_price_by_side, avg_price_mins=band),
    )
