"""The simulator's history endpoints against Binance's documented rules: `myTrades` paging and
parameter combinations, and the wallet's deposit and withdrawal history (`/sapi/v1/capital`)."""

from __future__ import annotations

from decimal import Decimal

from chatbot.exchange.capital import CapitalMove
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import InvalidRequest, NotAvailable
from chatbot.exchange.signing import HmacSigner
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.binance_wire import DOC_KEY, DOC_SECRET, FUNDS, Binance, error_of, now_ms

DAY = 86_400_000
TEN, FOUR = "10.00000000", "4.00000000"  # amounts as Binance writes them, 8 decimals


async def _buys(trader: Binance, count: int) -> None:
    for _ in range(count):
        reply = await trader.order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.01")
        assert reply.status == 200, reply.body


async def test_my_trades_from_id_pages_oldest_first(exchange, trader) -> None:
    exchange.set_price("ETHUSDT", Decimal(2000))
    await _buys(trader, 5)
    everything = (await trader.signed("GET", "/api/v3/myTrades", {"symbol": "ETHUSDT"})).body
    ids = [t["id"] for t in everything]
    assert ids == sorted(ids) and len(ids) == 5
    page = await trader.signed(
        "GET", "/api/v3/myTrades", {"symbol": "ETHUSDT", "fromId": ids[2], "limit": 2}
    )
    assert [t["id"] for t in page.body] == ids[2:4]  # from that id up, `limit` of them
    latest = await trader.signed("GET", "/api/v3/myTrades", {"symbol": "ETHUSDT", "limit": 2})
    assert [t["id"] for t in latest.body] == ids[3:]  # without fromId: the most recent


async def test_my_trades_refuses_what_binance_refuses(exchange, trader) -> None:
    now = now_ms()
    wide = {"symbol": "ETHUSDT", "startTime": now - 2 * DAY, "endTime": now}
    reply = await trader.signed("GET", "/api/v3/myTrades", wide)
    assert error_of(reply) == (-1127, "More than 24 hours between startTime and endTime.")
    mixed = {"symbol": "ETHUSDT", "fromId": 1, "startTime": now - 1000}
    reply = await trader.signed("GET", "/api/v3/myTrades", mixed)
    assert error_of(reply) == (-1128, "Combination of optional parameters invalid.")


async def test_deposits_and_withdrawals_appear_in_the_capital_history(exchange, trader) -> None:
    exchange.deposit(DOC_KEY, "SOL", Decimal(10))
    exchange.deposit(DOC_KEY, "SOL", Decimal(-4))
    deposits = (await trader.signed("GET", "/sapi/v1/capital/deposit/hisrec")).body
    withdrawals = (await trader.signed("GET", "/sapi/v1/capital/withdraw/history")).body
    assert [(d["coin"], d["amount"], d["status"]) for d in deposits] == [("SOL", TEN, 1)]
    assert [(w["coin"], w["amount"], w["status"]) for w in withdrawals] == [("SOL", FOUR, 6)]
    assert isinstance(deposits[0]["insertTime"], int)
    assert len(withdrawals[0]["applyTime"]) == len("2019-10-12 11:12:02")  # a UTC string
    moves = [CapitalMove.deposit(deposits[0]), CapitalMove.withdrawal(withdrawals[0])]
    assert [m.amount for m in moves] == [Decimal(10), Decimal(-4)]
    assert abs(moves[1].time_ms - deposits[0]["insertTime"]) < 2000  # second precision
    old = {"startTime": now_ms() - 200 * DAY, "endTime": now_ms()}
    reply = await trader.signed("GET", "/sapi/v1/capital/deposit/hisrec", old)
    assert error_of(reply)[0] == -1127


async def test_a_refused_key_and_the_testnet_cannot_read_the_capital_history(
    exchange, exchange_factory
) -> None:
    exchange.add_account(DOC_KEY, secret=DOC_SECRET, balances=FUNDS)
    exchange.capital.refuse(DOC_KEY)
    testnet = await exchange_factory(network="testnet")
    testnet.add_account(DOC_KEY, secret=DOC_SECRET, balances=FUNDS)
    from pydantic import SecretStr

    credentials = ApiCredentials(SecretStr(DOC_KEY), HmacSigner(SecretStr(DOC_SECRET)))
    async with BinanceClient(exchange.rest_url) as client:
        try:
            await client.deposits(credentials)
        except InvalidRequest as exc:
            assert exc.code == -1002
        else:
            raise AssertionError("a refused key read the deposit history")
    async with BinanceClient(testnet.rest_url) as client:
        try:
            await client.withdrawals(credentials)
        except NotAvailable:
            pass
        else:
            raise AssertionError("the testnet answered /sapi")


async def test_the_client_reads_every_fill_page_by_page(exchange: ExchangeSimulator) -> None:
    from pydantic import SecretStr

    exchange.add_account(DOC_KEY, secret=DOC_SECRET, balances=FUNDS)
    exchange.set_price("ETHUSDT", Decimal(2000))
    credentials = ApiCredentials(SecretStr(DOC_KEY), HmacSigner(SecretStr(DOC_SECRET)))
    async with BinanceClient(exchange.rest_url) as client:
        from chatbot.exchange.client import OrderRequest

        for _ in range(3):
            await client.place_order(
                credentials, OrderRequest("ETHUSDT", "BUY", "MARKET", Decimal("0.01"))
            )
        first = await client.my_trades(credentials, "ETHUSDT", 2, from_id=0)
        rest = await client.my_trades(credentials, "ETHUSDT", 2, from_id=first[-1].id + 1)
    assert len(first) == 2 and len(rest) == 1
    assert [t.id for t in first + rest] == sorted({t.id for t in first + rest})
