"""Change notices between replicas: what one replica changed that another must act on.

An alert is evaluated by the replica holding its symbol's market shard, and a user's orders are
followed by the replica holding the user's shard; a command may land on any replica. So after
the change is written, the replica that handled it says so on a channel (`Database.notify`),
and the owner, whichever it is, updates what it holds. Payloads are short text:
`created <id> <symbol> <origin>`, `deleted <id,id,...> <symbol> <origin>`, `<user_id> <origin>`,
`paused|resumed <chat_id> <origin>` (a chat gone or back, which every replica's guard asks about);
a replica ignores its own (it already did the work). A `None` delivery means notices may have
been missed (the LISTEN connection was lost): the listener reloads from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from chatbot.storage.database import Database

log = logging.getLogger(__name__)

ALERTS_CHANNEL = "chatbot_alerts"
CHATS_CHANNEL = "chatbot_chats"  # a chat paused (gone) or resumed: every replica's guard asks
KEYS_CHANNEL = "chatbot_keys"


class AlertChange(StrEnum):
    CREATED = "created"  # active again counts too (a resumed chat)
    DELETED = "deleted"  # deleted, or paused with its chat


@dataclass(frozen=True)
class AlertNotice:
    change: AlertChange
    alert_ids: tuple[int, ...]
    symbol: str


AlertListener = Callable[[AlertNotice | None], Awaitable[None]]
KeyListener = Callable[[int | None], Awaitable[None]]
ChatListener = Callable[[int | None, bool], Awaitable[None]]  # chat id, paused


class ChangeNotices:
    """Sends and hears this replica's change notices (one per process, on its database)."""

    def __init__(self, db: Database, origin: str) -> None:
        self._db = db
        self._origin = origin

    async def alerts_changed(
        self, change: AlertChange, alert_ids: Iterable[int], symbol: str
    ) -> None:
        ids = ",".join(str(i) for i in alert_ids)
        if ids:
            await self._db.notify(ALERTS_CHANNEL, f"{change.value} {ids} {symbol} {self._origin}")

    async def chat_paused(self, chat_id: int, paused: bool) -> None:
        state = "paused" if paused else "resumed"
        await self._db.notify(CHATS_CHANNEL, f"{state} {chat_id} {self._origin}")

    async def key_changed(self, user_id: int) -> None:
        await self._db.notify(KEYS_CHANNEL, f"{user_id} {self._origin}")

    async def on_alerts(self, listener: AlertListener) -> None:
        async def heard(payload: str | None) -> None:
            if payload is None:
                await listener(None)
                return
            change, ids, symbol, origin = payload.split(" ", 3)
            if origin != self._origin:
                notice = AlertNotice(AlertChange(change), tuple(map(int, ids.split(","))), symbol)
                await listener(notice)

        await self._db.listen(ALERTS_CHANNEL, heard)

    async def on_chats(self, listener: ChatListener) -> None:
        """`listener(chat_id, paused)`; `(None, False)` when notices may have been missed."""

        async def heard(payload: str | None) -> None:
            if payload is None:
                await listener(None, False)
                return
            state, chat_id, origin = payload.split(" ", 2)
            if origin != self._origin:
                await listener(int(chat_id), state == "paused")

        await self._db.listen(CHATS_CHANNEL, heard)

    async def on_keys(self, listener: KeyListener) -> None:
        async def heard(payload: str | None) -> None:
            if payload is None:
                await listener(None)
                return
            user_id, origin = payload.split(" ", 1)
            if origin != self._origin:
                await listener(int(user_id))

        await self._db.listen(KEYS_CHANNEL, heard)
