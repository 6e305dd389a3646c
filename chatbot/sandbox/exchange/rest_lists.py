"""Signed order-list endpoints: place an OCO or OTOCO, query, list and cancel order lists.

Shapes follow Binance's documentation examples ("New Order list - OCO", "Cancel Order list",
"Query Order list", "Query Open Order lists"). A list adds its leg count (2 for an OCO, 3 for an
OTOCO) to the unfilled order count. Cancelling one leg with `DELETE /api/v3/order` cancels the
whole list and answers with the list (rest_account.py calls `cancel_body`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .accounts import Account
from .auth import Authenticator
from .gateway import PARAMS, PAYLOAD
from .limits import RateLimits, order_count_headers
from .list_params import (
    check_oco_types,
    check_symbol_allows,
    leg,
    quantity_param,
    response_type,
    side_param,
)
from .order_lists import OrderList, OrderLists
from .order_params import client_order_id
from .orders import Order
from .params import SIGNED, Params, reads
from .planning import OrderRequest
from .symbols import Catalog
from .wire import ApiError, Clock, either_param, invalid_api_key, json_response

LEG_FIELDS = ("Type", "ClientOrderId", "Price", "StopPrice", "TrailingDelta", "TimeInForce")
OCO_PARAMS = (
    *SIGNED,
    "symbol",
    "listClientOrderId",
    "side",
    "quantity",
    "newOrderRespType",
    *(f"above{name}" for name in LEG_FIELDS),
    *(f"below{name}" for name in LEG_FIELDS),
)
OTOCO_PARAMS = (
    *SIGNED,
    "symbol",
    "listClientOrderId",
    "newOrderRespType",
    "workingSide",
    "workingQuantity",
    *(f"working{name}" for name in LEG_FIELDS if name != "TrailingDelta"),
    "pendingSide",
    "pendingQuantity",
    *(f"pendingAbove{name}" for name in LEG_FIELDS),
    *(f"pendingBelow{name}" for name in LEG_FIELDS),
)


def report(order: Order, resp_type: str) -> dict[str, Any]:
    """One leg in a placement's `orderReports`."""
    return order.ack() if resp_type == "ACK" else order.result()


def cancel_body(
    order_list: OrderList, cancelled: list[tuple[Order, str]], now: int
) -> dict[str, Any]:
    """`DELETE /api/v3/orderList` (and a leg's `DELETE /api/v3/order`)."""
    reports = [leg.canceled(cancel_id, now) for leg, cancel_id in cancelled]
    return {**order_list.summary(), "orderReports": reports}


class ListRoutes:
    """The order-list REST surface over `OrderLists`."""

    def __init__(
        self,
        lists: OrderLists,
        catalog: Catalog,
        auth: Authenticator,
        limits: RateLimits,
        clock: Clock,
    ) -> None:
        self._lists = lists
        self._catalog = catalog
        self._auth = auth
        self._limits = limits
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/v3/orderList/oco", self.new_oco),
            web.post("/api/v3/orderList/otoco", self.new_otoco),
            web.get("/api/v3/orderList", self.query),
            web.delete("/api/v3/orderList", self.cancel),
            web.get("/api/v3/openOrderList", self.open_lists),
            web.get("/api/v3/allOrderList", self.all_lists),
        ]

    def _signed(self, request: web.Request, *, trade: bool = False) -> tuple[Account, Params]:
        params = request[PARAMS]
        account = self._auth.rest(request.headers.get("X-MBX-APIKEY"), params, request[PAYLOAD])
        if trade and not account.can_trade:
            raise invalid_api_key()
        return account, params

    def _placed(self, account: Account, order_list: OrderList, resp: str, count: tuple[int, int]):
        body = {
            **order_list.summary(),
            "orderReports": [report(o, resp) for o in order_list.legs],
        }
        return json_response(body, headers=order_count_headers(*count))

    @reads(*OCO_PARAMS)
    async def new_oco(self, request: web.Request) -> web.Response:
        account, params = self._signed(request, trade=True)
        spec = self._catalog.get(params.require("symbol"))
        side = side_param(params, "side")
        quantity = quantity_param(params, spec, "quantity")
        above_type, below_type = params.require("aboveType"), params.require("belowType")
        check_oco_types(side, above_type, below_type)
        check_symbol_allows(spec, "ocoAllowed", "OCO")
        above = leg(params, spec, "above", side, quantity, above_type)
        below = leg(params, spec, "below", side, quantity, below_type)
        resp = response_type(params)
        list_id = client_order_id(params, "listClientOrderId")
        count = self._count(account, 2)
        order_list = self._lists.place_oco(account, above, below, list_id)
        return self._placed(account, order_list, resp, count)

    @reads(*OTOCO_PARAMS)
    async def new_otoco(self, request: web.Request) -> web.Response:
        account, params = self._signed(request, trade=True)
        spec = self._catalog.get(params.require("symbol"))
        working = self._working(params)
        side = side_param(params, "pendingSide")
        quantity = quantity_param(params, spec, "pendingQuantity")
        above_type = params.require("pendingAboveType")
        below_type = params.require("pendingBelowType")
        check_oco_types(side, above_type, below_type)
        check_symbol_allows(spec, "otoAllowed", "OTO")
        above = leg(params, spec, "pendingAbove", side, quantity, above_type)
        below = leg(params, spec, "pendingBelow", side, quantity, below_type)
        resp = response_type(params)
        list_id = client_order_id(params, "listClientOrderId")
        count = self._count(account, 3)
        order_list = self._lists.place_otoco(account, working, above, below, list_id)
        return self._placed(account, order_list, resp, count)

    def _working(self, params: Params) -> OrderRequest:
        spec = self._catalog.get(params.require("symbol"))
        working_type = params.require("workingType")
        if working_type not in ("LIMIT", "LIMIT_MAKER"):
            raise ApiError(-1116, "Invalid orderType.")
        side = side_param(params, "workingSide")
        quantity = quantity_param(params, spec, "workingQuantity")
        return leg(params, spec, "working", side, quantity, working_type)

    def _count(self, account: Account, legs: int) -> tuple[int, int]:
        counts = (0, 0)
        for _ in range(legs):
            counts = self._limits.count_order(account.api_key, self._clock.now_ms())
        return counts

    def _find(self, account: Account, params: Params, client_name: str) -> OrderList | None:
        list_id = params.integer("orderListId")
        client_id = client_order_id(params, client_name)
        if list_id is None and client_id is None:
            raise either_param("orderListId", client_name)
        return self._lists.find(account, list_id, client_id)

    @reads(*SIGNED, "orderListId", "origClientOrderId")
    async def query(self, request: web.Request) -> web.Response:
        account, params = self._signed(request)
        order_list = self._find(account, params, "origClientOrderId")
        if order_list is None:
            raise ApiError(-2013, "Order list does not exist.")
        return json_response(order_list.summary())

    @reads(*SIGNED, "symbol", "orderListId", "listClientOrderId", "newClientOrderId")
    async def cancel(self, request: web.Request) -> web.Response:
        account, params = self._signed(request, trade=True)
        symbol = self._catalog.get(params.require("symbol")).name
        order_list = self._find(account, params, "listClientOrderId")
        if order_list is None or order_list.symbol != symbol or not order_list.is_open:
            raise ApiError(-2011, "Order list does not exist.")
        cancel_id = client_order_id(params, "newClientOrderId")
        cancelled = self._lists.cancel(account, order_list, cancel_id)
        return json_response(cancel_body(order_list, cancelled, self._clock.now_ms()))

    @reads(*SIGNED)
    async def open_lists(self, request: web.Request) -> web.Response:
        account, _ = self._signed(request)
        return json_response([o.summary() for o in self._lists.open_lists(account)])

    @reads(*SIGNED, "fromId", "startTime", "endTime", "limit")
    async def all_lists(self, request: web.Request) -> web.Response:
        account, params = self._signed(request)
        from_id = params.integer("fromId") or 0
        start, end = params.integer("startTime") or 0, params.integer("endTime")
        chosen = [
            o
            for o in self._lists.all_lists(account)
            if o.list_id >= from_id
            and o.transaction_time >= start
            and (end is None or o.transaction_time <= end)
        ]
        limit = params.limit(500, 1000)
        chosen = chosen[:limit] if from_id or start else chosen[-limit:]
        return json_response([o.summary() for o in chosen])
