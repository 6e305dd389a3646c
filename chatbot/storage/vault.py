"""Per-user Binance credentials, encrypted at rest with AES-GCM under the master key.

Each row holds `nonce || ciphertext` of the API key and secret. The associated data binds it to
the Telegram user id, the id of the master key that sealed it, the key type and the stored
permissions, so a row copied to another user, read with the wrong key, or whose key type or
permissions were edited, fails to decrypt instead of signing for the wrong account or showing
permissions Binance never reported. Earlier master keys (`CHATBOT_OLD_MASTER_KEYS`) still open
rows until `rotate()` re-seals them.

The `sealing` column says which associated data a row was sealed with: 1 (user and master key
id only, rows written before migration 5) or 2. Rows of sealing 1 are still read, and
`upgrade()`, run at every start, re-seals them as 2; a row edited to claim sealing 1 does not
decrypt, since its ciphertext was sealed with the other associated data.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from chatbot.database_url import DatabaseKind, DatabaseUrl
from chatbot.errors import UserFacingError
from chatbot.key_types import KeyType
from chatbot.storage.database import Database, open_database

log = logging.getLogger(__name__)

NONCE_BYTES = 12  # 96-bit nonce, fresh for every encryption
SEALING = 2  # the associated data new rows are sealed with; see the module docstring


UNREADABLE = (
    "Your stored Binance API key can no longer be read, so the bot cannot use it. "
    "Set it again in a private chat with the bot: /setkey API_KEY SECRET"
)


class VaultError(UserFacingError):
    """A stored credential cannot be opened (unknown master key, or the row was tampered with).
    The message is for the operator (which user, which setting); the user is told only that
    their key must be set again."""

    @property
    def user_message(self) -> str:
        return UNREADABLE


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
        stored_permissions = json.dumps(permissions)
        kid, ciphertext = self._seal(user_id, str(key_type), stored_permissions, api_key, secret)
        now = int(time.time())
        await self._db.execute(
            """
            INSERT INTO credentials (user_id, key_type, key_id, ciphertext, permissions,
                                     created_at, updated_at, sealing)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(user_id) DO UPDATE SET
                key_type = excluded.key_type, key_id = excluded.key_id,
                ciphertext = excluded.ciphertext, permissions = excluded.permissions,
                created_at = excluded.created_at, updated_at = excluded.updated_at,
                sealing = excluded.sealing
            """,
            (user_id, str(key_type), kid, ciphertext, stored_permissions, now, now, SEALING),
        )

    async def load(self, user_id: int) -> StoredCredentials | None:
        """The user's credentials, or None; raises VaultError when the row cannot be opened."""
        row = await self._db.fetch_one("SELECT * FROM credentials WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        api_key, secret = self._open(row)
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

    async def count(self) -> int:
        row = await self._db.fetch_one("SELECT COUNT(*) AS n FROM credentials")
        return int(row["n"]) if row else 0

    async def rotate(self) -> int:
        """Re-seal every row not sealed by the current master key (or with older associated
        data); returns how many were. Raises VaultError at the first row that cannot be opened,
        leaving it and the rows after it as they were."""
        rows = await self._db.fetch_all(
            "SELECT * FROM credentials WHERE key_id != ? OR sealing != ?",
            (self._current[0], SEALING),
        )
        count = 0
        for row in rows:
            count += await self._reseal(row)
        return count

    async def upgrade(self) -> int:
        """Re-seal rows written before the associated data covered the key type and the
        permissions (run at start); returns how many were. A row that cannot be opened is left
        as it is and logged: its user is told when the bot next needs the key."""
        rows = await self._db.fetch_all("SELECT * FROM credentials WHERE sealing < ?", (SEALING,))
        count = 0
        for row in rows:
            try:
                count += await self._reseal(row)
            except VaultError:
                log.warning(
                    "stored key of user_id=%s cannot be opened; left as it is", row["user_id"]
                )
        return count

    async def _reseal(self, row: Any) -> int:
        """Open `row` and write it back sealed under the current key and associated data,
        unless it changed meanwhile (a /setkey won the race: its row is already current)."""
        user_id = int(row["user_id"])
        api_key, secret = self._open(row)
        kid, ciphertext = self._seal(user_id, row["key_type"], row["permissions"], api_key, secret)
        return await self._db.execute(
            "UPDATE credentials SET key_id = ?, ciphertext = ?, sealing = ?, updated_at = ? "
            "WHERE user_id = ? AND ciphertext = ?",
            (kid, ciphertext, SEALING, int(time.time()), user_id, row["ciphertext"]),
        )

    def _seal(
        self,
        user_id: int,
        key_type: str,
        permissions: str,
        api_key: SecretStr,
        secret: SecretStr,
    ) -> tuple[str, bytes]:
        """Encrypt under the current master key; `key_type` and `permissions` exactly as they
        are stored, since the associated data is rebuilt from the row when it is opened."""
        kid, aead = self._current
        plaintext = json.dumps(
            {"api_key": api_key.get_secret_value(), "secret": secret.get_secret_value()}
        ).encode()
        nonce = os.urandom(NONCE_BYTES)
        data = _associated_data(SEALING, user_id, kid, key_type, permissions)
        return kid, nonce + aead.encrypt(nonce, plaintext, data)

    def _open(self, row: Any) -> tuple[SecretStr, SecretStr]:
        user_id, kid, blob = int(row["user_id"]), row["key_id"], row["ciphertext"]
        aead = self._keys.get(kid)
        if aead is None:
            raise VaultError(
                f"the stored key of user {user_id} was sealed with a master key that is not "
                "configured (set it in CHATBOT_OLD_MASTER_KEYS)"
            )
        data = _associated_data(
            int(row["sealing"]), user_id, kid, row["key_type"], row["permissions"]
        )
        try:
            plaintext = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], data)
        except InvalidTag:
            raise VaultError(f"the stored key of user {user_id} does not decrypt") from None
        opened = json.loads(plaintext)
        return SecretStr(opened["api_key"]), SecretStr(opened["secret"])


def _associated_data(
    sealing: int, user_id: int, kid: str, key_type: str, permissions: str
) -> bytes:
    """What a row's ciphertext is bound to. Sealing 2 is JSON, so no value can run into the
    next; sealing 1 is kept only to read rows written before it."""
    if sealing == 1:
        return f"binance-chatbot/credentials/v1|user={user_id}|key={kid}".encode()
    if sealing == 2:
        return json.dumps(
            ["binance-chatbot/credentials/v2", user_id, kid, key_type, permissions]
        ).encode()
    raise VaultError(f"the stored key of user {user_id} has an unknown sealing {sealing}")


class NothingToRotate(VaultError):
    """`chatbot rotate-key` found no database, or one with no stored key: most likely a wrong
    CHATBOT_DB, and dropping the old master key afterwards would lose every real key."""


async def rotate_database(
    target: DatabaseUrl | str,
    master_key: bytes,
    old_keys: list[bytes],
    *,
    allow_empty: bool = False,
) -> int:
    """`chatbot rotate-key`: open the database, re-seal every row, return how many were.

    Raises NothingToRotate when a SQLite file does not exist (it is not created) or the
    database holds no key, unless `allow_empty`; StorageError when a server cannot be reached.
    Messages name the database by its redacted URL, never with a password."""
    url = target if isinstance(target, DatabaseUrl) else DatabaseUrl.parse(target)
    missing = url.kind is DatabaseKind.SQLITE and not await asyncio.to_thread(
        os.path.isfile, url.target
    )
    if missing:
        if allow_empty:
            return 0
        raise NothingToRotate(
            f"there is no database at {url.redacted}: check CHATBOT_DB (nothing was created)"
        )
    db = await open_database(url)
    try:
        vault = CredentialVault(db, master_key, old_keys)
        if not allow_empty and await vault.count() == 0:
            raise NothingToRotate(
                f"the database {url.redacted} holds no stored keys: check CHATBOT_DB, or pass "
                "--allow-empty if that is expected"
            )
        return await vault.rotate()
    finally:
        await db.close()
