"""Request signatures for Binance API keys: HMAC-SHA256, Ed25519 and RSA.

Binance verifies REST signatures over the percent-encoded query string concatenated with the
body, exactly as they travel on the wire; the WebSocket API signs its parameters sorted by name.
This module only signs. The exchange simulator verifies with its own code, written separately
from Binance's documentation (`chatbot/sandbox/exchange/signatures.py`), so a mistake in how
a payload is built here cannot be mirrored there and go unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from pydantic import SecretStr

from chatbot.errors import UserFacingError
from chatbot.key_types import KeyType


class KeyFormatError(UserFacingError, ValueError):
    """The secret does not fit the key type (not a PEM key, wrong algorithm, too short).
    `message` is a clause ("this PEM key is not an RSA private key") that callers build into
    their own sentence; `user_message` is a whole one."""

    @property
    def user_message(self) -> str:
        return f"That secret is not usable: {self.message}."


class Signer(Protocol):
    """Signs a payload and returns the signature as Binance expects it before URL encoding."""

    key_type: KeyType

    def sign(self, payload: str) -> str: ...


class HmacSigner:
    """HMAC-SHA256 with the secret key; lowercase hex output."""

    key_type = KeyType.HMAC

    def __init__(self, secret: SecretStr) -> None:
        value = secret.get_secret_value()
        if not value or not value.isascii() or value.isspace():
            raise KeyFormatError("an HMAC secret is a string of letters and digits")
        self._keyed = hmac.new(value.encode(), digestmod=hashlib.sha256)

    def sign(self, payload: str) -> str:
        mac = self._keyed.copy()  # the key schedule is computed once, not per request
        mac.update(payload.encode())
        return mac.hexdigest()


class Ed25519Signer:
    """Pure Ed25519 over the payload bytes; base64 output."""

    key_type = KeyType.ED25519

    def __init__(self, private_key_pem: SecretStr) -> None:
        key = _load_private_key(private_key_pem)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise KeyFormatError("this PEM key is not an Ed25519 private key")
        self._key = key

    def sign(self, payload: str) -> str:
        return base64.b64encode(self._key.sign(payload.encode())).decode()


class RsaSigner:
    """RSASSA-PKCS1-v1_5 with SHA-256; base64 output."""

    key_type = KeyType.RSA

    def __init__(self, private_key_pem: SecretStr) -> None:
        key = _load_private_key(private_key_pem)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyFormatError("this PEM key is not an RSA private key")
        if key.key_size < 2048:
            raise KeyFormatError("Binance accepts RSA keys of 2048 bits or more")
        self._key = key

    def sign(self, payload: str) -> str:
        signature = self._key.sign(payload.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


def _load_private_key(pem: SecretStr) -> Any:
    """Load a PEM private key; the error never quotes the key material."""
    try:
        return serialization.load_pem_private_key(
            pem.get_secret_value().strip().encode(), password=None
        )
    except (ValueError, TypeError):
        raise KeyFormatError(
            "the private key is not a valid unencrypted PEM key "
            "(it starts with -----BEGIN PRIVATE KEY-----)"
        ) from None


def make_signer(key_type: KeyType | str, secret: SecretStr) -> Signer:
    """Build the signer for a key type; raises KeyFormatError when the secret does not fit."""
    kind = KeyType(key_type)
    if kind is KeyType.HMAC:
        return HmacSigner(secret)
    if kind is KeyType.ED25519:
        return Ed25519Signer(secret)
    return RsaSigner(secret)


def guess_key_type(secret: SecretStr) -> KeyType:
    """A PEM private key is Ed25519 or RSA by its algorithm; anything else is an HMAC secret."""
    if "-----BEGIN" not in secret.get_secret_value():
        return KeyType.HMAC
    key = _load_private_key(secret)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return KeyType.ED25519
    if isinstance(key, rsa.RSAPrivateKey):
        return KeyType.RSA
    raise KeyFormatError("Binance keys are Ed25519 or RSA; this PEM key is neither")


def encode_params(params: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> str:
    """Percent-encode parameters in order, UTF-8, the way Binance expects them on the wire.
    Parameters whose value is None are left out.

    Equal to `urlencode(..., quote_via=quote, safe="")`; values made only of characters that
    need no quoting (most of them: numbers, symbols, enums) skip the quoting machinery, since
    this runs on every signed request.
    """
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(f"{_quote(k)}={_quote(_wire_value(v))}" for k, v in items if v is not None)


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def _quote(text: str) -> str:
    return text if _UNRESERVED.issuperset(text) else quote(text, safe="")


def _wire_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rest_payload(query: str, body: str = "") -> str:
    """The REST signature payload: the encoded query string then the body, no separator."""
    return query + body


def signature_param(signature: str) -> str:
    """The `signature=...` pair as sent: base64 signatures percent-encoded (`+`, `/`, `=`)."""
    return "signature=" + _quote(signature)


def ws_payload(params: Mapping[str, Any]) -> str:
    """The WebSocket API payload: every parameter but `signature`, sorted by name, not encoded."""
    return "&".join(f"{k}={_wire_value(v)}" for k, v in sorted(params.items()) if k != "signature")
