"""What a REST call carries for a user: their credentials, and a new order's parameters.

Split from `client.py` so the client keeps to the transport; `client.py` re-exports both.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from chatbot.exchange.signing import KeyType, Signer, make_signer

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_client_order_id() -> str:
    """A random 22-character order id in Binance's own style (allowed by `^[.A-Z:/a-z0-9_-]`)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


@dataclass(frozen=True)
class ApiCredentials:
    """One user's API key and the signer built from its secret. The repr shows neither."""

    api_key: SecretStr
    signer: Signer
    headers: Mapping[str, str] = field(init=False, repr=False, compare=False)
    account: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The header is built once: it goes with every signed request of this user.
        key = self.api_key.get_secret_value()
        object.__setattr__(self, "headers", {"X-MBX-APIKEY": key})
        # Names the account where its orders are counted, without holding the key itself.
        object.__setattr__(self, "account", hashlib.sha256(key.encode()).hexdigest()[:16])

    @classmethod
    def create(cls, api_key: str, secret: str, key_type: KeyType | str) -> ApiCredentials:
        """Build credentials; raises `KeyFormatError` when the secret does not fit the type."""
        return cls(SecretStr(api_key), make_signer(key_type, SecretStr(secret)))

    def __repr__(self) -> str:
        return f"ApiCredentials(key_type={self.signer.key_type.value}, api_key=**********)"


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
