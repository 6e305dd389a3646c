"""Before an alert is saved: how often would it have fired over the last 90 days?

The arithmetic is `backtest.py`'s (pure); this module finds the candles. They are read over REST
as background work of the shared weight budget (1,000 a call, about three calls for 90 days of
1-hour candles), kept per symbol and interval for every user who asks next, extended from the
last one kept rather than read again, and read once however many users ask at the same moment.
The caller bounds how long it waits (`handlers/alerts.py`: the reply never waits long, and the
backtest line follows in an edit).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from chatbot.exchange.market_models import Kline
from chatbot.services.alert_kinds import INTERVAL_SECONDS, Condition
from chatbot.services.backtest import BacktestResult, backtest, backtest_interval
from chatbot.services.futures_market import FuturesMarketService, contract_of
from chatbot.services.market import MarketService

DEFAULT_WAIT = 3.0  # seconds
CACHED_SERIES = 64  # (symbol, interval) candle series kept; the least recently used goes


@dataclass
class _Series:
    klines: list[Kline]  # closed, oldest first


class AlertBacktests:
    """Backtests of alert conditions on cached candles; see the module docstring."""

    def __init__(
        self,
        market: MarketService,
        *,
        clock: Callable[[], float] = time.time,
        wait: float = DEFAULT_WAIT,
        futures: FuturesMarketService | None = None,
    ) -> None:
        self._futures = futures  # a perpetual's (`BTCUSDT.P`) candles: its mark price's
        self.wait = wait  # seconds a reply waits for a backtest (CHATBOT_BACKTEST_WAIT)
        self._market = market
        self._clock = clock
        self._series: OrderedDict[tuple[str, str], _Series] = OrderedDict()
        self._reading: dict[tuple[str, str], asyncio.Task[list[Kline]]] = {}

    def start(
        self, symbol: str, condition: Condition, price_now: Decimal
    ) -> asyncio.Task[BacktestResult]:
        """`run` in a task of its own, for a caller that waits `wait` seconds at most."""
        work = self.run(symbol, condition, price_now)
        return asyncio.get_running_loop().create_task(work, name="alert-backtest")

    async def run(self, symbol: str, condition: Condition, price_now: Decimal) -> BacktestResult:
        """How the alert would have done over the candles `backtest_interval` chooses."""
        interval, count = backtest_interval(condition)
        klines = await self.candles(symbol, interval, count)
        return backtest(condition, klines, price_now=price_now)

    async def candles(self, symbol: str, interval: str, count: int) -> list[Kline]:
        """The last `count` closed candles, from the cache while the newest one kept is the
        newest closed (no candle has closed since it was read)."""
        key = (symbol, interval)
        kept = self._series.get(key)
        if kept is not None and kept.klines and len(kept.klines) >= count:
            next_close = kept.klines[-1].close_time + INTERVAL_SECONDS[interval] * 1000
            if self._clock() * 1000 < next_close:
                self._series.move_to_end(key)
                return kept.klines[-count:]
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.get_running_loop().create_task(self._read(key, count))
            self._reading[key] = reading
            reading.add_done_callback(lambda _: self._reading.pop(key, None))
        klines = await asyncio.shield(reading)  # a caller that stops waiting leaves it reading
        return klines[-count:]

    async def _read(self, key: tuple[str, str], count: int) -> list[Kline]:
        symbol, interval = key
        now = self._clock()
        kept = self._series.get(key)
        step_ms = INTERVAL_SECONDS[interval] * 1000
        since = int(now * 1000) - (count + 1) * step_ms  # one more: `count` closed ones
        if kept is not None and kept.klines and kept.klines[0].open_time <= since:
            since = kept.klines[-1].open_time + 1
            klines = kept.klines + await self._closed(symbol, interval, since)
        else:
            klines = await self._closed(symbol, interval, since)
        self._series[key] = _Series(klines[-count:])
        self._series.move_to_end(key)
        while len(self._series) > CACHED_SERIES:
            self._series.popitem(last=False)
        return klines

    async def _closed(self, symbol: str, interval: str, since: int) -> list[Kline]:
        """A spot symbol's closed candles, or a perpetual's mark price candles (a mark price
        level is met on the mark price, so it is tested on it)."""
        contract = contract_of(symbol)
        if contract is None:
            return await self._market.closed_klines(symbol, interval, since)
        if self._futures is None:
            raise ValueError(f"no futures market to read {symbol}'s candles from")
        return await self._futures.closed_mark_klines(contract, interval, since)
