"""The USDT price of an asset at a past moment, from Binance's candles.

The rate at time t is the close of the candle that contains t: a 1-minute candle for the last
30 days, a 1-hour candle before that (old trades are usually sparse, and one request of 1,000
hourly candles covers 41 days where 1,000 minutes cover 17 hours). An asset without a USDT
market is priced through BTC (its BTC candle × BTCUSDT's); without either it has no rate
(None), and the caller says so.

Each request fetches up to 1,000 candles from the one needed, so the trades that follow reuse
them. Closed candles never change: they are stored (`pnl_rates`) and read from Binance once for
every user; the candle still open is used but not stored. Calls go at whatever priority the
caller runs at (/pnl's build runs as background work).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from decimal import Decimal

from chatbot.exchange.client import BinanceClient
from chatbot.storage.trade_history import TradeHistoryRepository

USDT = "USDT"
MINUTE_MS, HOUR_MS = 60_000, 3_600_000
FINE_FOR_MS = 30 * 86_400_000  # how far back 1-minute candles are used
BATCH = 1000  # candles per request (Binance's maximum)


class UsdtRates:
    def __init__(
        self,
        client: BinanceClient,
        repo: TradeHistoryRepository,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._repo = repo
        self._clock = clock

    async def rates(self, wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Decimal]:
        """USDT per unit of each (asset, time ms) asked; pairs without a rate are left out."""
        info = await self._client.exchange_info()
        listed = set(info.symbols)  # a delisted symbol's candles still answer the past
        closes = _Closes(self, self._now())
        found: dict[tuple[str, int], Decimal] = {}
        for asset, at in sorted(set(wanted), key=lambda p: (p[0], p[1])):
            rate = await self._rate(asset, at, listed, closes)
            if rate is not None:
                found[(asset, at)] = rate
        return found

    async def _rate(self, asset: str, at: int, listed: set[str], closes: _Closes) -> Decimal | None:
        if asset == USDT:
            return Decimal(1)
        if asset + USDT in listed:
            return await closes.close(asset + USDT, at)
        if asset + "BTC" in listed and "BTCUSDT" in listed:
            in_btc = await closes.close(asset + "BTC", at)
            btc = await closes.close("BTCUSDT", at)
            return None if in_btc is None or btc is None else in_btc * btc
        return None

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def stored(self, symbol: str, period: str, open_time: int) -> dict[int, Decimal]:
        return await self._repo.closes(symbol, period, [open_time])

    async def fetch(self, symbol: str, period: str, start: int, now: int) -> dict[int, Decimal]:
        """Up to 1,000 candles from `start`; stores the closed ones."""
        klines = await self._client.klines(symbol, period, limit=BATCH, start_time=start)
        got = {k.open_time: k.close for k in klines}
        closed = {k.open_time: k.close for k in klines if k.close_time < now}
        if closed:
            await self._repo.add_closes(symbol, period, closed)
        return got


class _Closes:
    """The closes one report has seen, so each candle is asked of the database or Binance
    at most once per report."""

    def __init__(self, rates: UsdtRates, now: int) -> None:
        self._rates = rates
        self._now = now
        self._seen: dict[tuple[str, str], dict[int, Decimal]] = {}

    async def close(self, symbol: str, at: int) -> Decimal | None:
        period, span = ("1m", MINUTE_MS) if self._now - at < FINE_FOR_MS else ("1h", HOUR_MS)
        open_time = at - at % span
        seen = self._seen.setdefault((symbol, period), {})
        if open_time not in seen:
            seen.update(await self._rates.stored(symbol, period, open_time))
        if open_time not in seen:
            seen.update(await self._rates.fetch(symbol, period, open_time, self._now))
        return seen.get(open_time)
