"""Reading an order list's legs: `POST /api/v3/orderList/oco` and `/orderList/otoco`.

A leg's parameters carry its prefix (`above`, `below`, `pendingAbove`, `pendingBelow`,
`working`): `<prefix>Type`, `<prefix>Price`, `<prefix>StopPrice`, `<prefix>TrailingDelta`,
`<prefix>TimeInForce`, `<prefix>ClientOrderId`. What each type needs is the single-order table
of order_params.py. The leg types (Binance's OCO rules): a SELL's above leg is LIMIT_MAKER or
TAKE_PROFIT*, its below leg STOP_LOSS*; a BUY the other way round. Otherwise -1158 "Order type
not supported in OCO.", or, for a LIMIT_MAKER on the wrong side, -1165 / -1166, and two
LIMIT_MAKER legs -1167.
"""

from __future__ import annotations

from decimal import Decimal

from .order_params import RESPONSE_TYPES, SIDES, TIME_IN_FORCE, client_order_id
from .params import Params
from .planning import OrderRequest
from .symbols import SymbolSpec
from .wire import ApiError, either_param, illegal_chars, mandatory, not_required, order_rejected

OCO_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER")
_STOPS = ("STOP_LOSS", "STOP_LOSS_LIMIT")
_TARGETS = ("LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_PRICED = ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")


def response_type(params: Params) -> str:
    """`newOrderRespType` of a list: its orderReports are RESULT-shaped unless told."""
    value = params.enum(
        "newOrderRespType", RESPONSE_TYPES, illegal_chars("newOrderRespType", "^(ACK|RESULT|FULL)$")
    )
    return value or "RESULT"


def side_param(params: Params, name: str) -> str:
    side = params.require(name)
    if side not in SIDES:
        raise ApiError(-1117, "Invalid side.")
    return side


def check_oco_types(side: str, above: str, below: str) -> None:
    """The leg types an OCO on `side` allows (see the module docstring)."""
    for leg_type in (above, below):
        if leg_type not in OCO_TYPES:
            raise ApiError(-1158, "Order type not supported in OCO.")
    if above == below == "LIMIT_MAKER":
        raise ApiError(-1167, "At least one OCO order must be contingent.")
    wanted_above, wanted_below = (_TARGETS, _STOPS) if side == "SELL" else (_STOPS, _TARGETS)
    if above in wanted_above and below in wanted_below:
        return
    if side == "SELL" and below == "LIMIT_MAKER":
        raise ApiError(-1166, "A limit order in a sell OCO must be above.")
    if side == "BUY" and above == "LIMIT_MAKER":
        raise ApiError(-1165, "A limit order in a buy OCO must be below.")
    raise ApiError(-1158, "Order type not supported in OCO.")


def check_symbol_allows(spec: SymbolSpec, flag: str, contingency: str) -> None:
    """`ocoAllowed` / `otoAllowed` false refuses the list."""
    if not spec.info.get(flag, False):
        raise order_rejected(f"{contingency} orders are not supported for this symbol.")


def leg(
    params: Params,
    spec: SymbolSpec,
    prefix: str,
    side: str,
    quantity: Decimal,
    leg_type: str,
) -> OrderRequest:
    """One leg's request from its prefixed parameters (-1102 / -1106 / -1115 as a single
    order's parameters get them, named with the prefix)."""
    price = params.decimal(f"{prefix}Price", places=spec.quote_precision)
    stop_price = params.decimal(f"{prefix}StopPrice", places=spec.quote_precision)
    delta = params.integer(f"{prefix}TrailingDelta")
    tif = params.enum(
        f"{prefix}TimeInForce", TIME_IN_FORCE, ApiError(-1115, "Invalid timeInForce.")
    )
    if leg_type in _PRICED and price is None:
        raise mandatory(f"{prefix}Price")
    if leg_type not in _PRICED and price is not None:
        raise not_required(f"{prefix}Price")
    if leg_type in ("LIMIT", "LIMIT_MAKER"):
        for name, value in (("StopPrice", stop_price), ("TrailingDelta", delta)):
            if value is not None:
                raise not_required(f"{prefix}{name}")
    elif stop_price is None and delta is None:
        raise either_param(f"{prefix}StopPrice", f"{prefix}TrailingDelta")
    if leg_type in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") and tif is None:
        raise mandatory(f"{prefix}TimeInForce")
    if leg_type not in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") and tif is not None:
        raise not_required(f"{prefix}TimeInForce")
    if delta is not None and not spec.info.get("allowTrailingStop", False):
        raise order_rejected("Trailing stop orders are not supported for this symbol.")
    return OrderRequest(
        spec=spec,
        side=side,
        type=leg_type,
        time_in_force=tif,
        quantity=quantity,
        quote_qty=None,
        price=price,
        client_order_id=client_order_id(params, f"{prefix}ClientOrderId"),
        stop_price=stop_price,
        trailing_delta=delta,
    )


def quantity_param(params: Params, spec: SymbolSpec, name: str) -> Decimal:
    value = params.decimal(name, places=spec.base_precision)
    if value is None:
        raise mandatory(name)
    return value
