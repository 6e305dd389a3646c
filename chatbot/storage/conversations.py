"""The /setkey conversation's step, kept in the database so the next message may reach another
replica, or this bot after a restart.

A row per user in `setkey_steps`: which answer the bot waits for (the API key, or the secret),
the API key already given (sealed by the credential vault's cipher: AES-GCM under the master
key, bound to the user and to "setkey"; the database never holds it in plain text) and when
the step expires. Any process reading the row continues the conversation; an answer that comes
after the expiry (up to `LATE_ANSWERS` after it) finds the row still there, so it is deleted
from the chat (handlers/scrub.py) and told to start again, and then the row goes.

Why not python-telegram-bot's persistence (`BasePersistence` with a persistent
ConversationHandler): PTB reads conversations and user_data from persistence once, in
`Application.initialize()`, keeps them in the process and writes them back on an interval
(`update_interval`, 60 s by default). A step written by one replica after another started is
never seen by the other, and the pending key would sit in process memory and in whatever the
persistence wrote, unsealed. A row read on each answer is what several replicas need.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from pydantic import SecretStr

from chatbot.storage.database import Database
from chatbot.storage.vault import CredentialVault

PURPOSE = "setkey"  # the sealed API key's associated data names it
TIMEOUT = 300.0  # seconds the bot waits for each answer, as PTB's conversation_timeout did
# After the expiry, a message is still taken as a late answer (deleted, told to start again) for
# this long; later it is an ordinary message again, and the row is swept by the next /setkey.
LATE_ANSWERS = TIMEOUT


class SetkeyStep(Enum):
    API_KEY = "api_key"
    SECRET = "secret"


@dataclass(frozen=True)
class Waiting:
    """The answer a user's /setkey conversation waits for; `expired`: it waited too long."""

    step: SetkeyStep
    expired: bool


class SetkeyConversations:
    """Start, advance, read and end users' /setkey conversations. `clock` is wall time (the
    rows are shared between processes): the tests move it on to reach an expiry."""

    def __init__(
        self,
        db: Database,
        vault: CredentialVault,
        *,
        timeout: float = TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._vault = vault
        self._timeout = timeout
        self._clock = clock

    async def ask_api_key(self, user_id: int) -> None:
        """Wait for the API key (a bare /setkey; starts over any step already waiting)."""
        await self._put(user_id, SetkeyStep.API_KEY, None, None)

    async def ask_secret(self, user_id: int, api_key: SecretStr) -> None:
        """Wait for the secret, holding `api_key` sealed until it comes."""
        kid, sealed = self._vault.seal_note(user_id, PURPOSE, api_key)
        await self._put(user_id, SetkeyStep.SECRET, kid, sealed)

    async def waiting(self, user_id: int) -> Waiting | None:
        """What the user's conversation waits for, also when it expired less than
        `LATE_ANSWERS` ago (`expired`); None when there is none."""
        now = self._clock()
        row = await self._db.fetch_one(
            "SELECT step, expires_at FROM setkey_steps WHERE user_id = ? AND expires_at > ?",
            (user_id, now - LATE_ANSWERS),
        )
        if row is None:
            return None
        return Waiting(SetkeyStep(row["step"]), float(row["expires_at"]) <= now)

    async def take_api_key(self, user_id: int) -> SecretStr | None:
        """End a conversation that waits for the secret, in time, and give its API key; None
        when there is no such step (it expired, was cancelled, or another message took it)."""
        rows = await self._db.write_returning(
            "DELETE FROM setkey_steps WHERE user_id = ? AND step = ? AND expires_at > ? "
            "RETURNING key_id, sealed",
            (user_id, SetkeyStep.SECRET.value, self._clock()),
        )
        if not rows or rows[0]["sealed"] is None:
            return None
        return self._vault.open_note(user_id, PURPOSE, rows[0]["key_id"], rows[0]["sealed"])

    async def end(self, user_id: int) -> bool:
        """End the user's conversation (/cancel, a late answer, a one-message /setkey); True
        when one was waiting and had not expired (an expired one is dropped all the same)."""
        rows = await self._db.write_returning(
            "DELETE FROM setkey_steps WHERE user_id = ? RETURNING expires_at", (user_id,)
        )
        return bool(rows) and float(rows[0]["expires_at"]) > self._clock()

    async def _put(
        self, user_id: int, step: SetkeyStep, kid: str | None, sealed: bytes | None
    ) -> None:
        now = self._clock()
        async with self._db.transaction() as tx:
            await tx.execute(
                "DELETE FROM setkey_steps WHERE expires_at <= ?", (now - LATE_ANSWERS,)
            )
            await tx.execute(
                """
                INSERT INTO setkey_steps (user_id, step, key_id, sealed, expires_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (user_id) DO UPDATE SET step = excluded.step,
                    key_id = excluded.key_id, sealed = excluded.sealed,
                    expires_at = excluded.expires_at
                """,
                (user_id, step.value, kid, sealed, now + self._timeout),
            )
