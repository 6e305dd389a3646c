"""Signed endpoints (USER_DATA and TRADE): account, orders, trades, commissions, key rights.

Every handler first authenticates (API key, signature, timing; see auth.py). TRADE endpoints
also need a key allowed to trade (-2015 otherwise). `/sapi/v1/account/apiRestrictions` exists
on mainnet only: the Spot testnet has no `/sapi`, so there it answers 404.

Each handler declares what it reads (`@reads(*SIGNED, ...)`; anything else is -1104 before
the handler runs). New orders read what order_params.py implements; Binance's other order
parameters (`icebergQty`, `strategyId`, `strategyType`, `selfTradePreventionMode`, the peg
parameters) are not simulated, so they are refused.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .accounts import Account
from .auth import Authenticator
from .engine import Engine
from .gateway import PARAMS, PAYLOAD
from .limits import RateLimits, order_count_headers
from .order_lists import OrderLists
from .order_params import client_order_id, parse_new_order
from .orders import Order
from .params import SIGNED, Params, reads
from .rest_lists import cancel_body
from .symbols import Catalog
from .wire import ZERO, ApiError, Clock, either_param, fmt, invalid_api_key, json_response

NEW_ORDER = (
    *SIGNED,
    "symbol",
    "side",
    "type",
    "timeInForce",
    "quantity",
    "quoteOrderQty",
    "price",
    "newClientOrderId",
    "newOrderRespType",
    "stopPrice",
    "trailingDelta",
)
LOOKUP = (*SIGNED, "symbol", "orderId", "origClientOrderId")
DAY_MS = 86_400_000
CANCEL_RESTRICTIONS = ("ONLY_NEW", "ONLY_PARTIALLY_FILLED")
_ZERO_RATES = {"maker": fmt(ZERO), "taker": fmt(ZERO), "buyer": fmt(ZERO), "seller": fmt(ZERO)}
_DISCOUNT = {
    "enabledForAccount": False,
    "enabledForSymbol": True,
    "discountAsset": "BNB",
    "discount": "0.25000000",
}


class AccountRoutes:
    """The signed REST surface over the matching engine."""

    def __init__(
        self,
        engine: Engine,
        lists: OrderLists,
        catalog: Catalog,
        auth: Authenticator,
        limits: RateLimits,
        clock: Clock,
    ) -> None:
        self._engine = engine
        self._lists = lists
        self._catalog = catalog
        self._auth = auth
        self._limits = limits
        self._clock = clock

    def routes(self, *, with_sapi: bool) -> list[web.RouteDef]:
        routes = [
            web.get("/api/v3/account", self.account),
            web.get("/api/v3/account/commission", self.commission),
            web.post("/api/v3/order", self.new_order),
            web.post("/api/v3/order/test", self.test_order),
            web.get("/api/v3/order", self.query_order),
            web.delete("/api/v3/order", self.cancel_order),
            web.get("/api/v3/openOrders", self.open_orders),
            web.delete("/api/v3/openOrders", self.cancel_open_orders),
            web.get("/api/v3/allOrders", self.all_orders),
            web.get("/api/v3/myTrades", self.my_trades),
            web.get("/api/v3/rateLimit/order", self.order_rate_limit),
        ]
        if with_sapi:
            routes.append(web.get("/sapi/v1/account/apiRestrictions", self.api_restrictions))
        return routes

    def _signed(self, request: web.Request, *, trade: bool = False) -> tuple[Account, Params]:
        params = request[PARAMS]
        account = self._auth.rest(request.headers.get("X-MBX-APIKEY"), params, request[PAYLOAD])
        if trade and not account.can_trade:
            raise invalid_api_key()
        return account, params

    # -- account ----------------------------------------------------------------------------

    @reads(*SIGNED, "omitZeroBalances")
    async def account(self, request: web.Request) -> web.Response:
        account, params = self._signed(request)
        omit_zero = params.boolean("omitZeroBalances")
        assets = dict.fromkeys([*self._catalog.assets(), *account.balances])
        balances = []
        for asset in assets:
            row = account.balances.get(asset)
            free, locked = (row.free, row.locked) if row else (ZERO, ZERO)
            if omit_zero and not free and not locked:
                continue
            balances.append({"asset": asset, "free": fmt(free), "locked": fmt(locked)})
        return json_response(_account_body(account, balances))

    @reads(*SIGNED, "symbol")
    async def commission(self, request: web.Request) -> web.Response:
        account, params = self._signed(request)
        spec = self._catalog.get(params.require("symbol"))
        body = {
            "symbol": spec.name,
            "standardCommission": _rates(account),
            "specialCommission": dict(_ZERO_RATES),
            "taxCommission": dict(_ZERO_RATES),
            "discount": dict(_DISCOUNT),
        }
        return json_response(body)

    @reads(*SIGNED)
    async def api_restrictions(self, request: web.Request) -> web.Response:
        account, _ = self._signed(request)
        body = {
            "ipRestrict": account.ip_restrict,
            "createTime": account.created_ms,
            "enableReading": True,
            "enableWithdrawals": account.can_withdraw,
            "enableInternalTransfer": False,
            "enableMargin": False,
            "enableFutures": False,
            "permitsUniversalTransfer": False,
            "enableVanillaOptions": False,
            "enableFixApiTrade": False,
            "enableFixReadOnly": False,
            "enableSpotAndMarginTrading": account.can_trade,
            "enablePortfolioMarginTrading": False,
        }
        return json_response(body)

    @reads(*SIGNED)
    async def order_rate_limit(self, request: web.Request) -> web.Response:
        account, _ = self._signed(request)
        ten, day = self._limits.order_counts(account.api_key, self._clock.now_ms())
        body = [
            _order_limit("SECOND", 10, self._limits.orders_per_10s, ten),
            _order_limit("DAY", 1, self._limits.orders_per_day, day),
        ]
        return json_response(body)

    # -- orders -----------------------------------------------------------------------------

    @reads(*NEW_ORDER)
    async def new_order(self, request: web.Request) -> web.Response:
        account, params = self._signed(request, trade=True)
        new = parse_new_order(params, self._catalog)
        counts = self._limits.count_order(account.api_key, self._clock.now_ms())
        order = self._engine.place(account, new.request)
        return json_response(
            order.response(new.response_type), headers=order_count_headers(*counts)
        )

    @reads(*NEW_ORDER, "computeCommissionRates")
    async def test_order(self, request: web.Request) -> web.Response:
        account, params = self._signed(request, trade=True)
        new = parse_new_order(params, self._catalog)
        self._engine.test_order(account, new.request)
        if not params.boolean("computeCommissionRates"):
            return json_response({})
        rates = {"maker": fmt(account.maker_commission), "taker": fmt(account.taker_commission)}
        zero = {"maker": fmt(ZERO), "taker": fmt(ZERO)}
        body = {
            "standardCommissionForOrder": rates,
            "specialCommissionForOrder": dict(zero),
            "taxCommissionForOrder": dict(zero),
            "discount": dict(_DISCOUNT),
        }
        return json_response(body)

    def _lookup(self, account: Account, params: Params) -> tuple[str, Order | None]:
        symbol = self._catalog.get(params.require("symbol")).name
        order_id = params.integer("orderId")
        client_id = client_order_id(params, "origClientOrderId")
        if order_id is None and client_id is None:
            raise either_param("orderId", "origClientOrderId")
        return symbol, self._engine.find(account, symbol, order_id, client_id)

    @reads(*LOOKUP)
    async def query_order(self, request: web.Request) -> web.Response:
        account, params = self._signed(request)
        _, order = self._lookup(account, params)
        if order is None:
            raise ApiError(-2013, "Order does not exist.")
        return json_response(order.query())

    @reads(*LOOKUP, "newClientOrderId", "cancelRestrictions")
    async def cancel_order(self, request: web.Request) -> web.Response:
        account, params = self._signed(request, trade=True)
        restriction = params.enum(
            "cancelRestrictions",
            CANCEL_RESTRICTIONS,
            ApiError(
                -1145, "cancelRestrictions has to be either ONLY_NEW or ONLY_PARTIALLY_FILLED."
            ),
        )
        _, order = self._lookup(account, params)
        if order is None:
            raise ApiError(-2011, "Unknown order sent.")
        wanted = {"ONLY_NEW": "NEW", "ONLY_PARTIALLY_FILLED": "PARTIALLY_FILLED"}
        if restriction is not None and order.is_open and order.status != wanted[restriction]:
            raise ApiError(-2011, "Order was not canceled due to cancel restrictions.")
        new_id = client_order_id(params, "newClientOrderId")
        order_list = self._lists.find(account, order.order_list_id, None)
        if order_list is not None and order_list.is_open:  # a leg cancels its whole list
            cancelled = self._lists.cancel(account, order_list, new_id)
            return json_response(cancel_body(order_list, cancelled, self._clock.now_ms()))
        cancel_id = self._engine.cancel(account, order, new_id)
        return json_response(order.canceled(cancel_id, self._clock.now_ms()))

    @reads(*SIGNED, "symbol")
    async def open_orders(self, request: web.Request) -> web.Response:
        account, params = self._signed(request)
        symbol = params.get("symbol")
        if symbol is not None:
            symbol = self._catalog.get(symbol).name
        return json_response([o.query() for o in self._engine.open_orders(account, symbol)])

    @reads(*SIGNED, "symbol")
    async def cancel_open_orders(self, request: web.Request) -> web.Response:
        account, params = self._signed(request, trade=True)
        symbol = self._catalog.get(params.require("symbol")).name
        orders = self._engine.open_orders(account, symbol)
        if not orders:
            raise ApiError(-2011, "Unknown order sent.")
        now = self._clock.now_ms()
        bodies: list[dict[str, Any]] = []
        for order in orders:
            order_list = self._lists.find(account, order.order_list_id, None)
            if order_list is not None and order_list.is_open:  # Binance answers with the list
                bodies.append(
                    cancel_body(order_list, self._lists.cancel(account, order_list, None), now)
                )
            elif order.is_open:
                bodies.append(order.canceled(self._engine.cancel(account, order, None), now))
        return json_response(bodies)

    @reads(*SIGNED, "symbol", "orderId", "startTime", "endTime", "limit")
    async def all_orders(self, request: web.Request) -> web.Response:
        account, params = self._signed(request)
        symbol = self._catalog.get(params.require("symbol")).name
        from_id = params.integer("orderId") or 0
        start, end = params.integer("startTime") or 0, params.integer("endTime")
        orders = [
            o
            for o in self._engine.all_orders(account)
            if o.symbol == symbol and o.order_id >= from_id and _in_window(o.time, start, end)
        ]
        limit = params.limit(500, 1000)
        chosen = orders[:limit] if from_id or start else orders[-limit:]
        return json_response([o.query() for o in chosen])

    @reads(*SIGNED, "symbol", "orderId", "startTime", "endTime", "fromId", "limit")
    async def my_trades(self, request: web.Request) -> web.Response:
        account, params = self._signed(request)
        symbol = self._catalog.get(params.require("symbol")).name
        order_id, from_id = params.integer("orderId"), params.integer("fromId")
        start, end = params.integer("startTime") or 0, params.integer("endTime")
        _check_trade_query(order_id, from_id, params.get("startTime"), end)
        if end is not None and start and end - start > DAY_MS:
            raise ApiError(-1127, "More than 24 hours between startTime and endTime.")
        rows = [
            (order, fill)
            for order, fill in self._engine.trades(account)
            if order.symbol == symbol
            and (order_id is None or order.order_id == order_id)
            and (from_id is None or fill.trade_id >= from_id)
            and _in_window(fill.time, start, end)
        ]
        rows.sort(key=lambda row: row[1].trade_id)
        limit = params.limit(500, 1000)
        chosen = rows[:limit] if from_id is not None or start else rows[-limit:]
        return json_response([order.my_trade(fill) for order, fill in chosen])


def _check_trade_query(
    order_id: int | None, from_id: int | None, start: str | None, end: int | None
) -> None:
    """Binance's allowed `myTrades` combinations besides `symbol`: one of orderId, fromId,
    startTime, endTime; startTime with endTime; orderId with fromId (-1128 otherwise)."""
    given = {
        name
        for name, value in (("o", order_id), ("f", from_id), ("s", start), ("e", end))
        if value is not None
    }
    if len(given) > 1 and given not in ({"s", "e"}, {"o", "f"}):
        raise ApiError(-1128, "Combination of optional parameters invalid.")


def _in_window(t: int, start: int, end: int | None) -> bool:
    return t >= start and (end is None or t <= end)


def _rates(account: Account) -> dict[str, str]:
    return {
        "maker": fmt(account.maker_commission),
        "taker": fmt(account.taker_commission),
        "buyer": fmt(ZERO),
        "seller": fmt(ZERO),
    }


def _order_limit(interval: str, num: int, limit: int, count: int) -> dict[str, Any]:
    return {
        "rateLimitType": "ORDERS",
        "interval": interval,
        "intervalNum": num,
        "limit": limit,
        "count": count,
    }


def _account_body(account: Account, balances: list[dict[str, str]]) -> dict[str, Any]:
    """`GET /api/v3/account`, fields in the documented order."""
    return {
        "makerCommission": int(account.maker_commission * 10_000),
        "takerCommission": int(account.taker_commission * 10_000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": _rates(account),
        "canTrade": account.can_trade,
        "canWithdraw": account.can_withdraw,
        "canDeposit": account.can_deposit,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": account.update_time,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": account.uid,
    }
