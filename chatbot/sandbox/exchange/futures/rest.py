"""`/fapi/v1/` market-data endpoints (security type NONE), with Binance's futures shapes.

They go through the same gateway as spot (parameters read once, -1104 for a parameter the
endpoint does not read, faults, 418 bans), but spend their weight from the futures budget
(`sim.futures_limits`, 2400 a minute by default), per IP, reported in `X-MBX-USED-WEIGHT-1M`.
Weights are the futures docs': premiumIndex 1 with a symbol and 10 without, ticker/24hr
1 / 40, ticker/price 1 / 2, trades 5, klines and markPriceKlines 1, 2, 5 or 10 by `limit`.
`fundingRate` shares a separate 500-per-5-minutes budget on Binance; here it costs 1 and
that budget is not enforced (a stated simplification).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..candles import INTERVAL_MS, Candle
from ..gateway import PARAMS
from ..limits import RateLimits, Weight
from ..params import Params, reads
from ..pricepath import DAY_MS
from ..tape import Trade
from ..wire import ZERO, ApiError, Clock, json_response, mandatory
from .contracts import Contract
from .market import FuturesMarket

# Futures intervals: spot's without "1s".
FUTURES_INTERVALS = tuple(name for name in INTERVAL_MS if name != "1s")


def _klines_weight(params: Params) -> int:
    raw = params.get("limit") or "500"
    limit = int(raw) if raw.isdigit() else 500
    for ceiling, weight in ((99, 1), (499, 2), (1000, 5)):
        if limit <= ceiling:
            return weight
    return 10


def _with_symbol(one: int, every: int) -> Weight:
    return lambda params: one if params.get("symbol") else every


FUTURES_WEIGHTS: dict[tuple[str, str], Weight] = {
    ("GET", "/fapi/v1/ping"): 1,
    ("GET", "/fapi/v1/time"): 1,
    ("GET", "/fapi/v1/exchangeInfo"): 1,
    ("GET", "/fapi/v1/ticker/24hr"): _with_symbol(1, 40),
    ("GET", "/fapi/v1/ticker/price"): _with_symbol(1, 2),
    ("GET", "/fapi/v1/premiumIndex"): _with_symbol(1, 10),
    ("GET", "/fapi/v1/fundingRate"): 1,
    ("GET", "/fapi/v1/openInterest"): 1,
    ("GET", "/fapi/v1/trades"): 5,
    ("GET", "/fapi/v1/klines"): _klines_weight,
    ("GET", "/fapi/v1/markPriceKlines"): _klines_weight,
}


def futures_rate_limits(limits: RateLimits) -> list[dict[str, Any]]:
    """exchangeInfo's `rateLimits`: Binance's futures values, the weight as enforced."""
    return [
        _rule("REQUEST_WEIGHT", "MINUTE", 1, limits.weight_per_minute),
        _rule("ORDERS", "MINUTE", 1, 1200),
        _rule("ORDERS", "SECOND", 10, limits.orders_per_10s),
    ]


def _rule(kind: str, interval: str, number: int, limit: int) -> dict[str, Any]:
    return {"rateLimitType": kind, "interval": interval, "intervalNum": number, "limit": limit}


class FuturesRoutes:
    """`/fapi/v1/ping`, `time`, `exchangeInfo`, tickers, `premiumIndex`, `fundingRate`,
    `openInterest`, `trades`, `klines`, `markPriceKlines`."""

    def __init__(self, futures: FuturesMarket, clock: Clock, limits: RateLimits) -> None:
        self._futures = futures
        self._contracts = futures.contracts
        self._clock = clock
        self._limits = limits

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/fapi/v1/ping", self.ping),
            web.get("/fapi/v1/time", self.time),
            web.get("/fapi/v1/exchangeInfo", self.exchange_info),
            web.get("/fapi/v1/ticker/24hr", self.ticker_24h),
            web.get("/fapi/v1/ticker/price", self.ticker_price),
            web.get("/fapi/v1/premiumIndex", self.premium_index),
            web.get("/fapi/v1/fundingRate", self.funding_rate),
            web.get("/fapi/v1/openInterest", self.open_interest),
            web.get("/fapi/v1/trades", self.trades),
            web.get("/fapi/v1/klines", self.klines),
            web.get("/fapi/v1/markPriceKlines", self.mark_price_klines),
        ]

    def _one_or_all(self, params: Params, render: Any) -> web.Response:
        """One object for `symbol=`, else a list over every contract."""
        symbol = params.get("symbol")
        if symbol is not None:
            return json_response(render(self._contracts.get(symbol)))
        return json_response([render(contract) for contract in self._contracts])

    def _required(self, params: Params) -> Contract:
        symbol = params.get("symbol")
        if not symbol:
            raise mandatory("symbol")
        return self._contracts.get(symbol)

    @reads()
    async def ping(self, request: web.Request) -> web.Response:
        return json_response({})

    @reads()
    async def time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": self._clock.now_ms()})

    @reads()
    async def exchange_info(self, request: web.Request) -> web.Response:
        body = self._contracts.exchange_info(
            self._clock.now_ms(), futures_rate_limits(self._limits), self._futures.onboard_ms
        )
        return json_response(body)

    @reads("symbol")
    async def ticker_24h(self, request: web.Request) -> web.Response:
        return self._one_or_all(request[PARAMS], self._ticker)

    def _ticker(self, contract: Contract) -> dict[str, Any]:
        now = self._clock.now_ms()
        tape = self._futures.trades(contract)
        spot_stats = self._futures.spot_tape(contract).rolling_24h(now)
        stats = self._futures.candle(contract, spot_stats)
        last: Trade | None = tape[-1] if tape else None
        change = stats.close - stats.open
        percent = change / stats.open * 100 if stats.open else ZERO
        volume = stats.volume
        weighted = stats.quote_volume / volume if volume else stats.close
        last_id = last.id if last else 0
        return {
            "symbol": contract.name,
            "priceChange": contract.price(change),
            "priceChangePercent": f"{percent:.3f}",
            "weightedAvgPrice": contract.price(weighted),
            "lastPrice": contract.price(stats.close),
            "lastQty": contract.qty(self._futures.trade_qty(contract, last) if last else ZERO),
            "openPrice": contract.price(stats.open),
            "highPrice": contract.price(stats.high),
            "lowPrice": contract.price(stats.low),
            "volume": contract.qty(volume),
            "quoteVolume": contract.price(stats.quote_volume),
            "openTime": now - DAY_MS,
            "closeTime": now,
            "firstId": last_id - stats.trades + 1,
            "lastId": last_id,
            "count": stats.trades,
        }

    @reads("symbol")
    async def ticker_price(self, request: web.Request) -> web.Response:
        def render(contract: Contract) -> dict[str, Any]:
            price = self._futures.last_price(contract.name)
            return {
                "symbol": contract.name,
                "price": contract.price(price),
                "time": self._clock.now_ms(),
            }

        return self._one_or_all(request[PARAMS], render)

    @reads("symbol")
    async def premium_index(self, request: web.Request) -> web.Response:
        return self._one_or_all(request[PARAMS], self._futures.premium_index)

    @reads("symbol", "startTime", "endTime", "limit")
    async def funding_rate(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        symbol = params.get("symbol")
        names = [self._contracts.get(symbol).name] if symbol else self._contracts.names()
        start, end = _time_range(params)
        self._futures.settle()
        rows = self._futures.funding.select(names, start, end, params.limit(100, 1000))
        return json_response(
            [
                {
                    "symbol": row.symbol,
                    "fundingRate": f"{row.rate:.8f}",
                    "fundingTime": row.time,
                    "markPrice": f"{row.mark_price:.8f}",
                }
                for row in rows
            ]
        )

    @reads("symbol")
    async def open_interest(self, request: web.Request) -> web.Response:
        contract = self._required(request[PARAMS])
        body = {
            "openInterest": contract.qty(self._futures.open_interest(contract.name)),
            "symbol": contract.name,
            "time": self._clock.now_ms(),
        }
        return json_response(body)

    @reads("symbol", "limit")
    async def trades(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        contract = self._required(params)
        limit = params.limit(500, 1000)
        rows = self._futures.trades(contract)[-limit:]
        return json_response([self._futures.trade_row(contract, trade) for trade in rows])

    @reads("symbol", "interval", "startTime", "endTime", "limit")
    async def klines(self, request: web.Request) -> web.Response:
        return self._klines(request[PARAMS], mark=False)

    @reads("symbol", "interval", "startTime", "endTime", "limit")
    async def mark_price_klines(self, request: web.Request) -> web.Response:
        return self._klines(request[PARAMS], mark=True)

    def _klines(self, params: Params, *, mark: bool) -> web.Response:
        contract = self._required(params)
        interval = params.get("interval")
        if interval is None:
            raise mandatory("interval")
        if interval not in FUTURES_INTERVALS:
            raise ApiError(-1120, "Invalid interval.")
        start, end = _time_range(params)
        tape = self._futures.spot_tape(contract)
        candles = tape.klines(interval, self._clock.now_ms(), params.limit(500, 1500), start, end)
        rows = []
        for spot in candles:
            candle = self._futures.candle(contract, spot, mark=mark)
            rows.append(mark_row(candle) if mark else futures_row(contract, candle))
        return json_response(rows)


def _time_range(params: Params) -> tuple[int | None, int | None]:
    start = params.integer("startTime", minimum=0)
    end = params.integer("endTime", minimum=0)
    if start is not None and end is not None and start > end:
        raise ApiError(-1023, "Start time is greater than end time.")
    return start, end


def futures_row(contract: Contract, candle: Candle) -> list[Any]:
    """The 12-element array of `GET /fapi/v1/klines` (prices at pricePrecision)."""
    return [
        candle.open_time,
        contract.price(candle.open),
        contract.price(candle.high),
        contract.price(candle.low),
        contract.price(candle.close),
        contract.qty(candle.volume),
        candle.close_time,
        contract.price(candle.quote_volume),
        candle.trades,
        contract.qty(candle.taker_volume),
        contract.price(candle.taker_quote),
        "0",
    ]


def mark_row(candle: Candle) -> list[Any]:
    """`GET /fapi/v1/markPriceKlines`: prices only, the volume fields "0" (Binance's
    "Ignore"), the count of price samples in place of trades."""
    return [
        candle.open_time,
        f"{candle.open:.8f}",
        f"{candle.high:.8f}",
        f"{candle.low:.8f}",
        f"{candle.close:.8f}",
        "0",
        candle.close_time,
        "0",
        max(1, candle.trades),
        "0",
        "0",
        "0",
    ]
