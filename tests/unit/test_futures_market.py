"""The futures market service over the real futures client and a loopback socket whose far
end answers with Binance's documented futures payloads (tests/data): quarterly contracts are
refused like unknown names, before any request names them, and a quote parsed from Binance's
own payloads renders as /price BTCUSDT.P shows it."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator

import pytest

from chatbot.exchange.futures_client import FuturesMarketClient
from chatbot.services.futures_market import FuturesMarketService, UnknownContract
from handlers.futures_texts import render_futures_quote
from tests.unit.test_futures_client import PAYLOADS, Answer, RecordedFutures, serving

EXCHANGE_INFO = "/fapi/v1/exchangeInfo"


def with_quarterly() -> dict:
    """Binance's documented exchangeInfo, plus a quarterly twin of its perpetual."""
    info = copy.deepcopy(PAYLOADS[f"GET {EXCHANGE_INFO} :: Response"])
    quarterly = copy.deepcopy(info["symbols"][0])
    quarterly.update(symbol="BLZUSDT_261225", contractType="CURRENT_QUARTER")
    info["symbols"].append(quarterly)
    return info


@pytest.fixture
async def futures() -> AsyncIterator[tuple[RecordedFutures, FuturesMarketService]]:
    recording = RecordedFutures()
    recording.answers[EXCHANGE_INFO] = Answer(with_quarterly())
    async with serving(recording) as url, FuturesMarketClient(url) as client:
        yield recording, FuturesMarketService(client)


async def test_a_quarterly_contract_is_refused_like_an_unknown_one(futures):
    recording, service = futures
    with pytest.raises(UnknownContract, match=r"no perpetual futures contract BLZUSDT_261225\.P"):
        await service.quotes(["BLZUSDT_261225"])
    with pytest.raises(UnknownContract, match=r"Did you mean BLZUSDT\.P"):
        await service.funding(["BLZUSDX"])
    assert set(recording.paths()) == {EXCHANGE_INFO}


async def test_a_quote_from_binances_payloads_renders_every_line(futures):
    recording, service = futures
    [quote] = await service.quotes(["BLZUSDT"])
    text = render_futures_quote(quote)
    assert text.startswith("<b>BLZUSDT.P</b>  ")
    for line in ("Mark ", "24h high ", "24h volume ", "Funding ", "Open interest "):
        assert f"\n{line}" in text, (line, text)
    assert sorted(set(recording.paths()) - {EXCHANGE_INFO}) == [
        "/fapi/v1/openInterest",
        "/fapi/v1/premiumIndex",
        "/fapi/v1/ticker/24hr",
    ]


def test_a_history_lagging_behind_a_settlement_is_not_kept_until_the_next():
    from decimal import Decimal

    from chatbot.exchange.futures_models import FundingRate
    from chatbot.services.futures_market import _holds_the_last_settlement

    hour = 3_600_000
    rows = [FundingRate("BTCUSDT", Decimal("0.0001"), t, None) for t in (16 * hour, 8 * hour)]
    assert _holds_the_last_settlement(rows, 24 * hour)  # the newest is the one before next
    assert _holds_the_last_settlement(rows, 24 * hour + 5)  # Binance's times stray by ms
    assert not _holds_the_last_settlement(rows, 32 * hour)  # the 24:00 one is not listed yet
    assert not _holds_the_last_settlement(rows[:1], 24 * hour)  # no interval to judge by
    hourly = [FundingRate("X", Decimal(0), t, None) for t in (3 * hour, 2 * hour)]
    assert not _holds_the_last_settlement(hourly, 5 * hour)  # settles every hour: one missing
