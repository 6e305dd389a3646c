"""Order lists in the chat's words: a stop shows its trigger (never price 0), a trailing stop
its delta in percent, and the legs of a list share one line in /orders."""

from __future__ import annotations

from decimal import Decimal

from chatbot.exchange.models import Order
from handlers.list_texts import order_lines, order_terms


def order(order_id: int, type_: str, side: str = "SELL", **extra: object) -> Order:
    fields: dict = {
        "symbol": "BTCUSDT",
        "order_id": order_id,
        "client_order_id": f"c{order_id}",
        "side": side,
        "type": type_,
        "status": "NEW",
        "price": Decimal(0),
        "orig_qty": Decimal("0.01"),
        "executed_qty": Decimal(0),
        "cumulative_quote_qty": Decimal(0),
        "time_in_force": "GTC",
        "time": None,
        "update_time": None,
    }
    return Order(**{**fields, **extra})


def test_a_stop_shows_its_trigger_and_its_limit():
    stop = order(1, "STOP_LOSS_LIMIT", price=Decimal("63900"), stop_price=Decimal("64000"))
    assert order_terms(stop) == "sell 0.01 if ≤ 64,000, limit 63,900"
    market = order(2, "STOP_LOSS", side="BUY", stop_price=Decimal("70000"))
    assert order_terms(market) == "buy 0.01 if ≥ 70,000 (market)"
    target = order(3, "TAKE_PROFIT", stop_price=Decimal("70000"))
    assert order_terms(target) == "sell 0.01 if ≥ 70,000 (market)"


def test_a_trailing_stop_shows_its_delta_in_percent():
    trailing = order(4, "STOP_LOSS", trailing_delta=150)
    assert order_terms(trailing) == "sell 0.01 trailing 1.5% (market)"


def test_the_legs_of_a_list_share_one_line_after_the_plain_orders_before_them():
    plain = order(5, "LIMIT", side="BUY", price=Decimal("55000"))
    maker = order(6, "LIMIT_MAKER", price=Decimal("70000"), order_list_id=12)
    stop = order(7, "STOP_LOSS", stop_price=Decimal("64000"), order_list_id=12)
    lines = order_lines([plain, maker, stop], lambda o: f"plain #{o.order_id}")
    assert lines == [
        "plain #5",
        "OCO #12 BTCUSDT: take-profit #6 sell 0.01 @ 70,000 (limit maker) · "
        "stop-loss #7 sell 0.01 if ≤ 64,000 (market)",
    ]
