"""OCO and OTOCO order lists in the simulator's engine, against Binance's "New Order list"
documentation (price relations, shared lock, one leg's activation cancelling the other)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from chatbot.sandbox.exchange.engine import OrderRequest
from chatbot.sandbox.exchange.order_lists import OrderLists
from chatbot.sandbox.exchange.wire import ApiError
from tests.unit.test_sim_engine import CATALOG, Recorder, request, setup

__all__ = ["setup"]  # the fixture, shared with test_sim_engine


def leg(side: str, kind: str, qty: str, *, price: str = "", stop: str = "") -> OrderRequest:
    tif = "GTC" if kind in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") else None
    base = request(side, kind, qty, price or None, tif=tif)
    return replace(base, stop_price=Decimal(stop) if stop else None)


@pytest.fixture
def lists(setup: Any) -> OrderLists:
    _, engine, _, events = setup
    return OrderLists(engine, engine._clock, events, engine.new_client_id)


def sell_oco(lists: OrderLists, account: Any, qty: str = "0.05", **spec: Any) -> Any:
    """SELL OCO at 50 000: take-profit LIMIT_MAKER 52 000 above, stop 48 000 below."""
    above = replace(leg("SELL", "LIMIT_MAKER", qty, price="52000"), **spec)
    below = replace(leg("SELL", "STOP_LOSS_LIMIT", qty, price="47900", stop="48000"), **spec)
    return lists.place_oco(account, above, below, None)


def trail(events: Recorder) -> list[str]:
    """Each event as kind[:x:X:order id] for executionReports, kind:l:L for listStatus."""
    out = []
    for e in events.events:
        if e["e"] == "executionReport":
            out.append(f"{e['x']}:{e['X']}:{e['i']}")
        elif e["e"] == "listStatus":
            out.append(f"list:{e['l']}:{e['L']}")
    return out


def test_an_oco_places_both_legs_and_locks_the_quantity_once(setup: Any, lists: Any) -> None:
    """Binance: the stop leg is listed first; a SELL OCO locks its quantity once; placement
    sends each leg's NEW, then listStatus EXEC_STARTED / EXECUTING."""
    _, engine, account, events = setup
    oco = sell_oco(lists, account)
    stop, maker = oco.legs
    assert (stop.type, maker.type) == ("STOP_LOSS_LIMIT", "LIMIT_MAKER")
    assert account.balance("BTC").locked == Decimal("0.05")
    assert account.free("BTC") == Decimal("0.05")
    assert trail(events) == [
        f"NEW:NEW:{stop.order_id}",
        f"NEW:NEW:{maker.order_id}",
        "list:EXEC_STARTED:EXECUTING",
    ]
    assert {o.order_list_id for o in engine.open_orders(account)} == {oco.list_id}
    listed = next(e for e in events.events if e["e"] == "listStatus")
    assert listed["c"] == "OCO" and [o["i"] for o in listed["O"]] == [stop.order_id, maker.order_id]


@pytest.mark.parametrize(
    ("above", "below"),
    [
        ("50000", "48000"),  # the limit maker not above the last price
        ("52000", "50000"),  # the stop not below it
    ],
)
def test_oco_prices_in_the_wrong_relation_are_refused(
    setup: Any, lists: Any, above: str, below: str
) -> None:
    """SELL: LIMIT_MAKER price > last price > STOP_LOSS stopPrice, else -2010 "The
    relationship of the prices for the orders is not correct." and nothing is placed."""
    _, engine, account, events = setup
    with pytest.raises(ApiError) as refused:
        lists.place_oco(
            account,
            leg("SELL", "LIMIT_MAKER", "0.01", price=above),
            leg("SELL", "STOP_LOSS", "0.01", stop=below),
            None,
        )
    assert (refused.value.code, refused.value.msg) == (
        -2010,
        "The relationship of the prices for the orders is not correct.",
    )
    assert events.events == [] and engine.open_orders(account) == []


def test_the_take_profit_filling_expires_the_stop_and_ends_the_list(setup: Any, lists: Any) -> None:
    """ "Activation of one order immediately cancels the other": the stop leg is reported
    EXPIRED (eR OCO_TRIGGER), then the maker's TRADE, then listStatus ALL_DONE."""
    market, _, account, events = setup
    oco = sell_oco(lists, account)
    stop, maker = oco.legs
    events.events.clear()
    market.set_price("BTCUSDT", Decimal(52000))
    assert (maker.status, stop.status) == ("FILLED", "EXPIRED")
    assert trail(events) == [
        f"EXPIRED:EXPIRED:{stop.order_id}",
        f"TRADE:FILLED:{maker.order_id}",
        "list:ALL_DONE:ALL_DONE",
    ]
    expired = next(e for e in events.events if e.get("x") == "EXPIRED")
    assert expired["eR"] == "OCO_TRIGGER" and expired["g"] == oco.list_id
    assert account.balance("BTC").locked == 0 and account.free("BTC") == Decimal("0.05")
    assert account.free("USDT") == Decimal(1000) + Decimal(2600) - Decimal("2.6")
    assert not oco.is_open and lists.open_lists(account) == []


def test_the_stop_triggering_expires_the_limit_maker(setup: Any, lists: Any) -> None:
    """The stop's trigger (NEW, working) activates it: the LIMIT_MAKER expires before the
    stop trades, and the stop sells what the one lock held."""
    market, _, account, events = setup
    oco = sell_oco(lists, account)
    stop, maker = oco.legs
    events.events.clear()
    market.set_price("BTCUSDT", Decimal(47950))
    assert (stop.status, maker.status) == ("FILLED", "EXPIRED")
    assert trail(events) == [
        f"NEW:NEW:{stop.order_id}",
        f"EXPIRED:EXPIRED:{maker.order_id}",
        f"TRADE:FILLED:{stop.order_id}",
        "list:ALL_DONE:ALL_DONE",
    ]
    assert account.balance("BTC").locked == 0 and account.free("BTC") == Decimal("0.05")


def test_an_oco_needs_the_quantity_free(setup: Any, lists: Any) -> None:
    _, _, account, _ = setup
    with pytest.raises(ApiError) as refused:
        sell_oco(lists, account, qty="0.2")
    assert refused.value.msg == "Account has insufficient balance for requested action."


def test_a_buy_oco_locks_the_larger_cost(setup: Any, lists: Any) -> None:
    """BUY: LIMIT_MAKER price (below) < last < STOP_LOSS stopPrice (above); the lock is the
    dearer leg's cost (0.01 x 51 000), not the sum."""
    _, _, account, _ = setup
    lists.place_oco(
        account,
        leg("BUY", "STOP_LOSS", "0.01", stop="51000"),
        leg("BUY", "LIMIT_MAKER", "0.01", price="49000"),
        None,
    )
    assert account.balance("USDT").locked == Decimal(510)


def test_cancelling_the_list_cancels_every_leg(setup: Any, lists: Any) -> None:
    _, _, account, events = setup
    oco = sell_oco(lists, account)
    events.events.clear()
    cancelled = lists.cancel(account, oco, None)
    assert [o.status for o, _ in cancelled] == ["CANCELED", "CANCELED"]
    assert len({cancel_id for _, cancel_id in cancelled}) == 1
    assert trail(events)[-1] == "list:ALL_DONE:ALL_DONE"
    assert account.balance("BTC").locked == 0 and account.free("BTC") == Decimal("0.1")


def test_otoco_pending_legs_start_only_when_the_working_order_fills(setup: Any, lists: Any) -> None:
    """OTOCO: only the working order is on the book; its pending OCO pair is PENDING_NEW
    until the working order is FULLY filled, then works like an OCO."""
    market, engine, account, events = setup
    account.balance("BTC").free = Decimal(0)
    working = leg("BUY", "LIMIT", "0.01", price="49000")
    otoco = lists.place_otoco(
        account,
        working,
        leg("SELL", "LIMIT_MAKER", "0.00999", price="52000"),
        leg("SELL", "STOP_LOSS", "0.00999", stop="48000"),
        None,
    )
    work, stop, maker = otoco.legs
    assert otoco.contingency == "OTO" and (stop.status, maker.status) == ("PENDING_NEW",) * 2
    assert stop.query()["workingTime"] == -1 and account.balance("USDT").locked == Decimal(490)
    market.set_price("BTCUSDT", Decimal(48500))  # fills the working BUY, not yet the stop
    assert work.status == "FILLED" and (stop.status, maker.status) == ("NEW", "NEW")
    assert account.balance("BTC").locked == Decimal("0.00999")
    market.set_price("BTCUSDT", Decimal(52000))
    assert (maker.status, stop.status) == ("FILLED", "EXPIRED")
    assert trail(events)[-1] == "list:ALL_DONE:ALL_DONE"
    assert engine.open_orders(account) == []


def test_max_num_order_lists_and_algo_orders_count_the_legs(setup: Any, lists: Any) -> None:
    """FETUSDT: MAX_NUM_ALGO_ORDERS 1 and MAX_NUM_ORDERS 2 count an OCO's legs."""
    market, _, account, _ = setup
    market.set_price("FETUSDT", Decimal("1.234"))
    account.balance("FET").free = Decimal(100)
    fet = {"spec": CATALOG.get("FETUSDT")}

    def fet_oco() -> Any:
        above = replace(leg("SELL", "LIMIT_MAKER", "10", price="1.3"), **fet)
        below = replace(leg("SELL", "STOP_LOSS", "10", stop="1.1"), **fet)
        return lists.place_oco(account, above, below, None)

    fet_oco()
    with pytest.raises(ApiError) as refused:
        fet_oco()
    assert refused.value.msg == "Filter failure: MAX_NUM_ORDERS"


def test_max_num_order_lists_refuses_one_list_too_many(setup: Any, lists: Any) -> None:
    """MAX_NUM_ORDER_LISTS counts the account's open lists on the symbol (BTCUSDT's 20 is
    out of reach under its MAX_NUM_ALGO_ORDERS 5, so this symbol allows 2)."""
    _, _, account, _ = setup
    btc = CATALOG.get("BTCUSDT")
    two = replace(btc, rules={**btc.rules, "MAX_NUM_ORDER_LISTS": {"maxNumOrderLists": 2}})
    for _ in range(2):
        sell_oco(lists, account, qty="0.001", spec=two)
    with pytest.raises(ApiError) as refused:
        sell_oco(lists, account, qty="0.001", spec=two)
    assert refused.value.msg == "Filter failure: MAX_NUM_ORDER_LISTS"
