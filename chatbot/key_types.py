"""The kinds of Binance API key, a value every layer names: the exchange signs with it, the
vault binds it into each row's associated data, the services guess it from a pasted secret.

Its own module so that storage can name a key type without importing the signing code."""

from __future__ import annotations

from enum import StrEnum


class KeyType(StrEnum):
    """The three kinds of API key Binance issues."""

    HMAC = "hmac"
    ED25519 = "ed25519"
    RSA = "rsa"
