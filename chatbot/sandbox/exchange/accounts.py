"""Accounts: one per API key, with balances (free and locked), permissions and commissions.

An account is registered with either an HMAC secret or a PEM public key (Ed25519 or RSA), the
way a Binance key is created; the key type decides how its signatures are checked (see
signatures.py, the simulator's own verification).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from .signatures import verify_hmac, verify_public_key
from .wire import ZERO

API_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
DEFAULT_COMMISSION = Decimal("0.001")


@dataclass(slots=True)
class Balance:
    """One asset's balance; `locked` is held by open orders."""

    free: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


def key_type_of(secret: str | None, public_key_pem: str | None) -> str:
    """`hmac`, `ed25519` or `rsa`; raises ValueError unless exactly one credential fits."""
    if (secret is None) == (public_key_pem is None):
        raise ValueError("give either secret= (HMAC) or public_key_pem= (Ed25519 or RSA)")
    if secret is not None:
        if not secret:
            raise ValueError("an HMAC secret cannot be empty")
        return "hmac"
    if public_key_pem is None:
        raise ValueError("a key needs an HMAC secret or a public key")
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa"
    raise ValueError("Binance accepts Ed25519 and RSA public keys only")


@dataclass
class Account:
    """A trading account reached through one API key."""

    api_key: str
    uid: int
    key_type: str
    secret: str | None = None
    public_key_pem: str | None = None
    can_trade: bool = True
    can_withdraw: bool = False
    can_deposit: bool = True
    ip_restrict: bool = False
    maker_commission: Decimal = DEFAULT_COMMISSION
    taker_commission: Decimal = DEFAULT_COMMISSION
    created_ms: int = 0
    update_time: int = 0
    balances: dict[str, Balance] = field(default_factory=dict)

    def verify(self, payload: str, signature: str) -> bool:
        """Check a signature over `payload` with this key (HMAC hex, or base64 Ed25519/RSA)."""
        if self.secret is not None:
            return verify_hmac(self.secret, payload, signature)
        if self.public_key_pem is None:  # registration refuses a key with neither
            return False
        return verify_public_key(self.public_key_pem, payload, signature)

    def balance(self, asset: str) -> Balance:
        """The asset's balance row, created at zero on first use."""
        return self.balances.setdefault(asset, Balance())

    def free(self, asset: str) -> Decimal:
        row = self.balances.get(asset)
        return row.free if row else ZERO

    def lock(self, asset: str, amount: Decimal) -> None:
        """Move `amount` from free to locked (the caller checked it is available)."""
        row = self.balance(asset)
        row.free -= amount
        row.locked += amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        row = self.balance(asset)
        row.locked -= amount
        row.free += amount

    def credit(self, asset: str, amount: Decimal) -> None:
        self.balance(asset).free += amount

    def debit(self, asset: str, amount: Decimal, *, locked: bool = False) -> None:
        row = self.balance(asset)
        if locked:
            row.locked -= amount
        else:
            row.free -= amount
