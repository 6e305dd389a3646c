"""The client's order lists (OCO, OTOCO) and stop orders against the exchange simulator, over
real sockets: placed, listed, looked up, cancelled, found again after a lost answer, and their
events on the user-data stream.

Every test here follows Binance's documented behaviour; they wait for the simulator's order
lists (built at the same time on another branch) and are marked until it has them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from chatbot.exchange.client import BinanceClient, OrderRequest
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import OrderStatusUnknown
from chatbot.exchange.events import ExecutionReport, ListStatus
from chatbot.exchange.grid import round_price
from chatbot.exchange.order_lists import ListLeg, OcoRequest, OtocoRequest
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e import user_stream_harness as harness
from tests.e2e.user_stream_harness import ALICE, KEYS, account

# the harness's fixtures, by name for pytest: a REST client, a recorder of callbacks, streams
client, recorder, stream_factory, stream = (
    harness.client,
    harness.recorder,
    harness.stream_factory,
    harness.stream,
)


QTY = Decimal("0.01")


async def prices(client: BinanceClient, exchange: ExchangeSimulator, *factors: str) -> list:
    """BTCUSDT's last price times each factor, on the symbol's tick."""
    rules = await client.symbol_rules("BTCUSDT")
    last = exchange.price("BTCUSDT")
    return [round_price(rules, last * Decimal(f), "SELL") for f in factors]


async def sell_oco(
    client: BinanceClient, exchange: ExchangeSimulator, creds: ApiCredentials, list_id: str
) -> OcoRequest:
    """A take-profit 5% up (LIMIT_MAKER) and a stop-loss 5% down on 0.01 BTC held."""
    target, stop, limit = await prices(client, exchange, "1.05", "0.95", "0.949")
    return OcoRequest(
        symbol="BTCUSDT",
        side="SELL",
        quantity=QTY,
        above=ListLeg("LIMIT_MAKER", price=target),
        below=ListLeg("STOP_LOSS_LIMIT", price=limit, stop_price=stop),
        list_client_order_id=list_id,
    )


async def test_an_oco_is_placed_listed_looked_up_and_cancelled(client, exchange):
    creds = account(exchange, ALICE)
    request = await sell_oco(client, exchange, creds, "oco-1")
    placed = await client.place_oco(creds, request)
    assert (placed.contingency_type, placed.list_client_order_id) == ("OCO", "oco-1")
    assert placed.is_open and len(placed.orders) == 2
    types = sorted(r.type for r in placed.reports)
    assert types == ["LIMIT_MAKER", "STOP_LOSS_LIMIT"]
    assert all(r.order_list_id == placed.order_list_id for r in placed.reports)

    [listed] = await client.open_order_lists(creds)
    assert listed.order_list_id == placed.order_list_id
    found = await client.order_list(creds, list_client_order_id="oco-1")
    assert found is not None and found.order_list_id == placed.order_list_id
    by_id = await client.order_list(creds, order_list_id=placed.order_list_id)
    assert by_id is not None and by_id.list_client_order_id == "oco-1"

    cancelled = await client.cancel_order_list(creds, "BTCUSDT", list_client_order_id="oco-1")
    assert cancelled.list_order_status == "ALL_DONE"
    assert [r.status for r in cancelled.reports] == ["CANCELED", "CANCELED"]
    assert await client.open_order_lists(creds) == []


async def test_an_unknown_order_list_is_none(client, exchange):
    creds = account(exchange, ALICE)
    assert await client.order_list(creds, list_client_order_id="never-sent") is None


async def test_an_otoco_waits_with_its_exits_pending(client, exchange):
    creds = account(exchange, ALICE)
    entry, target, stop = await prices(client, exchange, "0.99", "1.05", "0.95")
    request = OtocoRequest(
        symbol="BTCUSDT",
        working_type="LIMIT",
        working_side="BUY",
        working_price=entry,
        working_quantity=QTY,
        working_time_in_force="GTC",
        pending_side="SELL",
        pending_quantity=QTY,
        pending_above=ListLeg("LIMIT_MAKER", price=target),
        pending_below=ListLeg("STOP_LOSS", stop_price=stop),
        list_client_order_id="otoco-1",
        working_client_order_id="entry-1",
    )
    placed = await client.place_otoco(creds, request)
    assert placed.contingency_type == "OTO" and len(placed.orders) == 3
    working, *pending = placed.reports
    assert (working.client_order_id, working.type, working.is_working) == ("entry-1", "LIMIT", True)
    assert [(r.status, r.is_working) for r in pending] == [("PENDING_NEW", False)] * 2
    [listed] = await client.open_order_lists(creds)
    assert listed.list_client_order_id == "otoco-1"


async def test_a_lost_oco_answer_is_found_by_its_list_client_id(client, exchange):
    creds = account(exchange, ALICE)
    request = await sell_oco(client, exchange, creds, "oco-lost")
    exchange.faults.fail_next("/api/v3/orderList/oco", count=1, execute=True, code=-1007)
    with pytest.raises(OrderStatusUnknown) as lost:
        await client.place_oco(creds, request)
    assert lost.value.client_order_id == "oco-lost"
    found = await client.order_list(creds, list_client_order_id="oco-lost")
    assert found is not None and found.is_open
    assert len(await client.open_order_lists(creds)) == 1  # sent once, never retried


async def test_a_trailing_stop_order_keeps_its_delta(client, exchange):
    creds = account(exchange, ALICE)
    request = OrderRequest(
        "BTCUSDT", "SELL", "STOP_LOSS", QTY, trailing_delta=150, client_order_id="trail-1"
    )
    placed = await client.place_order(creds, request)
    found = await client.query_order(creds, "BTCUSDT", client_order_id="trail-1")
    assert (found.order_id, found.type, found.status) == (placed.order_id, "STOP_LOSS", "NEW")
    assert (found.trailing_delta, found.order_list_id, found.is_working) == (150, None, False)


async def test_an_ocos_take_profit_fill_reaches_the_stream_as_list_events(
    stream, client, exchange, recorder
):
    creds = account(exchange, ALICE)
    assert await stream.subscribe(ALICE, creds) is True
    placed = await client.place_oco(creds, await sell_oco(client, exchange, creds, "oco-tp"))
    target = next(r for r in placed.reports if r.type == "LIMIT_MAKER")
    stop = next(r for r in placed.reports if r.type == "STOP_LOSS_LIMIT")
    market = exchange.price("BTCUSDT")
    exchange.set_price("BTCUSDT", target.price)  # a trade at the take-profit fills it
    exchange.set_price("BTCUSDT", market)

    def list_done() -> bool:
        return any(
            isinstance(e, ListStatus) and e.order_list_id == placed.order_list_id and e.is_final
            for _, e in recorder.events
        )

    await recorder.wait_until(list_done)
    statuses = [e for u, e in recorder.events if u == ALICE and isinstance(e, ListStatus)]
    assert statuses[-1].list_client_order_id == "oco-tp"
    assert {o.order_id for o in statuses[-1].orders} == {target.order_id, stop.order_id}
    await recorder.wait_until(lambda: _final(recorder.reports(ALICE, stop.order_id)))
    assert recorder.reports(ALICE, target.order_id)[-1].status == "FILLED"
    stopped = recorder.reports(ALICE, stop.order_id)[-1]
    assert stopped.status != "FILLED" and stopped.order_list_id == placed.order_list_id
    assert exchange.balances(KEYS[ALICE])["BTC"].free == Decimal(2) - QTY


def _final(reports: list[ExecutionReport]) -> bool:
    return bool(reports) and reports[-1].is_final
