"""Reading a new order's parameters: which are mandatory for which type, and Binance's errors.

| type        | mandatory                        | refused (-1106)               |
|-------------|----------------------------------|-------------------------------|
| LIMIT       | timeInForce, quantity, price     | quoteOrderQty                 |
| MARKET      | quantity or quoteOrderQty        | timeInForce, price            |
| LIMIT_MAKER | quantity, price                  | timeInForce, quoteOrderQty    |

Stop and take-profit types are valid Binance enums but not simulated: they get -1116.
`newOrderRespType` defaults to FULL for MARKET and LIMIT and to ACK for LIMIT_MAKER.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .engine import OrderRequest
from .params import Params
from .symbols import Catalog, SymbolSpec
from .wire import ApiError, either_param, illegal_chars, mandatory, not_required

SIDES = ("BUY", "SELL")
SIMULATED_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
RESPONSE_TYPES = ("ACK", "RESULT", "FULL")
CLIENT_ID_LEGAL = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"
_CLIENT_ID = re.compile(CLIENT_ID_LEGAL)


@dataclass(frozen=True)
class NewOrder:
    """A parsed `POST /api/v3/order` (or `/order/test`)."""

    request: OrderRequest
    response_type: str


def parse_new_order(params: Params, catalog: Catalog) -> NewOrder:
    """Validate everything that does not need the market; raises Binance's ApiError."""
    spec = catalog.get(params.require("symbol"))
    side = params.require("side")
    if side not in SIDES:
        raise ApiError(-1117, "Invalid side.")
    order_type = params.require("type")
    if order_type not in SIMULATED_TYPES or order_type not in spec.order_types:
        raise ApiError(-1116, "Invalid orderType.")
    params.enum("timeInForce", TIME_IN_FORCE, ApiError(-1115, "Invalid timeInForce."))
    response_type = params.enum(
        "newOrderRespType", RESPONSE_TYPES, illegal_chars("newOrderRespType", "^(ACK|RESULT|FULL)$")
    )
    request = _typed_request(params, spec, side, order_type)
    default_type = "ACK" if order_type == "LIMIT_MAKER" else "FULL"
    return NewOrder(request, response_type or default_type)


def _typed_request(params: Params, spec: SymbolSpec, side: str, order_type: str) -> OrderRequest:
    quantity = params.decimal("quantity", places=spec.base_precision)
    quote_qty = params.decimal("quoteOrderQty", places=spec.quote_precision)
    price = params.decimal("price", places=spec.quote_precision)
    time_in_force = params.get("timeInForce")
    if order_type == "MARKET":
        _refuse(params, "timeInForce", "price")
        if quantity is None and quote_qty is None:
            raise either_param("quantity", "quoteOrderQty")
        if quantity is not None and quote_qty is not None:
            raise not_required("quoteOrderQty")
    else:
        _refuse(params, "quoteOrderQty")
        if order_type == "LIMIT_MAKER":
            _refuse(params, "timeInForce")
        elif time_in_force is None:
            raise mandatory("timeInForce")
        if quantity is None:
            raise mandatory("quantity")
        if price is None:
            raise mandatory("price")
    return OrderRequest(
        spec=spec,
        side=side,
        type=order_type,
        time_in_force=time_in_force,
        quantity=quantity,
        quote_qty=quote_qty,
        price=price,
        client_order_id=client_order_id(params, "newClientOrderId"),
    )


def _refuse(params: Params, *names: str) -> None:
    for name in names:
        if params.get(name) is not None:
            raise not_required(name)


def client_order_id(params: Params, name: str) -> str | None:
    """A client order id parameter, checked against Binance's pattern (-1100)."""
    value = params.get(name)
    if value is not None and _CLIENT_ID.match(value) is None:
        raise illegal_chars(name, CLIENT_ID_LEGAL)
    return value
