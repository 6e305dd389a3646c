"""Binance's order-list endpoints (OCO, OTOCO), composed into `BinanceClient`.

Split from `client.py` so each module keeps to one concern. A new list goes out like a single
new order (`place_order`): never retried, and a lost answer (a timeout, a 5xx, -1007) raises
`OrderStatusUnknown` carrying the `listClientOrderId`, so the caller looks the list up with
`order_list(list_client_order_id=...)` instead of sending it again. Binance counts each leg
against the account's ORDERS limits (an OCO is 2 orders, an OTOCO 3), and so does the pacer.
"""

from __future__ import annotations

from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import OrderNotFound
from chatbot.exchange.order_lists import OcoRequest, OrderList, OtocoRequest
from chatbot.exchange.rest import RestTransport


class OrderListEndpoints(RestTransport):
    """Place, query and cancel order lists; `BinanceClient` builds on this."""

    async def place_oco(self, credentials: ApiCredentials, request: OcoRequest) -> OrderList:
        """Place an OCO (weight 1, 2 orders). An unknown outcome raises `OrderStatusUnknown`
        whose `client_order_id` is the request's `list_client_order_id`."""
        return await self._place_list(credentials, "/api/v3/orderList/oco", request, orders=2)

    async def place_otoco(self, credentials: ApiCredentials, request: OtocoRequest) -> OrderList:
        """Place an OTOCO (weight 1, 3 orders); unknown outcomes as for `place_oco`."""
        return await self._place_list(credentials, "/api/v3/orderList/otoco", request, orders=3)

    async def order_list(
        self,
        credentials: ApiCredentials,
        *,
        order_list_id: int | None = None,
        list_client_order_id: str | None = None,
    ) -> OrderList | None:
        """One list by Binance's id or by its `listClientOrderId` (weight 4); None when
        Binance has no such list (never placed, or purged)."""
        params = [("orderListId", order_list_id), ("origClientOrderId", list_client_order_id)]
        try:
            data = await self.signed("GET", "/api/v3/orderList", credentials, params)
        except OrderNotFound:
            return None
        return OrderList.from_json(data)

    async def open_order_lists(self, credentials: ApiCredentials) -> list[OrderList]:
        """Every open order list of the account, all symbols (weight 6)."""
        data = await self.signed("GET", "/api/v3/openOrderList", credentials)
        return [OrderList.from_json(item) for item in data]

    async def cancel_order_list(
        self,
        credentials: ApiCredentials,
        symbol: str,
        *,
        order_list_id: int | None = None,
        list_client_order_id: str | None = None,
    ) -> OrderList:
        """Cancel a whole list (weight 1); the answer's `reports` are the cancelled legs."""
        params = [
            ("symbol", symbol),
            ("orderListId", order_list_id),
            ("listClientOrderId", list_client_order_id),
        ]
        data = await self.signed("DELETE", "/api/v3/orderList", credentials, params)
        return OrderList.from_json(data)

    async def _place_list(
        self,
        credentials: ApiCredentials,
        path: str,
        request: OcoRequest | OtocoRequest,
        *,
        orders: int,
    ) -> OrderList:
        """Sent once, like `place_order`: `order_id` marks it as a new order whose fate may
        be unknown, and the pacer counts `orders` orders for it."""
        list_id = request.list_client_order_id
        data = await self.signed(
            "POST", path, credentials, request.params(), order_id=list_id, order_count=orders
        )
        return OrderList.from_json(data)
