"""The simulator's order book without sockets: depth, taking levels, partial fills by prints.

Every expected number is read from the book the test sees (`Market.order_book`), so the tests
pin the mechanics (which levels, in which order, at which prices) rather than the seeded
quantities.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chatbot.sandbox.exchange.accounts import Account
from chatbot.sandbox.exchange.book import Level, take_quantity, take_quote
from chatbot.sandbox.exchange.engine import Engine, OrderRequest
from chatbot.sandbox.exchange.market import Market
from chatbot.sandbox.exchange.symbols import Catalog
from chatbot.sandbox.exchange.wire import ApiError, Clock, quantize_down, quantize_up

CATALOG = Catalog("mainnet")
BTC = CATALOG.get("BTCUSDT")
USDT0, BTC0 = Decimal(1_000_000), Decimal(100)
RATE = Decimal("0.001")


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, api_key: str, event: dict[str, Any]) -> None:
        self.events.append(event)

    def reports(self) -> list[tuple[str, str]]:
        return [(e["x"], e["X"]) for e in self.events if e["e"] == "executionReport"]

    def kinds(self) -> list[str]:
        return [e["e"] + (":" + e["x"] if e["e"] == "executionReport" else "") for e in self.events]


@pytest.fixture
def setup() -> tuple[Market, Engine, Account, Recorder]:
    market = Market(CATALOG, Clock(), seed=1)
    events = Recorder()
    engine = Engine(market, market.clock, events)
    account = Account("whale", uid=1, key_type="hmac", secret="s")
    account.balance("USDT").free = USDT0
    account.balance("BTC").free = BTC0
    engine.add_account(account)
    market.set_price("BTCUSDT", Decimal(50000))
    events.events.clear()
    return market, engine, account, events


def order(
    side: str,
    order_type: str,
    qty: Decimal | None,
    price: Decimal | None = None,
    *,
    tif: str | None = None,
    quote: Decimal | None = None,
) -> OrderRequest:
    return OrderRequest(
        spec=BTC,
        side=side,
        type=order_type,
        time_in_force=tif or ("GTC" if order_type == "LIMIT" else None),
        quantity=qty,
        quote_qty=quote,
        price=price,
        client_order_id=None,
    )


def half(qty: Decimal) -> Decimal:
    return quantize_down(qty / 2, BTC.step)


# -- the book ---------------------------------------------------------------------------------


def test_depth_and_book_ticker_serve_one_book(setup: Any) -> None:
    market, *_ = setup
    book = market.order_book("BTCUSDT")
    update_id, bids, asks = market.depth("BTCUSDT", 5000)
    top = market.book("BTCUSDT")
    assert len(book.bids) == len(book.asks) == market.book_levels == len(bids) == len(asks) == 20
    assert (top.bid, top.bid_qty, top.ask, top.ask_qty) == (
        book.bids[0].price,
        book.bids[0].qty,
        book.asks[0].price,
        book.asks[0].qty,
    )
    # level 0 is the exact spread formula; further levels one basis point (5 USDT) apart
    assert top.ask == quantize_up(Decimal(50000) * Decimal("1.0001"), BTC.tick) == Decimal(50005)
    assert top.bid == Decimal(49995)
    assert [level.price for level in book.asks[:3]] == [Decimal(p) for p in (50005, 50010, 50015)]
    assert [Decimal(p) for p, _ in bids] == [level.price for level in book.bids]
    assert update_id == top.update_id and Decimal(asks[0][1]) == top.ask_qty
    assert min(level.qty for level in book.bids + book.asks) > Decimal("0.05")


def test_the_book_moves_with_the_price(setup: Any) -> None:
    market, *_ = setup
    before = market.order_book("BTCUSDT")
    market.set_price("BTCUSDT", Decimal(60000))
    after = market.order_book("BTCUSDT")
    assert after.asks[0].price == Decimal(60006) and after.bids[0].price == Decimal(59994)
    assert after.asks[1].price - after.asks[0].price == Decimal(6)
    assert after.update_id == before.update_id + 1


def test_walking_stops_at_the_limit_and_at_the_first_level_not_emptied() -> None:
    asks = [Level(Decimal(10), Decimal(1)), Level(Decimal(11), Decimal(1))]
    bids = [Level(Decimal(100), Decimal(2)), Level(Decimal(50), Decimal(5))]
    assert take_quantity(asks, "BUY", Decimal(5), Decimal(10)) == [asks[0]]
    assert take_quantity(bids, "SELL", Decimal(3)) == [bids[0], Level(Decimal(50), Decimal(1))]
    # 150 of quote sells 1 at 100; the 50 left would sell 1 more at 50, but the better level
    # still has quantity: a worse price is never touched before it
    assert take_quote(bids, "SELL", Decimal(150), Decimal(1)) == (
        [Level(Decimal(100), Decimal(1))],
        Decimal(0),
    )
    # past the last level, what the amount would still buy there is the part that expires
    assert take_quote(asks, "BUY", Decimal(100), Decimal(1)) == (asks, Decimal(7))


# -- MARKET orders walk the book --------------------------------------------------------------


def test_a_market_buy_walks_three_levels(setup: Any) -> None:
    market, engine, account, events = setup
    asks = market.order_book("BTCUSDT").asks
    quantity = asks[0].qty + asks[1].qty + half(asks[2].qty)
    placed = engine.place(account, order("BUY", "MARKET", quantity))
    expected = [asks[0], asks[1], Level(asks[2].price, half(asks[2].qty))]
    assert [(f.price, f.qty) for f in placed.fills] == [(e.price, e.qty) for e in expected]
    spent = sum(quantize_up(e.qty * e.price) for e in expected)
    commission = sum(quantize_up(e.qty * RATE) for e in expected)
    assert placed.status == "FILLED" and placed.executed_qty == quantity
    assert placed.cumm_quote == spent and sum(f.quote_qty for f in placed.fills) == spent
    assert asks[0].price < spent / quantity < asks[2].price  # the average lies between
    assert sum(f.commission for f in placed.fills) == commission
    assert all(not f.is_maker and f.commission_asset == "BTC" for f in placed.fills)
    assert account.free("USDT") == USDT0 - spent
    assert account.free("BTC") == BTC0 + quantity - commission
    assert events.kinds() == [
        "executionReport:NEW",
        "executionReport:TRADE",
        "executionReport:TRADE",
        "executionReport:TRADE",
        "outboundAccountPosition",
    ]
    trades = [e for e in events.events if e.get("x") == "TRADE"]
    assert [t["X"] for t in trades] == ["PARTIALLY_FILLED", "PARTIALLY_FILLED", "FILLED"]
    assert [Decimal(t["L"]) for t in trades] == [e.price for e in expected]
    assert [Decimal(t["z"]) for t in trades] == [
        asks[0].qty,
        asks[0].qty + asks[1].qty,
        quantity,
    ]
    assert Decimal(trades[-1]["Z"]) == spent and [t["w"] for t in trades] == [False] * 3
    assert [trade for _, trade in engine.trades(account)] == placed.fills


def test_a_market_sell_walks_the_bids(setup: Any) -> None:
    market, engine, account, _ = setup
    bids = market.order_book("BTCUSDT").bids
    quantity = bids[0].qty + half(bids[1].qty)
    placed = engine.place(account, order("SELL", "MARKET", quantity))
    assert [f.price for f in placed.fills] == [bids[0].price, bids[1].price]
    received = sum(quantize_down(f.qty * f.price) for f in placed.fills)
    fees = sum(f.commission for f in placed.fills)
    assert placed.cumm_quote == received and all(f.commission_asset == "USDT" for f in placed.fills)
    assert account.free("USDT") == USDT0 + received - fees
    assert account.free("BTC") == BTC0 - quantity


def test_a_market_order_beyond_the_book_expires_with_what_it_got(setup: Any) -> None:
    market, engine, account, events = setup
    market.book_levels = 3
    asks = market.order_book("BTCUSDT").asks
    visible = sum(level.qty for level in asks)
    placed = engine.place(account, order("BUY", "MARKET", visible + 1))
    assert placed.status == "EXPIRED" and placed.executed_qty == visible
    assert placed.orig_qty == visible + 1 and len(placed.fills) == 3
    assert account.free("USDT") == USDT0 - placed.cumm_quote
    assert events.reports() == [
        ("NEW", "NEW"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("EXPIRED", "EXPIRED"),
    ]
    expired = events.events[-2]
    assert Decimal(expired["z"]) == visible and expired["l"] == "0.00000000"
    assert events.kinds()[-1] == "outboundAccountPosition"


def test_the_balance_check_prices_the_walk(setup: Any) -> None:
    market, engine, account, _ = setup
    asks = market.order_book("BTCUSDT").asks
    quantity = asks[0].qty + asks[1].qty
    walked = quantize_up(asks[0].qty * asks[0].price) + quantize_up(asks[1].qty * asks[1].price)
    account.balance("USDT").free = walked - Decimal("0.01")
    with pytest.raises(ApiError, match="insufficient balance"):
        engine.place(account, order("BUY", "MARKET", quantity))
    account.balance("USDT").free = walked
    assert engine.place(account, order("BUY", "MARKET", quantity)).status == "FILLED"
    assert account.free("USDT") == 0


def test_a_quote_order_spends_up_to_its_amount_across_levels(setup: Any) -> None:
    market, engine, account, _ = setup
    asks = market.order_book("BTCUSDT").asks
    amount = quantize_down(asks[0].qty * asks[0].price + Decimal(1000), Decimal("0.01"))
    placed = engine.place(account, order("BUY", "MARKET", None, quote=amount))
    second = quantize_down((amount - asks[0].qty * asks[0].price) / asks[1].price, BTC.step)
    assert [(f.price, f.qty) for f in placed.fills] == [
        (asks[0].price, asks[0].qty),
        (asks[1].price, second),
    ]
    assert placed.status == "FILLED" and placed.orig_qty == asks[0].qty + second
    assert placed.cumm_quote <= amount and amount - placed.cumm_quote < asks[1].price * BTC.step


def test_a_quote_order_past_the_book_expires(setup: Any) -> None:
    market, engine, account, _ = setup
    market.book_levels = 1
    ask = market.order_book("BTCUSDT").asks[0]
    amount = quantize_up(ask.qty * ask.price) + Decimal(5000)
    placed = engine.place(account, order("BUY", "MARKET", None, quote=amount))
    assert placed.status == "EXPIRED" and placed.executed_qty == ask.qty
    assert placed.orig_qty == ask.qty + quantize_down(Decimal(5000) / ask.price, BTC.step)
    assert account.free("USDT") == USDT0 - placed.cumm_quote


# -- LIMIT orders that cross on arrival -------------------------------------------------------


def test_a_crossing_gtc_limit_takes_then_rests_the_rest(setup: Any) -> None:
    market, engine, account, events = setup
    asks = market.order_book("BTCUSDT").asks
    limit, rest = asks[1].price, Decimal("0.5")
    quantity = asks[0].qty + asks[1].qty + rest
    placed = engine.place(account, order("BUY", "LIMIT", quantity, limit))
    assert [f.price for f in placed.fills] == [asks[0].price, asks[1].price]
    assert placed.status == "PARTIALLY_FILLED" and placed.remaining == rest
    assert account.balance("USDT").locked == rest * limit
    assert account.free("USDT") == USDT0 - placed.cumm_quote - rest * limit
    assert engine.open_orders(account) == [placed]
    assert events.reports() == [
        ("NEW", "NEW"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("TRADE", "PARTIALLY_FILLED"),
    ]
    assert events.events[-2]["w"] is True  # the remainder is on the book
    position = events.events[-1]
    assert position["e"] == "outboundAccountPosition"
    assert {row["a"] for row in position["B"]} == {"BTC", "USDT"}


def test_ioc_keeps_what_crosses_and_expires_the_rest(setup: Any) -> None:
    market, engine, account, events = setup
    asks = market.order_book("BTCUSDT").asks
    quantity = asks[0].qty + Decimal(1)
    placed = engine.place(account, order("BUY", "LIMIT", quantity, asks[0].price, tif="IOC"))
    assert placed.status == "EXPIRED" and placed.executed_qty == asks[0].qty
    assert account.balance("USDT").locked == 0 and engine.open_orders(account) == []
    assert events.reports() == [
        ("NEW", "NEW"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("EXPIRED", "EXPIRED"),
    ]


def test_fok_fills_all_or_nothing(setup: Any) -> None:
    market, engine, account, events = setup
    asks = market.order_book("BTCUSDT").asks
    too_much = asks[0].qty + asks[1].qty + Decimal("0.00001")
    killed = engine.place(account, order("BUY", "LIMIT", too_much, asks[1].price, tif="FOK"))
    assert killed.status == "EXPIRED" and killed.executed_qty == 0 and killed.fills == []
    assert account.free("USDT") == USDT0 and account.balance("USDT").locked == 0
    assert events.kinds() == ["executionReport:NEW", "executionReport:EXPIRED"]
    enough = asks[0].qty + asks[1].qty
    done = engine.place(account, order("BUY", "LIMIT", enough, asks[1].price, tif="FOK"))
    assert done.status == "FILLED" and len(done.fills) == 2


# -- resting orders and sized prints ----------------------------------------------------------


def test_a_sized_print_fills_part_and_a_cancel_keeps_it(setup: Any) -> None:
    market, engine, account, events = setup
    price = Decimal(51000)
    resting = engine.place(account, order("SELL", "LIMIT", Decimal("0.05"), price))
    events.events.clear()
    market.set_price("BTCUSDT", price, Decimal("0.02"))
    assert resting.status == "PARTIALLY_FILLED" and resting.executed_qty == Decimal("0.02")
    assert account.balance("BTC").locked == Decimal("0.03")
    market.set_price("BTCUSDT", Decimal(51500), Decimal("0.01"))
    assert resting.executed_qty == Decimal("0.03") and engine.open_orders(account) == [resting]
    assert [(f.price, f.qty, f.is_maker) for f in resting.fills] == [
        (price, Decimal("0.02"), True),
        (price, Decimal("0.01"), True),
    ]
    engine.cancel(account, resting, None)
    assert resting.status == "CANCELED" and resting.executed_qty == Decimal("0.03")
    proceeds = Decimal("0.03") * price
    assert account.balance("BTC").free == BTC0 - Decimal("0.03")
    assert account.balance("BTC").locked == 0
    assert account.free("USDT") == USDT0 + proceeds - proceeds * RATE
    assert events.reports() == [
        ("TRADE", "PARTIALLY_FILLED"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("CANCELED", "CANCELED"),
    ]
    trades = [e for e in events.events if e.get("x") == "TRADE"]
    cancelled = next(e for e in events.events if e.get("x") == "CANCELED")
    assert [t["l"] for t in trades] == ["0.02000000", "0.01000000"]
    assert all(t["m"] is True and t["w"] is True for t in trades)
    assert cancelled["z"] == "0.03000000" and cancelled["w"] is False


def test_a_buy_lock_shrinks_as_it_fills(setup: Any) -> None:
    market, engine, account, _ = setup
    resting = engine.place(account, order("BUY", "LIMIT", Decimal("0.1"), Decimal(49000)))
    market.set_price("BTCUSDT", Decimal(48000), Decimal("0.04"))
    assert account.balance("USDT").locked == Decimal("0.06") * 49000
    assert account.free("USDT") == USDT0 - Decimal("0.1") * 49000
    assert account.free("BTC") == BTC0 + Decimal("0.04") - Decimal("0.00004")
    market.set_price("BTCUSDT", Decimal(48000))  # unsized: fills everything it reaches
    assert resting.status == "FILLED" and account.balance("USDT").locked == 0
    assert account.free("USDT") == USDT0 - Decimal("0.1") * 49000


def test_a_sized_print_fills_in_price_time_priority(setup: Any) -> None:
    market, engine, account, _ = setup
    older = engine.place(account, order("BUY", "LIMIT", Decimal("0.01"), Decimal(49000)))
    better = engine.place(account, order("BUY", "LIMIT", Decimal("0.01"), Decimal(49500)))
    newer = engine.place(account, order("BUY", "LIMIT", Decimal("0.01"), Decimal(49000)))
    market.set_price("BTCUSDT", Decimal(49000), Decimal("0.015"))
    assert (better.status, better.executed_qty) == ("FILLED", Decimal("0.01"))
    assert (older.status, older.executed_qty) == ("PARTIALLY_FILLED", Decimal("0.005"))
    assert (newer.status, newer.executed_qty) == ("NEW", 0)
    assert engine.open_orders(account) == [older, newer]
    market.set_price("BTCUSDT", Decimal(49000), Decimal("0.01"))
    assert older.status == "FILLED" and newer.executed_qty == Decimal("0.005")
