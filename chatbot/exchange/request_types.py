"""What a new order carries: its parameters, and the id it is sent with.

Split from `client.py` so the client keeps to the transport; `client.py` re-exports both.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_client_order_id() -> str:
    """A random 22-character order id in Binance's own style (allowed by `^[.A-Z:/a-z0-9_-]`)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


@dataclass(frozen=True)
class OrderRequest:
    """A new order as sent to `POST /api/v3/order`; decimals are sent as plain strings."""

    symbol: str
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT | LIMIT_MAKER | STOP_LOSS[_LIMIT] | TAKE_PROFIT[_LIMIT]
    quantity: Decimal | None = None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None
    time_in_force: str | None = None
    client_order_id: str | None = None
    stop_price: Decimal | None = None  # the trigger of a STOP_LOSS* / TAKE_PROFIT* order
    trailing_delta: int | None = None  # basis points; with or instead of stop_price

    def params(self, client_order_id: str) -> list[tuple[str, str]]:
        pairs: list[tuple[str, Any]] = [
            ("symbol", self.symbol),
            ("side", self.side),
            ("type", self.type),
            ("timeInForce", default_time_in_force(self.type, self.time_in_force)),
            ("quantity", plain_decimal(self.quantity)),
            ("quoteOrderQty", plain_decimal(self.quote_order_qty)),
            ("price", plain_decimal(self.price)),
            ("stopPrice", plain_decimal(self.stop_price)),
            ("trailingDelta", self.trailing_delta),
            ("newClientOrderId", client_order_id),
            ("newOrderRespType", "FULL"),
        ]
        return [(k, v) for k, v in pairs if v is not None]


# The stop kinds that rest on the book once triggered, so Binance needs a timeInForce for them.
_STOP_LIMIT_TYPES = frozenset({"STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})


def default_time_in_force(order_type: str, given: str | None) -> str | None:
    """`given`, else GTC for a stop-limit kind (Binance refuses one without a timeInForce)."""
    if given is None and order_type in _STOP_LIMIT_TYPES:
        return "GTC"
    return given


def plain_decimal(value: Decimal | None) -> str | None:
    """A decimal as Binance accepts it: positional notation, no exponent."""
    return None if value is None else format(value, "f")
