"""One user's API credentials: the key and the signer built from its secret.

In a module of its own so that whatever signs for a user (the REST client, the user-data
stream) takes it from here, without importing the REST client for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

from chatbot.exchange.signing import Signer, make_signer
from chatbot.key_types import KeyType


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
