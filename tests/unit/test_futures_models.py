"""Futures payload parsing, checked against the examples Binance documents for each endpoint
(tests/data/binance_futures_docs.json), and the futures request weights."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from chatbot.exchange.futures_models import (
    FundingRate,
    FuturesExchangeInfo,
    FuturesTicker24h,
    MarkPriceUpdate,
    OpenInterest,
    PremiumIndex,
)
from chatbot.exchange.market_models import Kline, MarketTrade, TickerPrice
from chatbot.exchange.weight_governor import minute_limit
from chatbot.exchange.weights import rest_weight

PAYLOADS = json.loads(
    (Path(__file__).parents[1] / "data" / "binance_futures_docs.json").read_text()
)


def payload(endpoint: str):
    return PAYLOADS[f"{endpoint} :: Response"]


def test_exchange_info_gives_the_contract_its_tick_size_and_the_futures_limits():
    info = FuturesExchangeInfo.from_json(payload("GET /fapi/v1/exchangeInfo"))
    contract = info.contracts["BLZUSDT"]
    assert contract.pair == "BLZUSDT" and contract.is_perpetual and contract.is_trading
    assert (contract.base_asset, contract.quote_asset) == ("BLZ", "USDT")
    assert (contract.price_precision, contract.quantity_precision) == (5, 0)
    assert contract.tick_size == Decimal("0.0001")
    assert minute_limit(info.rate_limits) == 2400
    assert info.server_time == 1565613908500


def test_a_contract_without_a_price_filter_has_no_tick_size():
    data = json.loads(json.dumps(payload("GET /fapi/v1/exchangeInfo")))
    data["symbols"][0]["filters"] = []
    assert FuturesExchangeInfo.from_json(data).contracts["BLZUSDT"].tick_size is None


def test_ticker_24hr():
    ticker = FuturesTicker24h.from_json(payload("GET /fapi/v1/ticker/24hr"))
    assert ticker.symbol == "BTCUSDT"
    assert ticker.last_price == Decimal("4.00000200")
    assert ticker.price_change_percent == Decimal("-95.960")
    assert (ticker.high_price, ticker.low_price) == (Decimal("100"), Decimal("0.1"))
    assert ticker.quote_volume == Decimal("15.30000000")
    assert ticker.count == 76


def test_ticker_price_reuses_the_spot_record():
    price = TickerPrice.from_json(payload("GET /fapi/v1/ticker/price"))
    assert price == TickerPrice("BTCUSDT", Decimal("6000.01"))


def test_premium_index():
    index = PremiumIndex.from_json(payload("GET /fapi/v1/premiumIndex"))
    assert index.mark_price == Decimal("11793.63104562")
    assert index.index_price == Decimal("11781.80495970")
    assert index.estimated_settle_price == Decimal("11781.16138815")
    assert index.last_funding_rate == Decimal("0.00038246")
    assert index.interest_rate == Decimal("0.0001")
    assert (index.next_funding_time, index.time) == (1597392000000, 1597370495002)


def test_a_delivery_contract_has_no_funding_in_its_premium_index():
    data = dict(payload("GET /fapi/v1/premiumIndex"), lastFundingRate="", interestRate="")
    data["nextFundingTime"] = 0
    index = PremiumIndex.from_json(data)
    assert index.last_funding_rate is None and index.interest_rate is None
    assert index.next_funding_time == 0


def test_funding_rate_history():
    rates = [FundingRate.from_json(item) for item in payload("GET /fapi/v1/fundingRate")]
    assert [rate.funding_rate for rate in rates] == [Decimal("-0.0375"), Decimal("0.0001")]
    assert rates[0].funding_time == 1570608000000
    assert rates[0].mark_price == Decimal("34287.54619963")


def test_open_interest():
    interest = OpenInterest.from_json(payload("GET /fapi/v1/openInterest"))
    assert interest == OpenInterest("BTCUSDT", Decimal("10659.509"), 1589437530011)


def test_futures_trades_have_the_spot_shape():
    (trade,) = [MarketTrade.from_json(item) for item in payload("GET /fapi/v1/trades")]
    assert (trade.id, trade.price, trade.qty) == (28457, Decimal("4.000001"), Decimal("12"))
    assert trade.quote_qty == Decimal("48.00") and trade.is_buyer_maker


def test_futures_klines_have_the_spot_shape():
    (candle,) = [Kline.from_json(row) for row in payload("GET /fapi/v1/klines")]
    assert candle.open_time == 1499040000000 and candle.close_time == 1499644799999
    assert candle.high == Decimal("0.8") and candle.close == Decimal("0.015771")
    assert candle.quote_volume == Decimal("2434.19055334") and candle.trades == 308


def test_mark_price_stream_event():
    event = MarkPriceUpdate.from_stream(payload("<symbol>@markPrice"))
    assert event.symbol == "BTCUSDT" and event.event_time == 1562305380000
    assert event.mark_price == Decimal("11794.15")
    assert event.index_price == Decimal("11784.62659091")
    assert event.funding_rate == Decimal("0.00038167")
    assert event.next_funding_time == 1562306400000


def test_amounts_are_decimal_never_float():
    index = PremiumIndex.from_json(payload("GET /fapi/v1/premiumIndex"))
    assert all(
        isinstance(getattr(index, name), Decimal)
        for name in ("mark_price", "index_price", "estimated_settle_price", "last_funding_rate")
    )


@pytest.mark.parametrize(
    ("path", "params", "weight"),
    [
        ("/fapi/v1/exchangeInfo", {}, 1),
        ("/fapi/v1/ticker/24hr", {"symbol": "BTCUSDT"}, 1),
        ("/fapi/v1/ticker/24hr", {}, 40),
        ("/fapi/v1/ticker/price", {"symbol": "BTCUSDT"}, 1),
        ("/fapi/v1/ticker/price", {}, 2),
        ("/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"}, 1),
        ("/fapi/v1/premiumIndex", {}, 10),
        ("/fapi/v1/fundingRate", {"symbol": "BTCUSDT"}, 1),
        ("/fapi/v1/openInterest", {"symbol": "BTCUSDT"}, 1),
        ("/fapi/v1/trades", {"symbol": "BTCUSDT", "limit": 10}, 5),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": 99}, 1),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": 100}, 2),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1h"}, 5),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": 1000}, 5),
        ("/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": 1500}, 10),
    ],
)
def test_futures_weights_follow_binance_documentation(path, params, weight):
    assert rest_weight("GET", path, params) == weight


def test_spot_weights_are_unchanged_by_the_futures_table():
    assert rest_weight("GET", "/api/v3/ticker/24hr", {}) == 80
    assert rest_weight("GET", "/api/v3/klines", {"limit": 1000}) == 2
