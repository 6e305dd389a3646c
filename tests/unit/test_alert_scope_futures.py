"""The evaluating side of alerts on perpetuals, against the simulator's futures REST and a real
database on each engine: a new alert is set against the mark price and funding rate now and
follows the contract's key, and after a stream gap the premium index read once fires what
crossed meanwhile, each alert once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from chatbot.errors import UserError
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.futures_client import FuturesMarketClient
from chatbot.sandbox.exchange import ExchangeSimulator
from chatbot.services.alert_kinds import AlertSpec, FundingLevel, Move, PriceLevel
from chatbot.services.alerts import AlertService
from chatbot.services.futures_market import FuturesMarketService, UnknownContract
from chatbot.services.market import MarketService
from chatbot.storage.alerts import AlertRepository
from chatbot.storage.database import Database


@pytest.fixture
async def service(database: Database, exchange: ExchangeSimulator) -> AsyncIterator[AlertService]:
    spot = BinanceClient(exchange.rest_url)
    futures = FuturesMarketClient(exchange.futures_rest_url)
    alerts = AlertService(
        AlertRepository(database), MarketService(spot), futures=FuturesMarketService(futures)
    )
    yield alerts
    await alerts.stop()
    await spot.close()
    await futures.close()


async def test_a_gap_fires_the_levels_a_perpetual_crossed_once(service, exchange):
    followed: list[str] = []

    async def watch(symbol: str) -> None:
        followed.append(symbol)

    service.scope.follow_with(watch, watch)
    exchange.futures.set_basis("BTCUSDT", Decimal(0))
    exchange.set_price("BTCUSDT", Decimal(60000))
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("0.0001"))
    level = await service.create(1, 7, AlertSpec("BTCUSDT.P", PriceLevel(">", Decimal(61000))))
    rate = await service.create(1, 7, AlertSpec("BTCUSDT.P", FundingLevel(">", Decimal("0.0005"))))
    assert (level.price, rate.rate) == (Decimal(60000), Decimal("0.0001"))
    assert followed == ["BTCUSDT.P"]  # one mark price stream for both

    exchange.set_price("BTCUSDT", Decimal(61500))  # while no stream listens
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("0.0007"))
    await service.scope.on_gap(["BTCUSDT.P"])
    async with asyncio.timeout(10):
        await service.fired.wait()
        while await service.repository.outbox.backlog() < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    await service.scope.on_gap(["BTCUSDT.P"])  # read again: nothing fires twice
    pending = await service.repository.outbox.pending()
    fired = {item.alert_id: (item.alert.price, item.alert.measured) for item in pending}
    assert fired == {
        level.record.id: (Decimal(61500), None),
        rate.record.id: (Decimal("0.0007"), Decimal("0.0007")),
    }
    assert len(service.book) == 0


async def test_a_perpetual_refuses_unknown_contracts_levels_met_and_spot_kinds(service, exchange):
    with pytest.raises(UnknownContract):
        await service.create(1, 7, AlertSpec("FOOUSDT.P", PriceLevel(">", Decimal(1))))
    exchange.futures.set_basis("ETHUSDT", Decimal(0))
    exchange.set_price("ETHUSDT", Decimal(3000))
    exchange.futures.set_funding_rate("ETHUSDT", Decimal("-0.0002"))
    for condition in (
        PriceLevel("<", Decimal(3100)),  # the mark is below already
        FundingLevel("<", Decimal("-0.0001")),  # the rate is below already
        Move(Decimal(3), 900),  # spot trades only
    ):
        with pytest.raises(UserError):
            await service.create(1, 7, AlertSpec("ETHUSDT.P", condition))
    with pytest.raises(UserError, match="perpetuals"):
        await service.create(1, 7, AlertSpec("ETHUSDT", FundingLevel(">", Decimal("0.0005"))))
    assert await service.list(1) == []
