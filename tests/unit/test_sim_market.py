"""The simulator's synthetic history, candles, tape and parameter reading."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from chatbot.sandbox.exchange.candles import INTERVAL_MS, slot_end, slot_open
from chatbot.sandbox.exchange.market import Market
from chatbot.sandbox.exchange.params import Params
from chatbot.sandbox.exchange.pricepath import PricePath, symbol_key
from chatbot.sandbox.exchange.signatures import rest_payload
from chatbot.sandbox.exchange.symbols import Catalog
from chatbot.sandbox.exchange.wire import ApiError, Clock, fmt

CATALOG = Catalog("mainnet")
HOUR = 3_600_000


@pytest.fixture
def market() -> Market:
    return Market(CATALOG, Clock(), seed=7)


def test_interval_slots_follow_binance() -> None:
    wednesday = 1_781_611_200_000  # 2026-06-17 12:00 UTC
    assert slot_open("1w", wednesday) == 1_781_481_600_000  # Monday 2026-06-15 00:00
    assert slot_open("1M", wednesday) == 1_780_272_000_000  # 2026-06-01
    assert slot_end("1M", 1_780_272_000_000) == 1_782_864_000_000  # 2026-07-01
    assert slot_open("4h", wednesday + 1) == wednesday
    assert set(INTERVAL_MS) == {
        *("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h"),
        *("1d", "3d", "1w", "1M"),
    }


def test_the_path_passes_through_its_anchor_and_is_deterministic() -> None:
    path = PricePath(symbol_key(1, "BTCUSDT"), 1_000_000, Decimal("65000"), Decimal("0.03"))
    again = PricePath(symbol_key(1, "BTCUSDT"), 1_000_000, Decimal("65000"), Decimal("0.03"))
    other = PricePath(symbol_key(2, "BTCUSDT"), 1_000_000, Decimal("65000"), Decimal("0.03"))
    assert path.price_at(1_000_000) == Decimal("65000")
    assert path.price_at(-5 * 86_400_000) == again.price_at(-5 * 86_400_000)
    assert path.price_at(-5 * 86_400_000) != other.price_at(-5 * 86_400_000)


def test_history_candles_are_consistent(market: Market) -> None:
    tape = market.symbol("BTCUSDT").tape
    now = market.clock.now_ms()
    hours = tape.klines("1h", now, 48, None, None)
    days = tape.klines("1d", now, 3, None, None)
    assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in hours)
    assert all(a.close_time + 1 == b.open_time for a, b in itertools.pairwise(hours))
    assert hours[-1].close == days[-1].close == tape.last_price
    assert tape.klines("1h", now, 48, None, None)[0] == hours[0]  # cached, same answer


def test_prints_land_in_the_live_candle_and_the_24h_ticker(market: Market) -> None:
    market.set_price("ETHUSDT", Decimal("4000"))
    market.set_price("ETHUSDT", Decimal("3999.99"))
    tape = market.symbol("ETHUSDT").tape
    now = market.clock.now_ms()
    minute = tape.klines("1m", now, 1, None, None)[0]
    stats = tape.rolling_24h(now)
    assert (minute.high, minute.close, minute.trades) == (Decimal(4000), Decimal("3999.99"), 2)
    assert stats.high >= Decimal(4000) and stats.close == Decimal("3999.99")


def test_book_spread_and_average_price(market: Market) -> None:
    market.spread = Decimal("0.001")
    market.set_price("BTCUSDT", Decimal("50000"))
    top = market.book("BTCUSDT")
    assert (top.bid, top.ask) == (Decimal("49950.00"), Decimal("50050.00"))
    assert Decimal(0) < market.avg_price("BTCUSDT")
    with pytest.raises(ValueError, match="tick"):
        market.set_price("BTCUSDT", Decimal("50000.001"))


def test_random_walk_is_seeded() -> None:
    first, second = Market(CATALOG, Clock(), seed=3), Market(CATALOG, Clock(), seed=3)
    for _ in range(20):
        first.walk()
        second.walk()
    assert [first.price(s.spec.name) for s in first.symbols()] == [
        second.price(s.spec.name) for s in second.symbols()
    ]


def test_params_precision_duplicates_and_query_priority() -> None:
    params = Params.from_wire("quantity=1.5&side=BUY", "side=SELL&price=2")
    assert (params.get("side"), params.get("price")) == ("BUY", "2")
    assert params.decimal("quantity") == Decimal("1.5")
    with pytest.raises(ApiError) as precision:
        Params.from_wire("quantity=0.000000001").decimal("quantity")
    with pytest.raises(ApiError) as illegal:
        Params.from_wire("quantity=1e5").decimal("quantity")
    with pytest.raises(ApiError) as duplicate:
        Params.from_wire("a=1&a=2")
    assert (precision.value.code, illegal.value.code, duplicate.value.code) == (-1111, -1100, -1101)


def test_signature_pair_is_cut_from_the_payload_as_sent() -> None:
    assert rest_payload("a=1&signature=ab%2B%3D&b=%E4%B8%AD") == "a=1&b=%E4%B8%AD"
    assert rest_payload("a=1", "b=2&signature=00") == "a=1b=2"
    assert rest_payload("") == ""


def test_decimals_have_eight_places() -> None:
    assert fmt(Decimal("0.1")) == "0.10000000"
    assert fmt(Decimal("-94.999998")) == "-94.99999800"
    assert fmt(Decimal("1E+2")) == "100.00000000"
