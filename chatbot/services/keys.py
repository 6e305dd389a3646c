"""Users' Binance keys: verified before they are stored, opened when a signed call needs them.

A key is stored only after a signed account call proves it works, and never when it may
withdraw funds: the bot needs to read and trade, nothing more, and a leaked key that can
withdraw empties an account.

With several replicas, a key stored or deleted on one is announced to the others by a change
notice carrying only the user id (services/notices.py): each drops its cached credentials and
tells its listeners, so the replica that follows the user's orders follows the new key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr

from chatbot.errors import UserError
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import AuthError, InvalidApiKeyFormat, InvalidSignature
from chatbot.exchange.signing import KeyFormatError
from chatbot.key_types import KeyType
from chatbot.services.notices import ChangeNotices
from chatbot.storage.database import StorageError
from chatbot.storage.vault import (
    UNREADABLE,
    CredentialVault,
    StoredCredentials,
    VaultError,
    mask,
)

log = logging.getLogger(__name__)

KeyListener = Callable[[int, ApiCredentials | None], Awaitable[None]]

SETKEY_HINT = "Add one in a private chat with the bot: /setkey API_KEY SECRET"


class NoApiKey(UserError):
    def __init__(self) -> None:
        super().__init__(f"You have no Binance API key registered yet. {SETKEY_HINT}")


class KeyUnreadable(UserError):
    """The stored key cannot be opened (the row was damaged or edited, or sealed by a master
    key that is not configured): the user must set it again."""

    def __init__(self) -> None:
        super().__init__(UNREADABLE)


class KeyRefused(UserError):
    """The key was not stored; the message says why."""


@dataclass(frozen=True)
class KeyReport:
    """What a verified key may do. `can_withdraw`/`ip_restricted` are None where unknowable."""

    key_type: KeyType
    masked_key: str
    can_trade: bool
    can_withdraw: bool | None
    ip_restricted: bool | None
    created_at: datetime | None = None

    def as_permissions(self) -> dict[str, bool | None]:
        return {
            "trade": self.can_trade,
            "withdraw": self.can_withdraw,
            "ip_restricted": self.ip_restricted,
        }


class KeyService:
    """Registers, describes and deletes users' keys; hands out signing credentials."""

    def __init__(
        self, client: BinanceClient, vault: CredentialVault, notices: ChangeNotices | None = None
    ) -> None:
        self._client = client
        self._notices = notices
        self._vault = vault
        self._cache: dict[int, ApiCredentials] = {}
        self._listeners: list[KeyListener] = []

    def add_listener(self, listener: KeyListener) -> None:
        """`listener(user_id, credentials)` is awaited after a key is stored (credentials) or
        deleted (None): the live order stream follows users' keys this way."""
        self._listeners.append(listener)

    async def _changed(self, user_id: int, credentials: ApiCredentials | None) -> None:
        for listener in self._listeners:
            await listener(user_id, credentials)
        if self._notices is not None:
            try:
                await self._notices.key_changed(user_id)
            except StorageError as exc:  # stored already: the others catch up at their reload
                log.warning("user_id=%s key change not announced: %s", user_id, type(exc).__name__)

    async def changed_elsewhere(self, user_id: int | None) -> None:
        """Another replica stored or deleted `user_id`'s key (None: notices may have been
        missed): forget the cached credentials and tell the listeners what is stored now."""
        if user_id is None:
            self._cache.clear()
            return
        self._cache.pop(user_id, None)
        try:
            credentials: ApiCredentials | None = await self.credentials(user_id)
        except NoApiKey:
            credentials = None
        except KeyUnreadable:
            return
        for listener in self._listeners:
            await listener(user_id, credentials)

    async def register(
        self, user_id: int, key_type: KeyType, api_key: SecretStr, secret: SecretStr
    ) -> KeyReport:
        """Verify the key with Binance, refuse one that can withdraw, then store it sealed."""
        credentials = _credentials(key_type, api_key, secret)
        report = await self._verify(key_type, api_key, credentials)
        if report.can_withdraw:
            raise KeyRefused(
                "This key has withdrawals enabled, so it was not stored: anyone who got hold of "
                "it could move your funds out. Create a key with reading and spot trading only "
                "(and an IP restriction), then send /setkey again."
            )
        await self._vault.store(user_id, key_type, api_key, secret, report.as_permissions())
        self._cache[user_id] = credentials
        await self._changed(user_id, credentials)
        return report

    async def _verify(
        self, key_type: KeyType, api_key: SecretStr, credentials: ApiCredentials
    ) -> KeyReport:
        try:
            account = await self._client.account(credentials)
            restrictions = await self._client.api_restrictions(credentials)
        except InvalidSignature:
            raise KeyRefused(
                "Binance refused the signature: the secret does not belong to this API key, or "
                "the key type is wrong. Nothing was stored."
            ) from None
        except (InvalidApiKeyFormat, AuthError):
            raise KeyRefused(
                "Binance does not accept this API key (unknown key, wrong network, IP not "
                "allowed, or missing permissions). Nothing was stored."
            ) from None
        return KeyReport(
            key_type=key_type,
            masked_key=mask(api_key.get_secret_value()),
            can_trade=account.can_trade
            and (restrictions is None or restrictions.enable_spot_trading),
            can_withdraw=restrictions.enable_withdrawals if restrictions else None,
            ip_restricted=restrictions.ip_restrict if restrictions else None,
        )

    async def describe(self, user_id: int) -> KeyReport:
        stored = await self._stored(user_id)
        permissions = stored.permissions
        return KeyReport(
            key_type=stored.key_type,
            masked_key=stored.masked_key,
            can_trade=bool(permissions.get("trade")),
            can_withdraw=permissions.get("withdraw"),
            ip_restricted=permissions.get("ip_restricted"),
            created_at=datetime.fromtimestamp(stored.created_at, UTC),
        )

    async def has_key(self, user_id: int) -> bool:
        return await self._vault.has_key(user_id)

    async def delete(self, user_id: int) -> bool:
        self._cache.pop(user_id, None)
        deleted = await self._vault.delete(user_id)
        await self._changed(user_id, None)
        return deleted

    async def users_with_keys(self) -> list[int]:
        return await self._vault.user_ids()

    async def credentials(self, user_id: int) -> ApiCredentials:
        """The user's signing credentials; raises `NoApiKey` when they registered none."""
        if (cached := self._cache.get(user_id)) is not None:
            return cached
        stored = await self._stored(user_id)
        credentials = _credentials(stored.key_type, stored.api_key, stored.secret)
        self._cache[user_id] = credentials
        return credentials

    async def _stored(self, user_id: int) -> StoredCredentials:
        """Raises `NoApiKey`, or `KeyUnreadable` for a row that does not open (a `UserError`,
        so every caller that skips a user without a key skips this one too)."""
        try:
            stored = await self._vault.load(user_id)
        except VaultError as exc:
            log.warning("user_id=%s: %s", user_id, exc)  # names no key, only the user id
            raise KeyUnreadable() from None
        if stored is None:
            raise NoApiKey()
        return stored


def _credentials(key_type: KeyType, api_key: SecretStr, secret: SecretStr) -> ApiCredentials:
    key = api_key.get_secret_value().strip()
    if not key or not key.isascii() or any(c.isspace() for c in key) or len(key) > 128:
        raise KeyRefused("That does not look like a Binance API key (64 letters and digits).")
    try:
        return ApiCredentials.create(key, secret.get_secret_value(), key_type)
    except KeyFormatError as exc:
        raise KeyRefused(f"The secret does not fit a {key_type.value} key: {exc}.") from None
