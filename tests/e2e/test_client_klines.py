"""The client reads a time range of candles page by page (1,000 a call) from the simulator, as
background work of the shared weight budget."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chatbot.exchange.client import BinanceClient
from chatbot.exchange.weight_governor import Priority, WeightGovernor, current_priority
from chatbot.sandbox.exchange import ExchangeSimulator

MINUTE, HOUR = 60_000, 3_600_000


class Spy:
    """The priority each call asked the weight governor for (the real governor decides)."""

    def __init__(self, governor: WeightGovernor) -> None:
        self.priorities: list[Priority] = []
        self._acquire = governor.acquire

    async def acquire(self, weight: int, priority: Priority | None = None) -> None:
        self.priorities.append(priority or current_priority())
        await self._acquire(weight, priority)


@pytest.fixture
async def client(exchange: ExchangeSimulator) -> AsyncIterator[BinanceClient]:
    async with BinanceClient(exchange.rest_url) as client:
        yield client


@pytest.fixture
def calls(client: BinanceClient, monkeypatch: pytest.MonkeyPatch) -> list[Priority]:
    spy = Spy(client.governor)
    monkeypatch.setattr(client.governor, "acquire", spy.acquire)
    return spy.priorities


def a_day_ago(exchange: ExchangeSimulator) -> int:
    now = exchange.clock.now_ms()
    return now - now % MINUTE - 2 * 86_400_000


@pytest.mark.parametrize(
    ("minutes", "pages"),
    [(999, [1000]), (1000, [1000, 1]), (2499, [1000, 1000, 500])],
)
async def test_a_range_is_read_in_pages_of_a_thousand_at_background_priority(
    exchange: ExchangeSimulator,
    client: BinanceClient,
    calls: list[Priority],
    minutes: int,
    pages: list[int],
) -> None:
    start = a_day_ago(exchange)
    end = start + minutes * MINUTE + 30_000  # inside the last candle: it is included
    got = [page async for page in client.kline_pages("BTCUSDT", "1m", start, end)]
    assert [len(page) for page in got] == pages
    assert calls == [Priority.BACKGROUND] * len(pages)  # no call beyond the range's end
    opens = [candle.open_time for page in got for candle in page]
    assert opens == [start + i * MINUTE for i in range(minutes + 1)]
    assert current_priority() is Priority.USER  # the caller's own lane is untouched


async def test_the_whole_range_in_one_list_matches_single_calls(
    exchange: ExchangeSimulator, client: BinanceClient
) -> None:
    hour = a_day_ago(exchange) // HOUR * HOUR
    start = hour + 7 * MINUTE  # not on an hour: the first candle opens at the next one
    hours = await client.klines_between("ETHUSDT", "1h", start, start + 30 * HOUR)
    direct = await client.klines("ETHUSDT", "1h", 30, start_time=start)
    assert hours == direct
    assert hours[0].open_time == hour + HOUR


async def test_a_range_up_to_now_ends_with_the_open_candle(
    exchange: ExchangeSimulator, client: BinanceClient, calls: list[Priority]
) -> None:
    now = exchange.clock.now_ms()
    candles = await client.klines_between("BTCUSDT", "1m", now - 1500 * MINUTE, now + 86_400_000)
    assert candles[-1].open_time == now - now % MINUTE  # the live one, and no more
    assert len(calls) == 2


async def test_an_empty_range_answers_nothing(
    exchange: ExchangeSimulator, client: BinanceClient, calls: list[Priority]
) -> None:
    later = exchange.clock.now_ms() + 3_600_000
    assert await client.klines_between("BTCUSDT", "1m", later, later + 600_000) == []
    assert len(calls) == 1  # Binance has nothing yet: one short (empty) page
    assert await client.klines_between("BTCUSDT", "1m", later, later - 1) == []
    assert len(calls) == 1  # a range that ends before it starts costs no call
