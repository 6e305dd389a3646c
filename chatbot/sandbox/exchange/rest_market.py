"""Public market-data endpoints (security type NONE), with Binance's shapes and errors."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .candles import check_interval
from .gateway import PARAMS
from .market import Market
from .params import Params
from .payloads import Rolling, book_ticker, price_ticker, ticker_full, ticker_mini
from .symbols import Catalog, parse_symbols_param
from .wire import ApiError, Clock, fmt, illegal_chars, json_response, mandatory


class MarketRoutes:
    """`/api/v3/ping`, `time`, `exchangeInfo`, tickers, `avgPrice`, `depth`, `trades`, `klines`."""

    def __init__(self, catalog: Catalog, market: Market, clock: Clock) -> None:
        self._catalog = catalog
        self._market = market
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v3/ping", self.ping),
            web.get("/api/v3/time", self.time),
            web.get("/api/v3/exchangeInfo", self.exchange_info),
            web.get("/api/v3/ticker/price", self.ticker_price),
            web.get("/api/v3/ticker/bookTicker", self.ticker_book),
            web.get("/api/v3/ticker/24hr", self.ticker_24h),
            web.get("/api/v3/avgPrice", self.avg_price),
            web.get("/api/v3/depth", self.depth),
            web.get("/api/v3/trades", self.trades),
            web.get("/api/v3/klines", self.klines),
        ]

    def _names(self, params: Params) -> list[str] | None:
        """`symbol=X` -> [X], `symbols=[...]` -> the list, neither -> None (all); each known."""
        symbol, symbols = params.get("symbol"), params.get("symbols")
        if symbol is not None and symbols is not None:
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        if symbol is not None:
            return [self._catalog.get(symbol).name]
        if symbols is not None:
            return [self._catalog.get(name).name for name in parse_symbols_param(symbols)]
        return None

    def _select(self, params: Params, render: Any) -> web.Response:
        """One object for `symbol=`, a list for `symbols=` or for all symbols."""
        names = self._names(params)
        if params.get("symbol") is not None:
            assert names is not None
            return json_response(render(names[0]))
        return json_response([render(name) for name in names or self._catalog.names()])

    async def ping(self, request: web.Request) -> web.Response:
        return json_response({})

    async def time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": self._clock.now_ms()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        names = self._names(request[PARAMS])
        return json_response(self._catalog.exchange_info(self._clock.now_ms(), names))

    async def ticker_price(self, request: web.Request) -> web.Response:
        return self._select(request[PARAMS], lambda name: price_ticker(self._market, name))

    async def ticker_book(self, request: web.Request) -> web.Response:
        return self._select(request[PARAMS], lambda name: book_ticker(self._market, name))

    async def ticker_24h(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        kind = params.get("type") or "FULL"
        if kind not in ("FULL", "MINI"):
            raise illegal_chars("type", "^(FULL|MINI)$")
        render = ticker_full if kind == "FULL" else ticker_mini
        now = self._clock.now_ms()
        return self._select(params, lambda name: render(Rolling(self._market, name, now)))

    async def avg_price(self, request: web.Request) -> web.Response:
        spec = self._catalog.get(request[PARAMS].require("symbol"))
        tape = self._market.symbol(spec.name).tape
        close_time = tape.trades[-1].time if tape.trades else self._clock.now_ms()
        body = {
            "mins": spec.avg_price_mins,
            "price": fmt(self._market.avg_price(spec.name)),
            "closeTime": close_time,
        }
        return json_response(body)

    async def depth(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        spec = self._catalog.get(params.require("symbol"))
        update_id, bids, asks = self._market.depth(spec.name, params.limit(100, 5000))
        return json_response({"lastUpdateId": update_id, "bids": bids, "asks": asks})

    async def trades(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        spec = self._catalog.get(params.require("symbol"))
        limit = params.limit(500, 1000)
        tape = self._market.symbol(spec.name).tape
        return json_response([trade.rest() for trade in tape.trades[-limit:]])

    async def klines(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        spec = self._catalog.get(params.require("symbol"))
        interval = params.get("interval")
        if interval is None:
            raise mandatory("interval")
        check_interval(interval)
        start = params.integer("startTime", minimum=0)
        end = params.integer("endTime", minimum=0)
        if start is not None and end is not None and start > end:
            raise ApiError(-1023, "Start time is greater than end time.")
        tape = self._market.symbol(spec.name).tape
        candles = tape.klines(interval, self._clock.now_ms(), params.limit(500, 1000), start, end)
        return json_response([candle.rest_row() for candle in candles])
