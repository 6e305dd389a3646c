"""The matching engine without sockets: balances, locks, fills and the events they send."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from chatbot.sandbox.exchange.accounts import Account
from chatbot.sandbox.exchange.engine import Engine, OrderRequest
from chatbot.sandbox.exchange.market import Market
from chatbot.sandbox.exchange.symbols import Catalog
from chatbot.sandbox.exchange.wire import ApiError, Clock

CATALOG = Catalog("mainnet")


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, api_key: str, event: dict[str, Any]) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e["e"] + (":" + e["x"] if e["e"] == "executionReport" else "") for e in self.events]


@pytest.fixture
def setup() -> tuple[Market, Engine, Account, Recorder]:
    market = Market(CATALOG, Clock(), seed=1, spread=Decimal(0))
    events = Recorder()
    engine = Engine(market, market.clock, events)
    account = Account("alice", uid=1, key_type="hmac", secret="s")
    account.balance("USDT").free = Decimal(1000)
    account.balance("BTC").free = Decimal("0.1")
    engine.add_account(account)
    market.set_price("BTCUSDT", Decimal(50000))
    return market, engine, account, events


def request(
    side: str, order_type: str, qty: str, price: str | None = None, **extra: Any
) -> OrderRequest:
    return OrderRequest(
        spec=CATALOG.get("BTCUSDT"),
        side=side,
        type=order_type,
        time_in_force=extra.get("tif", "GTC" if order_type == "LIMIT" else None),
        quantity=Decimal(qty),
        quote_qty=None,
        price=Decimal(price) if price else None,
        client_order_id=extra.get("client_id"),
    )


def test_market_order_events_come_in_binances_order(setup: Any) -> None:
    _, engine, account, events = setup
    engine.place(account, request("BUY", "MARKET", "0.01"))
    assert events.kinds() == [
        "executionReport:NEW",
        "executionReport:TRADE",
        "outboundAccountPosition",
    ]
    assert account.free("USDT") == Decimal(500) and account.free("BTC") == Decimal("0.10999")


def test_resting_sell_locks_base_and_fills_as_maker_at_its_price(setup: Any) -> None:
    market, engine, account, events = setup
    order = engine.place(account, request("SELL", "LIMIT", "0.05", "51000"))
    assert (account.balance("BTC").free, account.balance("BTC").locked) == (
        Decimal("0.05"),
        Decimal("0.05"),
    )
    market.set_price("BTCUSDT", Decimal(52000))
    assert order.status == "FILLED" and order.fills[0].price == Decimal(51000)
    assert account.free("USDT") == Decimal(1000) + Decimal(2550) - Decimal("2.55")
    assert account.balance("BTC").locked == 0
    assert events.events[-2]["m"] is True


def test_cancel_returns_exactly_what_was_locked(setup: Any) -> None:
    _, engine, account, _ = setup
    order = engine.place(account, request("BUY", "LIMIT", "0.00333", "45000.01"))
    engine.cancel(account, order, None)
    assert account.balance("USDT").free == Decimal(1000) and account.balance("USDT").locked == 0
    with pytest.raises(ApiError) as again:
        engine.cancel(account, order, None)
    assert again.value.code == -2011


def test_insufficient_balance_changes_nothing(setup: Any) -> None:
    _, engine, account, events = setup
    before = len(events.events)
    with pytest.raises(ApiError) as rejected:
        engine.place(account, request("BUY", "LIMIT", "0.03", "49000"))
    assert rejected.value.msg == "Account has insufficient balance for requested action."
    assert len(events.events) == before and engine.all_orders(account) == []


def quote_buy(symbol: str, quote: str) -> OrderRequest:
    return OrderRequest(
        spec=CATALOG.get(symbol),
        side="BUY",
        type="MARKET",
        time_in_force=None,
        quantity=None,
        quote_qty=Decimal(quote),
        price=None,
        client_order_id=None,
    )


@pytest.mark.parametrize(("price", "accepted"), [("71428", False), ("71429", True)])
def test_a_quote_amount_is_judged_by_the_quantity_it_buys(
    setup: Any, price: str, accepted: bool
) -> None:
    """Binance's rule, the disputed case: quoteOrderQty=5.20 on BTCUSDT (NOTIONAL min 5, step
    0.00001) buys floor(5.20 / ask) = 0.00007 BTC. At 71428, 0.00007 × 71428 = 4.99996 is
    under 5 and the order fails NOTIONAL; at 71429 it is 5.00003 and the order fills. The
    quote amount itself, 5.20, would have passed both."""
    market, engine, account, _ = setup
    market.clock.skew_ms = 3_600_000  # an hour on: older trades leave the 5-minute window
    market.set_price("BTCUSDT", Decimal(price), Decimal(1))  # the only trade: average = price
    assert market.book("BTCUSDT").ask == Decimal(price)  # spread 0: the order buys at it
    if accepted:
        order = engine.place(account, quote_buy("BTCUSDT", "5.20"))
        assert (order.status, order.orig_qty) == ("FILLED", Decimal("0.00007"))
        return
    with pytest.raises(ApiError) as refused:
        engine.place(account, quote_buy("BTCUSDT", "5.20"))
    assert (refused.value.code, refused.value.msg) == (-1013, "Filter failure: NOTIONAL")
    assert engine.all_orders(account) == []


def fet_buy(qty: str) -> OrderRequest:
    return OrderRequest(
        spec=CATALOG.get("FETUSDT"),
        side="BUY",
        type="LIMIT",
        time_in_force="GTC",
        quantity=Decimal(qty),
        quote_qty=None,
        price=Decimal("1.200"),
        client_order_id=None,
    )


def test_fetusdt_counts_the_accounts_resting_buys_and_orders(setup: Any) -> None:
    """MAX_POSITION 1000: 900 FET held + 50 resting + 60 more is over; MAX_NUM_ORDERS 2."""
    market, engine, account, _ = setup
    market.set_price("FETUSDT", Decimal("1.234"))
    account.balance("FET").free = Decimal(900)
    engine.place(account, fet_buy("50"))
    with pytest.raises(ApiError) as too_big:
        engine.place(account, fet_buy("60"))
    engine.place(account, fet_buy("50"))  # exactly 1000
    with pytest.raises(ApiError) as too_many:
        engine.place(account, replace(fet_buy("10"), side="SELL"))  # held FET: 900
    assert too_big.value.msg == "Filter failure: MAX_POSITION"
    assert too_many.value.msg == "Filter failure: MAX_NUM_ORDERS"
