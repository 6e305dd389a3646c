"""Order lists: what an OCO or OTOCO carries on the wire, and the list Binance answers with.

An OCO (`POST /api/v3/orderList/oco`) is two orders on one side, one above the last price and
one below it; when either fills or triggers, Binance cancels the other. An OTOCO
(`POST /api/v3/orderList/otoco`) adds a working order in front: the OCO pair ("pending" legs)
is only placed once the working order has filled. Parameter names are Binance's: the legs'
fields are prefixed `above`/`below` (OCO) or `pendingAbove`/`pendingBelow` (OTOCO).

Decimals go out as plain strings, like a single order's (`request_types.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chatbot.exchange.models import Order
from chatbot.exchange.request_types import default_time_in_force, plain_decimal


@dataclass(frozen=True)
class ListLeg:
    """One order of a list: LIMIT_MAKER, STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT or
    TAKE_PROFIT_LIMIT. `trailing_delta` is in basis points. A *_LIMIT leg without a
    `time_in_force` is sent with GTC (Binance requires one; LIMIT_MAKER takes none)."""

    type: str
    price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_delta: int | None = None
    time_in_force: str | None = None
    client_order_id: str | None = None

    def params(self, prefix: str) -> list[tuple[str, Any]]:
        """The leg's parameters under `prefix` ("above", "pendingBelow", ...)."""
        tif = default_time_in_force(self.type, self.time_in_force)
        pairs: list[tuple[str, Any]] = [
            ("Type", self.type),
            ("ClientOrderId", self.client_order_id),
            ("Price", plain_decimal(self.price)),
            ("StopPrice", plain_decimal(self.stop_price)),
            ("TrailingDelta", self.trailing_delta),
            ("TimeInForce", tif),
        ]
        return [(prefix + name, value) for name, value in pairs if value is not None]


@dataclass(frozen=True)
class OcoRequest:
    """A new OCO on a coin held (SELL) or to be bought (BUY)."""

    symbol: str
    side: str  # BUY | SELL, both legs
    quantity: Decimal
    above: ListLeg
    below: ListLeg
    list_client_order_id: str

    def params(self) -> list[tuple[str, Any]]:
        return [
            ("symbol", self.symbol),
            ("listClientOrderId", self.list_client_order_id),
            ("side", self.side),
            ("quantity", plain_decimal(self.quantity)),
            *self.above.params("above"),
            *self.below.params("below"),
            ("newOrderRespType", "FULL"),
        ]


@dataclass(frozen=True)
class OtocoRequest:
    """An entry (the working order, LIMIT or LIMIT_MAKER) with an OCO that Binance places once
    the entry has filled; `pending_side` is the exit's side (SELL after a BUY entry)."""

    symbol: str
    working_type: str
    working_side: str
    working_price: Decimal
    working_quantity: Decimal
    working_time_in_force: str | None
    pending_side: str
    pending_quantity: Decimal
    pending_above: ListLeg
    pending_below: ListLeg
    list_client_order_id: str
    working_client_order_id: str | None = None

    def params(self) -> list[tuple[str, Any]]:
        tif = self.working_time_in_force
        if tif is None and self.working_type == "LIMIT":
            tif = "GTC"
        pairs: list[tuple[str, Any]] = [
            ("symbol", self.symbol),
            ("listClientOrderId", self.list_client_order_id),
            ("workingType", self.working_type),
            ("workingSide", self.working_side),
            ("workingClientOrderId", self.working_client_order_id),
            ("workingPrice", plain_decimal(self.working_price)),
            ("workingQuantity", plain_decimal(self.working_quantity)),
            ("workingTimeInForce", tif),
            ("pendingSide", self.pending_side),
            ("pendingQuantity", plain_decimal(self.pending_quantity)),
            *self.pending_above.params("pendingAbove"),
            *self.pending_below.params("pendingBelow"),
            ("newOrderRespType", "FULL"),
        ]
        return [(k, v) for k, v in pairs if v is not None]


@dataclass(slots=True)
class ListedOrder:
    """An entry of a list's `orders`: which order, without its state."""

    symbol: str
    order_id: int
    client_order_id: str


@dataclass(slots=True)
class OrderList:
    """An order list as Binance reports it (placement, query, open lists, cancel).

    `list_status_type` is RESPONSE, EXEC_STARTED, UPDATED or ALL_DONE; `list_order_status`
    EXECUTING, ALL_DONE or REJECT. `reports` holds the legs' full states when the answer has
    them (`orderReports`: placement and cancel), else it is empty and only `orders` says
    which orders belong to the list.
    """

    order_list_id: int
    contingency_type: str  # OCO | OTO
    list_status_type: str
    list_order_status: str
    list_client_order_id: str
    transaction_time: int
    symbol: str
    orders: list[ListedOrder] = field(default_factory=list)
    reports: list[Order] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrderList:
        return cls(
            order_list_id=int(data["orderListId"]),
            contingency_type=data["contingencyType"],
            list_status_type=data["listStatusType"],
            list_order_status=data["listOrderStatus"],
            list_client_order_id=data["listClientOrderId"],
            transaction_time=int(data["transactionTime"]),
            symbol=data["symbol"],
            orders=[
                ListedOrder(o["symbol"], int(o["orderId"]), o["clientOrderId"])
                for o in data.get("orders", [])
            ],
            reports=[Order.from_json(r) for r in data.get("orderReports", [])],
        )

    @property
    def is_open(self) -> bool:
        """The list still has a leg that may execute."""
        return self.list_order_status == "EXECUTING"
