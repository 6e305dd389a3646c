"""Stop-loss, take-profit and trailing stop orders in the simulator's engine, each against the
rule in Binance's documentation (reference/binance-spot.md 2.3, the Trailing Stop FAQ)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from chatbot.sandbox.exchange.engine import OrderRequest
from chatbot.sandbox.exchange.wire import ApiError
from tests.unit.test_sim_engine import CATALOG, Recorder, request, setup

__all__ = ["setup"]  # the fixture, shared with test_sim_engine


def stop(
    side: str, kind: str, qty: str, stop_price: str | None, price: str | None = None, **kw: Any
) -> OrderRequest:
    """A stop order on BTCUSDT (price 50 000 in the fixture)."""
    base = request(side, kind, qty, price, tif="GTC" if kind.endswith("_LIMIT") else None)
    return replace(
        base,
        stop_price=Decimal(stop_price) if stop_price else None,
        trailing_delta=kw.get("delta"),
        spec=CATALOG.get(kw.get("symbol", "BTCUSDT")),
    )


def executions(events: Recorder) -> list[tuple[str, str, bool]]:
    """(x, X, w) of every executionReport, in order."""
    return [(e["x"], e["X"], e["w"]) for e in events.events if e["e"] == "executionReport"]


def test_a_stop_loss_sell_waits_untriggered_then_fills_on_a_print_at_its_stop(setup: Any) -> None:
    """STOP_LOSS SELL triggers when the last price falls to stopPrice and then trades as a
    MARKET order; until then it is NEW, not working (workingTime -1), its quantity locked.
    On the trigger Binance reports the order NEW again with w=true, then its trades."""
    market, engine, account, events = setup
    order = engine.place(account, stop("SELL", "STOP_LOSS", "0.01", "49000"))
    query = order.query()
    assert (query["status"], query["isWorking"], query["workingTime"]) == ("NEW", False, -1)
    assert query["stopPrice"] == "49000.00000000" and query["type"] == "STOP_LOSS"
    assert account.balance("BTC").locked == Decimal("0.01")
    market.set_price("BTCUSDT", Decimal(49001))
    assert order.status == "NEW"
    market.set_price("BTCUSDT", Decimal(49000))
    assert order.status == "FILLED" and order.fills[0].price == Decimal(49000)
    assert executions(events) == [
        ("NEW", "NEW", False),
        ("NEW", "NEW", True),
        ("TRADE", "FILLED", False),
    ]
    assert events.events[0]["P"] == "49000.00000000" and "W" not in events.events[0]
    assert account.balance("BTC").locked == 0 and account.free("BTC") == Decimal("0.09")
    assert account.free("USDT") == Decimal(1000) + Decimal(490) - Decimal("0.49")
    assert engine.open_orders(account) == []


@pytest.mark.parametrize(
    ("side", "kind", "stop_price"),
    [
        ("SELL", "STOP_LOSS", "50000"),
        ("SELL", "STOP_LOSS_LIMIT", "51000"),
        ("BUY", "STOP_LOSS", "49000"),
        ("SELL", "TAKE_PROFIT", "49000"),
        ("BUY", "TAKE_PROFIT_LIMIT", "50500"),
    ],
)
def test_a_stop_on_the_wrong_side_would_trigger_immediately(
    setup: Any, side: str, kind: str, stop_price: str
) -> None:
    """Stops above the market: STOP_LOSS BUY, TAKE_PROFIT SELL; below: STOP_LOSS SELL,
    TAKE_PROFIT BUY; otherwise -2010 "Order would trigger immediately." (reference 2.3)."""
    _, engine, account, events = setup
    price = "50000" if kind.endswith("_LIMIT") else None
    with pytest.raises(ApiError) as refused:
        engine.place(account, stop(side, kind, "0.001", stop_price, price))
    assert (refused.value.code, refused.value.msg) == (-2010, "Order would trigger immediately.")
    assert events.events == [] and account.balance("USDT").locked == 0


def test_a_stop_loss_limit_rests_after_its_trigger_and_fills_as_a_maker(setup: Any) -> None:
    """STOP_LOSS_LIMIT becomes a LIMIT order at `price` once triggered: a limit above the
    market rests on the book (working, its quantity still locked) until a print reaches it."""
    market, engine, account, events = setup
    order = engine.place(account, stop("SELL", "STOP_LOSS_LIMIT", "0.01", "49000", "49500"))
    market.set_price("BTCUSDT", Decimal(48900))
    assert (order.status, order.is_working, order.executed_qty) == ("NEW", True, 0)
    assert order.query()["workingTime"] > 0 and account.balance("BTC").locked == Decimal("0.01")
    market.set_price("BTCUSDT", Decimal(49600))
    assert order.status == "FILLED" and order.fills[0].price == Decimal(49500)
    assert order.fills[0].is_maker
    assert executions(events)[-1] == ("TRADE", "FILLED", False)


def test_a_take_profit_buy_triggers_when_the_price_falls_to_its_stop(setup: Any) -> None:
    """TAKE_PROFIT BUY sits below the market; while it waits it locks qty x stopPrice."""
    market, engine, account, _ = setup
    order = engine.place(account, stop("BUY", "TAKE_PROFIT", "0.01", "48000"))
    assert account.balance("USDT").locked == Decimal(480)
    market.set_price("BTCUSDT", Decimal(47990))
    assert order.status == "FILLED" and account.balance("USDT").locked == 0
    assert account.free("USDT") == Decimal(1000) - Decimal("479.9")


def test_cancelling_a_waiting_stop_returns_its_lock_and_it_never_triggers(setup: Any) -> None:
    market, engine, account, _ = setup
    order = engine.place(account, stop("SELL", "STOP_LOSS", "0.02", "49000"))
    engine.cancel(account, order, None)
    market.set_price("BTCUSDT", Decimal(48000))
    assert order.status == "CANCELED" and order.executed_qty == 0
    assert (account.free("BTC"), account.balance("BTC").locked) == (Decimal("0.1"), 0)


def test_a_trailing_stop_activates_at_its_stop_follows_the_peak_and_triggers_on_the_pullback(
    setup: Any,
) -> None:
    """Trailing Stop FAQ: a STOP_LOSS SELL with stopPrice and trailingDelta starts trailing
    when the price reaches stopPrice, follows the highest price since, and triggers after a
    fall of trailingDelta bips (100 = 1%) from it."""
    market, engine, account, _ = setup
    order = engine.place(account, stop("SELL", "STOP_LOSS", "0.01", "49000", delta=100))
    assert order.query()["trailingDelta"] == 100 and order.query()["trailingTime"] == -1
    market.set_price("BTCUSDT", Decimal(48600))  # 1% under 49 100 would trigger once active
    assert order.status == "NEW" and order.trail_best == Decimal(48600)
    assert order.query()["trailingTime"] > 0
    market.set_price("BTCUSDT", Decimal(50000))  # the peak
    market.set_price("BTCUSDT", Decimal("49500.01"))
    assert order.status == "NEW"
    market.set_price("BTCUSDT", Decimal(49500))  # 50 000 less 1%
    assert order.status == "FILLED" and order.fills[0].price == Decimal(49500)


def test_a_trailing_take_profit_without_stop_price_trails_from_placement(setup: Any) -> None:
    """Without stopPrice the trailing starts at once: a TAKE_PROFIT BUY with delta 200
    tracks the lowest price since placement and triggers 2% above it."""
    market, engine, account, events = setup
    order = engine.place(account, stop("BUY", "TAKE_PROFIT", "0.01", None, delta=200))
    market.set_price("BTCUSDT", Decimal(45000))
    market.set_price("BTCUSDT", Decimal(45899))
    assert order.status == "NEW"
    market.set_price("BTCUSDT", Decimal(45900))
    assert order.status == "FILLED"
    assert events.events[0]["d"] == 200


@pytest.mark.parametrize(
    ("side", "kind", "delta", "passes"),
    [
        ("SELL", "STOP_LOSS", 9, False),  # below pair: 10..2000
        ("SELL", "STOP_LOSS", 10, True),
        ("SELL", "STOP_LOSS", 2000, True),
        ("SELL", "STOP_LOSS", 2001, False),
        ("BUY", "STOP_LOSS", 9, False),  # above pair: 10..2000
        ("SELL", "TAKE_PROFIT", 2001, False),
    ],
)
def test_trailing_delta_filter_bounds(
    setup: Any, side: str, kind: str, delta: int, passes: bool
) -> None:
    """TRAILING_DELTA (BTCUSDT: 10..2000 both ways): STOP_LOSS BUY / TAKE_PROFIT SELL use
    the "above" bounds, STOP_LOSS SELL / TAKE_PROFIT BUY the "below" ones (filters.md)."""
    _, engine, account, _ = setup
    order = stop(side, kind, "0.001", None, delta=delta)
    if passes:
        engine.test_order(account, order)
        return
    with pytest.raises(ApiError) as refused:
        engine.test_order(account, order)
    assert (refused.value.code, refused.value.msg) == (-1013, "Filter failure: TRAILING_DELTA")


def test_max_num_algo_orders_counts_waiting_stops(setup: Any) -> None:
    """FETUSDT's MAX_NUM_ALGO_ORDERS is 1: a second stop is refused, a LIMIT is not."""
    market, engine, account, _ = setup
    market.set_price("FETUSDT", Decimal("1.234"))
    account.balance("FET").free = Decimal(100)
    first = stop("SELL", "STOP_LOSS", "10", "1.100", symbol="FETUSDT")
    engine.place(account, first)
    with pytest.raises(ApiError) as refused:
        engine.place(account, first)
    assert refused.value.msg == "Filter failure: MAX_NUM_ALGO_ORDERS"
    engine.place(account, replace(first, type="LIMIT", price=Decimal("1.3"), stop_price=None))


def test_a_stop_price_off_the_tick_fails_the_price_filter(setup: Any) -> None:
    """PRICE_FILTER applies to stopPrice as to price (BTCUSDT tick 0.01)."""
    _, engine, account, _ = setup
    with pytest.raises(ApiError) as refused:
        engine.place(account, stop("SELL", "STOP_LOSS", "0.001", "49000.001"))
    assert refused.value.msg == "Filter failure: PRICE_FILTER"
