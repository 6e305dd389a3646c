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
    type: str  # MARKET | LIMIT | LIMIT_MAKER
    quantity: Decimal | None = None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None
    time_in_force: str | None = None
    client_order_id: str | None = None

    def params(self, client_order_id: str) -> list[tuple[str, str]]:
        pairs: list[tuple[str, Any]] = [
            ("symbol", self.symbol),
            ("side", self.side),
            ("type", self.type),
            ("timeInForce", self.time_in_force),
            ("quantity", _plain(self.quantity)),
            ("quoteOrderQty", _plain(self.quote_order_qty)),
            ("price", _plain(self.price)),
            ("newClientOrderId", client_order_id),
            ("newOrderRespType", "FULL"),
        ]
        return [(k, v) for k, v in pairs if v is not None]


def _plain(value: Decimal | None) -> str | None:
    """A decimal as Binance accepts it: positional notation, no exponent."""
    return None if value is None else format(value, "f")
