"""Public market-data endpoints (security type NONE), with Binance's shapes and errors.

Each handler declares the parameters it reads (`@reads`); anything else sent is -1104.
`symbolStatus` (TRADING, HALT or BREAK) filters the tickers as Binance documents it: a single
`symbol` in another status is -1220, a list or all symbols simply leave it out. On
exchangeInfo it cannot be combined with `symbol`/`symbols`, nor can `permissions` (-1128).
Not read, so refused: klines' `timeZone` (candles are always on UTC boundaries here).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .candles import check_interval
from .gateway import PARAMS
from .limits import RateLimits
from .market import Market
from .params import Params, reads
from .payloads import Rolling, book_ticker, price_ticker, ticker_full, ticker_mini
from .symbols import Catalog, parse_status_param, parse_symbols_param
from .wire import ApiError, Clock, fmt, illegal_chars, json_response, mandatory

_STATUS_MISMATCH = "The symbol's status does not match the requested symbolStatus."
_PERMISSIONS_LEGAL = "^(SPOT|MARGIN|LEVERAGED|TRD_GRP_[0-9]{3})$ or a JSON array of them"
_TICKER = ("symbol", "symbols", "symbolStatus")


class MarketRoutes:
    """`/api/v3/ping`, `time`, `exchangeInfo`, tickers, `avgPrice`, `depth`, `trades`, `klines`."""

    def __init__(
        self, catalog: Catalog, market: Market, clock: Clock, limits: RateLimits | None = None
    ) -> None:
        self._limits = limits
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
            raise _combination()
        if symbol is not None:
            return [self._catalog.get(symbol).name]
        if symbols is not None:
            return [self._catalog.get(name).name for name in parse_symbols_param(symbols)]
        return None

    def _select(self, params: Params, render: Any) -> web.Response:
        """One object for `symbol=`, a list for `symbols=` or for all symbols, each in the
        requested `symbolStatus` if one is given."""
        names = self._names(params)
        status = parse_status_param(params.get("symbolStatus"))
        if params.get("symbol") is not None:
            if names is None:  # _names reads `symbol` whenever it is given
                raise ApiError(-1100, "Illegal characters found in parameter 'symbol'.")
            if status is not None and self._catalog.get(names[0]).status != status:
                raise ApiError(-1220, _STATUS_MISMATCH)
            return json_response(render(names[0]))
        chosen = names or self._catalog.names()
        if status is not None:
            chosen = [name for name in chosen if self._catalog.get(name).status == status]
        return json_response([render(name) for name in chosen])

    @reads()
    async def ping(self, request: web.Request) -> web.Response:
        return json_response({})

    @reads()
    async def time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": self._clock.now_ms()})

    @reads("symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus")
    async def exchange_info(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        names = self._names(params)
        status = parse_status_param(params.get("symbolStatus"))
        raw_permissions = params.get("permissions")
        if names is not None and (status is not None or raw_permissions is not None):
            raise _combination()
        permissions = None if raw_permissions is None else _permissions(raw_permissions)
        body = self._catalog.exchange_info(
            self._clock.now_ms(),
            names,
            status=status,
            permissions=permissions,
            show_permission_sets=params.boolean("showPermissionSets", default=True),
        )
        if self._limits is not None:
            body["rateLimits"] = self._limits.announced(body["rateLimits"])
        return json_response(body)

    @reads(*_TICKER)
    async def ticker_price(self, request: web.Request) -> web.Response:
        return self._select(request[PARAMS], lambda name: price_ticker(self._market, name))

    @reads(*_TICKER)
    async def ticker_book(self, request: web.Request) -> web.Response:
        return self._select(request[PARAMS], lambda name: book_ticker(self._market, name))

    @reads(*_TICKER, "type")
    async def ticker_24h(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        kind = params.get("type") or "FULL"
        if kind not in ("FULL", "MINI"):
            raise illegal_chars("type", "^(FULL|MINI)$")
        render = ticker_full if kind == "FULL" else ticker_mini
        now = self._clock.now_ms()
        return self._select(params, lambda name: render(Rolling(self._market, name, now)))

    @reads("symbol")
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

    @reads("symbol", "limit")
    async def depth(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        spec = self._catalog.get(params.require("symbol"))
        update_id, bids, asks = self._market.depth(spec.name, params.limit(100, 5000))
        return json_response({"lastUpdateId": update_id, "bids": bids, "asks": asks})

    @reads("symbol", "limit")
    async def trades(self, request: web.Request) -> web.Response:
        params = request[PARAMS]
        spec = self._catalog.get(params.require("symbol"))
        limit = params.limit(500, 1000)
        tape = self._market.symbol(spec.name).tape
        return json_response([trade.rest() for trade in tape.trades[-limit:]])

    @reads("symbol", "interval", "startTime", "endTime", "limit")
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


def _permissions(raw: str) -> list[str]:
    """`permissions=SPOT` or `permissions=["MARGIN","LEVERAGED"]`; anything else is -1100."""
    try:
        value = json.loads(raw) if raw.startswith("[") else [raw]
    except ValueError:
        value = None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise illegal_chars("permissions", _PERMISSIONS_LEGAL)
    return value


def _combination() -> ApiError:
    return ApiError(-1128, "Combination of optional parameters invalid.")
