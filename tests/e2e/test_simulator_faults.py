"""The simulator's "execution status unknown" faults, over real sockets.

Each fault leaves the client unsure whether its order went through; each test checks what the
client sees (the reply, or no reply) and what really happened (the order, its events).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from chatbot.exchange.signing import HmacSigner
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.binance_wire import (
    DOC_KEY,
    DOC_SECRET,
    FUNDS,
    Binance,
    ExchangeFactory,
    call,
    error_of,
    next_json,
    signed_params,
)

BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
NOT_FOUND = (-2013, "Order does not exist.")


@pytest.fixture
def trader(exchange: ExchangeSimulator, session: aiohttp.ClientSession) -> Binance:
    """The documentation's HMAC key, with 10 000 USDT, 1 BTC and 10 ETH; BTC at 60 000."""
    exchange.add_account(DOC_KEY, secret=DOC_SECRET, balances=FUNDS)
    exchange.set_price("BTCUSDT", Decimal(60000))
    return Binance(session, exchange.rest_url, DOC_KEY, HmacSigner(SecretStr(DOC_SECRET)))


async def lookup(trader: Binance, client_id: str) -> Any:
    params = {"symbol": "BTCUSDT", "origClientOrderId": client_id}
    return (await trader.signed("GET", "/api/v3/order", params)).body


async def test_late_matching_answers_now_and_places_the_order_later(
    exchange: ExchangeSimulator, trader: Binance, session: aiohttp.ClientSession
) -> None:
    exchange.faults.fail_next("/api/v3/order", code=-1007, status=503, execute_after=2.0)
    async with session.ws_connect(exchange.ws_api_url) as ws:
        await call(ws, "userDataStream.subscribe.signature", signed_params(trader.signer, DOC_KEY))
        # a recvWindow shorter than the delay: the timing rule judges the arrival
        reply = await trader.order(**BUY, newClientOrderId="late-1", recvWindow=1000)
        before = await lookup(trader, "late-1")
        pending = exchange.faults.pending
        events: list[dict[str, Any]] = []
        while not events or events[-1].get("e") != "outboundAccountPosition":
            events.append((await next_json(ws))["event"])
    assert (reply.status, error_of(reply)) == (
        503,
        (
            -1007,
            "Timeout waiting for response from backend server. "
            "Send status unknown; execution status unknown.",
        ),
    )
    assert (before["code"], before["msg"]) == NOT_FOUND and pending == 1
    assert [(e["x"], e["X"], e["c"]) for e in events[:-1]] == [
        ("NEW", "NEW", "late-1"),
        ("TRADE", "FILLED", "late-1"),
    ]
    after = await lookup(trader, "late-1")
    assert after["status"] == "FILLED" and after["orderId"] == events[0]["i"]
    assert exchange.faults.pending == 0


async def test_stop_cancels_late_executions(
    exchange_factory: ExchangeFactory, session: aiohttp.ClientSession
) -> None:
    sim = await exchange_factory()
    sim.add_account(DOC_KEY, secret=DOC_SECRET, balances=FUNDS)
    client = Binance(session, sim.rest_url, DOC_KEY, HmacSigner(SecretStr(DOC_SECRET)))
    sim.faults.fail_next("/api/v3/order", code=-1007, execute_after=60)
    reply = await client.order(**BUY)
    assert reply.status == 408 and sim.faults.pending == 1
    await sim.stop()
    assert sim.faults.pending == 0 and sim.orders_for(DOC_KEY) == []


async def test_a_1006_fault_after_placing_the_order(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.faults.fail_next("/api/v3/order", code=-1006, status=400, execute=True)
    reply = await trader.order(**BUY, newClientOrderId="bus-1")
    assert (reply.status, reply.body) == (
        400,
        {
            "code": -1006,
            "msg": "An unexpected response was received from the message bus. "
            "Execution status unknown.",
        },
    )
    assert (await lookup(trader, "bus-1"))["status"] == "FILLED"


async def test_a_truncated_200_after_placing_the_order(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.faults.truncate_next("/api/v3/order")
    reply = await trader.order(**BUY, newClientOrderId="cut-1")
    assert reply.status == 200 and isinstance(reply.body, str)
    assert reply.body.startswith('{"symbol":"BTCUSDT","orderId":')
    with pytest.raises(ValueError):
        json.loads(reply.body)
    assert reply.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert int(reply.headers["X-MBX-USED-WEIGHT-1M"]) >= 1
    assert (await lookup(trader, "cut-1"))["status"] == "FILLED"
    assert (await trader.order(**BUY)).body["status"] == "FILLED"  # only the next call


async def test_a_dropped_connection_after_or_before_placing(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.faults.drop_next("/api/v3/order")
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await trader.order(**BUY, newClientOrderId="gone-1")
    exchange.faults.drop_next("/api/v3/order", execute=False)
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await trader.order(**BUY, newClientOrderId="lost-1")
    placed, lost = await lookup(trader, "gone-1"), await lookup(trader, "lost-1")
    assert placed["status"] == "FILLED" and (lost["code"], lost["msg"]) == NOT_FOUND


async def test_the_new_faults_over_the_control_surface(
    exchange: ExchangeSimulator, trader: Binance, session: aiohttp.ClientSession
) -> None:
    base = f"{exchange.rest_url}/_sandbox/faults"
    for fault in (
        {"kind": "truncate", "path": "/api/v3/time"},
        {"kind": "drop", "path": "/api/v3/order", "method": "POST"},
        {"kind": "fail", "path": "/api/v3/order", "code": -1007, "executeAfter": 60},
    ):
        async with session.post(base, json=fault) as r:
            assert (r.status, await r.json()) == (200, {"armed": fault["kind"]})
    cut = await trader.public("/api/v3/time")
    assert cut.status == 200 and cut.body.startswith('{"serverTime":')
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await trader.order(**BUY)
    late = await trader.order(**BUY)
    assert late.body["code"] == -1007 and exchange.faults.pending == 1
    async with session.post(base, json={"kind": "truncate", "path": "/x", "execute": False}) as r:
        assert r.status == 400


def test_fault_arguments_that_contradict_each_other(exchange: ExchangeSimulator) -> None:
    with pytest.raises(ValueError):
        exchange.faults.fail_next("/api/v3/order", code=-1007, execute=True, execute_after=1)
    with pytest.raises(ValueError):
        exchange.faults.truncate_next("/api/v3/order", execute=False)
