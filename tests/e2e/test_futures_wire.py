"""The futures market client (written from Binance's docs) against the simulator's futures side
(written apart from it, also from the docs), over real sockets: each endpoint the client reads
parses what the simulator serves, funding settles every 8 hours of the simulator's clock, and an
unknown contract is refused with Binance's -1121."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chatbot.exchange.errors import InvalidSymbol
from chatbot.exchange.futures_client import FuturesMarketClient
from chatbot.sandbox.exchange import ExchangeSimulator

HOUR = 3600


async def test_each_endpoint_reads_what_the_simulator_serves(exchange: ExchangeSimulator):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    async with FuturesMarketClient(exchange.futures_rest_url) as client:
        info = await client.exchange_info()
        assert "BTCUSDT" in info.contracts and "ETHUSDT" in info.contracts
        assert (await client.contract("BTCUSDT")).symbol == "BTCUSDT"
        ticker = await client.ticker_24hr("BTCUSDT")
        index = await client.premium_index("BTCUSDT")
        last = (await client.ticker_price("BTCUSDT")).price
        assert abs(last / Decimal(60000) - 1) < Decimal("0.01")  # near the spot price
        assert abs(index.mark_price / last - 1) < Decimal("0.01")
        assert index.last_funding_rate is not None and index.next_funding_time > 0
        assert ticker.symbol == "BTCUSDT"
        assert (await client.open_interest("BTCUSDT")).open_interest > 0
        assert await client.trades("BTCUSDT", limit=5)
        candles = await client.klines("BTCUSDT", "1h", limit=24)
        assert len(candles) == 24 and all(c.high >= c.low for c in candles)
        assert {i.symbol for i in await client.premium_indexes()} >= {"BTCUSDT", "ETHUSDT"}
        assert len(await client.tickers_24hr()) == len(info.contracts)


async def test_funding_settles_at_the_next_eight_hour_mark(exchange: ExchangeSimulator):
    exchange.futures.set_funding_rate("ETHUSDT", Decimal("0.0005"))
    async with FuturesMarketClient(exchange.futures_rest_url) as client:
        before = await client.funding_rates("ETHUSDT", limit=1000)
        due = (await client.premium_index("ETHUSDT")).next_funding_time
        exchange.advance(8 * HOUR)
        after = await client.funding_rates("ETHUSDT", limit=1000)
    settled = [f for f in after if f.funding_time >= due]
    assert settled and settled[0].funding_time == due
    assert settled[0].funding_rate == Decimal("0.0005")
    assert len(after) > len(before)


async def test_an_unknown_contract_is_refused_with_binances_code(exchange: ExchangeSimulator):
    async with FuturesMarketClient(exchange.futures_rest_url) as client:
        with pytest.raises(InvalidSymbol) as raised:
            await client.premium_index("NOPEUSDT")
    assert raised.value.code == -1121
