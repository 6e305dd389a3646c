"""Per-user Binance credentials, encrypted at rest with AES-GCM under the master key.

Each row holds `nonce || ciphertext` of the API key and secret. The associated data binds it to
the Telegram user id and to the id of the master key that sealed it, so a row copied to another
user, or read with the wrong key, fails to decrypt instead of signing for the wrong account.
Earlier master keys (`CHATBOT_OLD_MASTER_KEYS`) still open rows until `rotate()` re-seals them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from chatbot.exchange.signing import KeyType
from chatbot.storage.db import Database

NONCE_BYTES = 12  # 96-bit nonce, fresh for every encryption


class VaultError(Exception):
    """A stored credential cannot be opened (unknown master key, or the row was tampered with)."""


@dataclass(frozen=True)
class StoredCredentials:
    """A user's key as the bot uses it; the repr never shows the key or the secret."""

    user_id: int
    key_type: KeyType
    api_key: SecretStr
    secret: SecretStr
    permissions: dict[str, Any]
    created_at: int

    @property
    def masked_key(self) -> str:
        """The API key's first and last 4 characters, enough to recognise it."""
        return mask(self.api_key.get_secret_value())


def mask(api_key: str) -> str:
    if len(api_key) <= 8:
        return "*" * len(api_key)
    return f"{api_key[:4]}…{api_key[-4:]}"


def key_id(master_key: bytes) -> str:
    """A short public id of a master key (never the key), stored beside each row it sealed."""
    return hmac.new(master_key, b"binance-chatbot master key id", hashlib.sha256).hexdigest()[:16]


class CredentialVault:
    """Store, open, delete and re-seal users' credentials."""

    def __init__(self, db: Database, master_key: bytes, old_keys: list[bytes] | None = None):
        self._db = db
        self._current = (key_id(master_key), AESGCM(master_key))
        self._keys = {key_id(k): AESGCM(k) for k in [*(old_keys or []), master_key]}

    async def store(
        self,
        user_id: int,
        key_type: KeyType,
        api_key: SecretStr,
        secret: SecretStr,
        permissions: dict[str, Any],
    ) -> None:
        """Save (or replace) a user's credentials, sealed under the current master key."""
        kid, ciphertext = self._seal(user_id, api_key, secret)
        now = int(time.time())
        await self._db.execute(
            """
            INSERT INTO credentials
                (user_id, key_type, key_id, ciphertext, permissions, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(user_id) DO UPDATE SET
                key_type = excluded.key_type, key_id = excluded.key_id,
                ciphertext = excluded.ciphertext, permissions = excluded.permissions,
                created_at = excluded.created_at, updated_at = excluded.updated_at
            """,
            (user_id, str(key_type), kid, ciphertext, json.dumps(permissions), now, now),
        )

    async def load(self, user_id: int) -> StoredCredentials | None:
        """The user's credentials, or None; raises VaultError when the row cannot be opened."""
        row = await self._db.fetch_one("SELECT * FROM credentials WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        api_key, secret = self._open(user_id, row["key_id"], row["ciphertext"])
        return StoredCredentials(
            user_id=user_id,
            key_type=KeyType(row["key_type"]),
            api_key=api_key,
            secret=secret,
            permissions=json.loads(row["permissions"]),
            created_at=int(row["created_at"]),
        )

    async def has_key(self, user_id: int) -> bool:
        row = await self._db.fetch_one("SELECT 1 FROM credentials WHERE user_id = ?", (user_id,))
        return row is not None

    async def delete(self, user_id: int) -> bool:
        """Forget a user's credentials; True when there were some."""
        return await self._db.execute("DELETE FROM credentials WHERE user_id = ?", (user_id,)) > 0

    async def user_ids(self) -> list[int]:
        rows = await self._db.fetch_all("SELECT user_id FROM credentials ORDER BY user_id")
        return [int(r["user_id"]) for r in rows]

    async def rotate(self) -> int:
        """Re-seal every row not sealed by the current master key; returns how many were."""
        current_id = self._current[0]
        rows = await self._db.fetch_all(
            "SELECT user_id, key_id, ciphertext FROM credentials WHERE key_id != ?", (current_id,)
        )
        count = 0
        for row in rows:
            user_id = int(row["user_id"])
            api_key, secret = self._open(user_id, row["key_id"], row["ciphertext"])
            kid, ciphertext = self._seal(user_id, api_key, secret)
            count += await self._db.execute(
                "UPDATE credentials SET key_id = ?, ciphertext = ?, updated_at = ? "
                "WHERE user_id = ? AND key_id = ?",
                (kid, ciphertext, int(time.time()), user_id, row["key_id"]),
            )
        return count

    def _seal(self, user_id: int, api_key: SecretStr, secret: SecretStr) -> tuple[str, bytes]:
        kid, aead = self._current
        plaintext = json.dumps(
            {"api_key": api_key.get_secret_value(), "secret": secret.get_secret_value()}
        ).encode()
        nonce = os.urandom(NONCE_BYTES)
        return kid, nonce + aead.encrypt(nonce, plaintext, _associated_data(user_id, kid))

    def _open(self, user_id: int, kid: str, blob: bytes) -> tuple[SecretStr, SecretStr]:
        aead = self._keys.get(kid)
        if aead is None:
            raise VaultError(
                f"the stored key of user {user_id} was sealed with a master key that is not "
                "configured (set it in CHATBOT_OLD_MASTER_KEYS)"
            )
        try:
            plaintext = aead.decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], _associated_data(user_id, kid)
            )
        except InvalidTag:
            raise VaultError(f"the stored key of user {user_id} does not decrypt") from None
        data = json.loads(plaintext)
        return SecretStr(data["api_key"]), SecretStr(data["secret"])


def _associated_data(user_id: int, kid: str) -> bytes:
    return f"binance-chatbot/credentials/v1|user={user_id}|key={kid}".encode()


async def rotate_database(path: str, master_key: bytes, old_keys: list[bytes]) -> int:
    """`chatbot rotate-key`: open the database, re-seal every row, return how many were."""
    db = await Database.open(path)
    try:
        return await CredentialVault(db, master_key, old_keys).rotate()
    finally:
        await db.close()
