"""An async client of Binance's USDⓈ-M futures market data (`/fapi/v1/...`): read-only, typed.

It is the spot client's transport (`RestTransport`, rest.py: one session, the weight governor,
429/418 handling, the error classes) pointed at the futures host, not a copy of it. What
differs, and why:

- Its own `WeightGovernor`: Binance counts futures request weight per IP apart from spot, with
  its own limit (2,400 a minute as documented; the limit announced by `/fapi/v1/exchangeInfo`'s
  `rateLimits` replaces it, as spot's exchangeInfo does for spot). Each answer's
  `X-MBX-USED-WEIGHT-1M` is read as for spot. Build one client for the whole bot.
- The weights are the futures ones (weights.py: premiumIndex 1 with a symbol and 10 without,
  ticker/24hr 1 and 40, klines by `limit`, ...).
- `/fapi/v1/fundingRate` has no minute weight but a limit of its own, 500 calls per 5 minutes
  per IP (shared with fundingInfo): the client keeps `weight_share` of it and raises
  `RateLimited` with the wait beyond that, rather than let Binance answer 429.
- Nothing is signed: no futures orders in this client (leverage needs its own safety design).

Errors are the spot ones: -1121 raises `InvalidSymbol`, -1120 `InvalidInterval`, a 429
`RateLimited` (and pauses every futures call for `Retry-After`), a 418 `IpBanned`.
"""

from __future__ import annotations

import collections
import time
from typing import Any

from chatbot.exchange.errors import InvalidSymbol, RateLimited
from chatbot.exchange.futures_models import (
    FundingRate,
    FuturesContract,
    FuturesExchangeInfo,
    FuturesTicker24h,
    OpenInterest,
    PremiumIndex,
)
from chatbot.exchange.market_models import Kline, MarketTrade, TickerPrice
from chatbot.exchange.market_requests import candles, recent_trades
from chatbot.exchange.rest import RestTransport

FUTURES_WEIGHT_LIMIT = 2400  # Binance's documented USDⓈ-M REQUEST_WEIGHT per minute
FUNDING_CALLS = 500  # fundingRate + fundingInfo calls Binance allows per window and IP
FUNDING_WINDOW = 300.0  # seconds


class FuturesMarketClient(RestTransport):
    """USDⓈ-M futures market data. Use as `async with FuturesMarketClient(url) as client:` or
    call `close()`; `url` is BINANCE_FUTURES_API_URL."""

    time_path = "/fapi/v1/time"

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.governor.limit = FUTURES_WEIGHT_LIMIT  # until exchangeInfo announces its own
        self._contracts: FuturesExchangeInfo | None = None
        self._funding_calls: collections.deque[float] = collections.deque()

    # -- contracts ---------------------------------------------------------------------------

    async def exchange_info(self, *, refresh: bool = False) -> FuturesExchangeInfo:
        """Every contract and the futures rate limits; cached for `exchange_info_ttl` seconds
        (weight 1). Adopts the announced REQUEST_WEIGHT limit in this client's governor."""
        async with self._info_lock:
            fresh = time.monotonic() - self._info_at < self.exchange_info_ttl
            if self._contracts is None or refresh or not fresh:
                data = await self.public("GET", "/fapi/v1/exchangeInfo")
                self._contracts = FuturesExchangeInfo.from_json(data)
                self._info_at = time.monotonic()
                self.governor.set_limits(self._contracts.rate_limits)
            return self._contracts

    async def contract(self, symbol: str) -> FuturesContract:
        """One contract from the cache; raises `InvalidSymbol` without a request when Binance
        lists no futures contract of that name."""
        contract = (await self.exchange_info()).contracts.get(symbol)
        if contract is None:
            raise InvalidSymbol(f"Binance lists no USDⓈ-M futures contract {symbol}.")
        return contract

    # -- prices ------------------------------------------------------------------------------

    async def ticker_24hr(self, symbol: str) -> FuturesTicker24h:
        """24 h statistics of one contract (weight 1)."""
        data = await self.public("GET", "/fapi/v1/ticker/24hr", [("symbol", symbol)])
        return FuturesTicker24h.from_json(data)

    async def tickers_24hr(self) -> list[FuturesTicker24h]:
        """24 h statistics of every contract (weight 40)."""
        data = await self.public("GET", "/fapi/v1/ticker/24hr")
        return [FuturesTicker24h.from_json(item) for item in data]

    async def ticker_price(self, symbol: str) -> TickerPrice:
        """The last traded price of one contract (weight 1)."""
        data = await self.public("GET", "/fapi/v1/ticker/price", [("symbol", symbol)])
        return TickerPrice.from_json(data)

    async def ticker_prices(self) -> list[TickerPrice]:
        """The last traded prices of every contract (weight 2)."""
        data = await self.public("GET", "/fapi/v1/ticker/price")
        return [TickerPrice.from_json(item) for item in data]

    async def premium_index(self, symbol: str) -> PremiumIndex:
        """Mark and index price and funding of one contract (weight 1)."""
        data = await self.public("GET", "/fapi/v1/premiumIndex", [("symbol", symbol)])
        return PremiumIndex.from_json(data)

    async def premium_indexes(self) -> list[PremiumIndex]:
        """Mark and index price and funding of every contract (weight 10)."""
        data = await self.public("GET", "/fapi/v1/premiumIndex")
        return [PremiumIndex.from_json(item) for item in data]

    # -- funding, open interest, trades, candles -----------------------------------------------

    async def funding_rates(
        self,
        symbol: str,
        limit: int = 10,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
    ) -> list[FundingRate]:
        """Settled fundings of one contract, oldest first (`limit` at most 1000). Without a
        window Binance answers the most recent ones. Raises `RateLimited` when this client
        has used its share of the 500-calls-per-5-minutes limit."""
        self._count_funding_call()
        params = [
            ("symbol", symbol),
            ("startTime", start_time),
            ("endTime", end_time),
            ("limit", limit),
        ]
        data = await self.public("GET", "/fapi/v1/fundingRate", params)
        return [FundingRate.from_json(item) for item in data]

    async def open_interest(self, symbol: str) -> OpenInterest:
        """Open contracts of one symbol, in the base asset (weight 1)."""
        data = await self.public("GET", "/fapi/v1/openInterest", [("symbol", symbol)])
        return OpenInterest.from_json(data)

    async def trades(self, symbol: str, limit: int = 10) -> list[MarketTrade]:
        """The most recent trades of one contract, oldest first (weight 5)."""
        return await recent_trades(self, "/fapi/v1/trades", symbol, limit)

    async def klines(
        self,
        symbol: str,
        interval: str,
        limit: int = 100,
        start_time: int | None = None,
        end_time: int | None = None,
    ) -> list[Kline]:
        """Candles of one contract, oldest first (`limit` at most 1500; weight 1 below 100,
        2 below 500, 5 up to 1000, 10 beyond)."""
        return await candles(self, "/fapi/v1/klines", symbol, interval, limit, start_time, end_time)

    async def mark_price_klines(
        self,
        symbol: str,
        interval: str,
        limit: int = 100,
        start_time: int | None = None,
    ) -> list[Kline]:
        """Candles of one contract's MARK price, oldest first (weights as `klines`): prices
        only, Binance's volume fields are "0"."""
        path = "/fapi/v1/markPriceKlines"
        return await candles(self, path, symbol, interval, limit, start_time)

    def _count_funding_call(self) -> None:
        """Keep fundingRate calls under `weight_share` of Binance's 500 per 5 minutes."""
        now = time.monotonic()
        calls = self._funding_calls
        while calls and calls[0] <= now - FUNDING_WINDOW:
            calls.popleft()
        if len(calls) >= int(FUNDING_CALLS * self.governor.share):
            raise RateLimited(max(1.0, calls[0] + FUNDING_WINDOW - now))
        calls.append(now)
