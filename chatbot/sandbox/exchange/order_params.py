"""Reading a new order's parameters: which are mandatory for which type, and Binance's errors.

| type                | mandatory                               | refused (-1106)      |
|---------------------|-----------------------------------------|----------------------|
| LIMIT               | timeInForce, quantity, price            | quoteOrderQty        |
| MARKET              | quantity or quoteOrderQty               | timeInForce, price   |
| LIMIT_MAKER         | quantity, price                         | timeInForce, q.o.qty |
| STOP_LOSS, TAKE_PROFIT | quantity, stopPrice or trailingDelta | timeInForce, price   |
| STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT | timeInForce, quantity, price, stopPrice/trailingDelta |

`stopPrice` and `trailingDelta` are refused (-1106) on the other types. A type the symbol's
`orderTypes` does not list is refused as Binance does ("... orders are not supported for this
symbol."). `newOrderRespType` defaults to FULL for MARKET and LIMIT and to ACK for the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from .params import Params
from .planning import OrderRequest
from .symbols import Catalog, SymbolSpec
from .wire import (
    ApiError,
    either_param,
    illegal_chars,
    mandatory,
    not_required,
    order_rejected,
)

SIDES = ("BUY", "SELL")
SIMULATED_TYPES = (
    "LIMIT",
    "MARKET",
    "LIMIT_MAKER",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
)
STOP_TYPES = SIMULATED_TYPES[3:]
_UNSUPPORTED = {
    "STOP_LOSS": "Stop loss orders are not supported for this symbol.",
    "STOP_LOSS_LIMIT": "Stop loss limit orders are not supported for this symbol.",
    "TAKE_PROFIT": "Take profit orders are not supported for this symbol.",
    "TAKE_PROFIT_LIMIT": "Take profit limit orders are not supported for this symbol.",
}
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
    if order_type not in SIMULATED_TYPES:
        raise ApiError(-1116, "Invalid orderType.")
    if order_type not in spec.order_types:
        raise order_rejected(_UNSUPPORTED.get(order_type, "Unsupported order combination"))
    params.enum("timeInForce", TIME_IN_FORCE, ApiError(-1115, "Invalid timeInForce."))
    response_type = params.enum(
        "newOrderRespType", RESPONSE_TYPES, illegal_chars("newOrderRespType", "^(ACK|RESULT|FULL)$")
    )
    request = _typed_request(params, spec, side, order_type)
    default_type = "FULL" if order_type in ("MARKET", "LIMIT") else "ACK"
    return NewOrder(request, response_type or default_type)


def _typed_request(params: Params, spec: SymbolSpec, side: str, order_type: str) -> OrderRequest:
    quantity = params.decimal("quantity", places=spec.base_precision)
    quote_qty = params.decimal("quoteOrderQty", places=spec.quote_precision)
    price = params.decimal("price", places=spec.quote_precision)
    time_in_force = params.get("timeInForce")
    stop_price, trailing_delta = _stop_params(params, spec, order_type)
    if order_type in ("MARKET", "STOP_LOSS", "TAKE_PROFIT"):
        _refuse(params, "timeInForce", "price")
        if order_type != "MARKET":
            _refuse(params, "quoteOrderQty")
            if quantity is None:
                raise mandatory("quantity")
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
        stop_price=stop_price,
        trailing_delta=trailing_delta,
    )


def _stop_params(
    params: Params, spec: SymbolSpec, order_type: str
) -> tuple[Decimal | None, int | None]:
    """`stopPrice` / `trailingDelta`: one of them for a stop type (-1102 when both are
    missing), neither for the others (-1106); trailing needs `allowTrailingStop`."""
    stop_price = params.decimal("stopPrice", places=spec.quote_precision)
    trailing_delta = params.integer("trailingDelta")
    if order_type not in STOP_TYPES:
        _refuse(params, "stopPrice", "trailingDelta")
        return None, None
    if stop_price is None and trailing_delta is None:
        raise either_param("stopPrice", "trailingDelta")
    if trailing_delta is not None and not spec.info.get("allowTrailingStop", False):
        raise order_rejected("Trailing stop orders are not supported for this symbol.")
    return stop_price, trailing_delta


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
