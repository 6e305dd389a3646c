"""Signature checks as Binance documents them, written without the project's client.

The client signs with `chatbot/exchange/signing.py`; the simulator verifies with this module and
imports nothing from the client, so a mistake in how the client builds a payload cannot be
mirrored here and pass unnoticed (a test proves the package never imports `chatbot.exchange`).

What is signed (Binance's "SIGNED endpoint security" and "WebSocket API request security"):
- REST: the query string exactly as it arrived (still percent-encoded), without its
  `signature=...` pair, immediately followed by the raw form body (without its `signature`
  pair) — no `&` between the two.
- WebSocket API: every parameter except `signature`, sorted by name, as `name=value` joined
  with `&`; booleans as `true`/`false`; values are not percent-encoded.

How: HMAC-SHA256 as hex, compared case-insensitively (Binance: "signature is not case
sensitive"); Ed25519 and RSA (PKCS#1 v1.5 with SHA-256) as standard base64, which the REST
layer has already percent-decoded out of the query string or body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

_SIGNATURE_PAIR = "signature="


def without_signature(raw: str) -> str:
    """`raw` (`a=1&signature=...&b=2`) without its `signature` pair(s), otherwise untouched."""
    if not raw:
        return ""
    return "&".join(pair for pair in raw.split("&") if not pair.startswith(_SIGNATURE_PAIR))


def rest_payload(raw_query: str, raw_body: str = "") -> str:
    """The signed REST payload: the query string as received, then the body, no separator."""
    return without_signature(raw_query) + without_signature(raw_body)


def ws_value(value: Any) -> str:
    """A WebSocket API parameter value as it is signed (JSON booleans as `true`/`false`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def ws_payload(params: Mapping[str, Any]) -> str:
    """The signed WebSocket API payload: all parameters but `signature`, sorted by name."""
    return "&".join(
        f"{name}={ws_value(params[name])}" for name in sorted(params) if name != "signature"
    )


def verify_hmac(secret: str, payload: str, signature: str) -> bool:
    """HMAC-SHA256 of `payload` keyed by `secret`, as hex; any letter case is accepted."""
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.lower().encode())


@lru_cache(maxsize=256)
def _public_key(pem: str) -> ed25519.Ed25519PublicKey | rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise ValueError("Binance accepts Ed25519 and RSA public keys only")
    return key


def verify_public_key(public_key_pem: str, payload: str, signature: str) -> bool:
    """An Ed25519, or RSA PKCS#1 v1.5 SHA-256, signature of `payload` in standard base64."""
    try:
        raw = base64.b64decode(signature.encode(), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False
    key = _public_key(public_key_pem)
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(raw, payload.encode())
        else:
            key.verify(raw, payload.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
