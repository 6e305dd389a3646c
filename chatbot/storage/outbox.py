"""The outbox: the messages fired alerts owe their chats, kept in the database until Telegram
took them.

A row is queued (`queue`) in the same transaction that marks its alert fired
(`AlertRepository.fire`), so after a crash an alert is either still armed or its message is
waiting here. The outbox sender (`chatbot/services/outbox.py`) reads what is `pending` and
records what Telegram did with it (`mark`).

A row holds a `FiredAlert` as JSON. Rows written before `FiredAlert` existed carry the same
fields plus a `time` already worded for the chat; that word is ignored and the row's
`created_at`, the instant of the firing either way, is used instead, so a restart in the middle
of a delivery still sends them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from chatbot.storage.database import Database, Transaction


@dataclass(frozen=True)
class FiredAlert:
    """What the chat is told about one firing; the handlers word it."""

    alert_id: int
    user_id: int
    symbol: str
    condition: str  # as the user typed it: "≥ 70000", "+5% (≥ 73500)"
    price: Decimal  # the trade that crossed the level
    fired_at: float  # time.time() of the firing
    note: str | None = None
    repeat: bool = False

    def to_json(self) -> str:
        """The row's payload; `fired_at` is the row's own `created_at`."""
        return json.dumps(
            {
                "alert_id": self.alert_id,
                "user_id": self.user_id,
                "symbol": self.symbol,
                "condition": self.condition,
                "price": format(self.price, "f"),
                "note": self.note,
                "repeat": self.repeat,
            }
        )

    @classmethod
    def from_json(cls, payload: str, fired_at: float) -> FiredAlert:
        """Raises ValueError for a payload that is not a fired alert (a damaged row)."""
        try:
            data = json.loads(payload)
            return cls(
                alert_id=int(data["alert_id"]),
                user_id=int(data["user_id"]),
                symbol=str(data["symbol"]),
                condition=str(data["condition"]),
                price=Decimal(data["price"]),
                fired_at=float(fired_at),
                note=data.get("note"),
                repeat=bool(data.get("repeat", False)),
            )
        except (KeyError, TypeError, InvalidOperation, AttributeError) as exc:
            raise ValueError(f"not a fired alert: {exc!r}") from None


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    user_id: int
    alert_id: int | None
    alert: FiredAlert
    attempts: int


async def queue(tx: Transaction, chat_id: int, alert: FiredAlert) -> None:
    """Queue `alert`'s message for `chat_id` inside the caller's write transaction."""
    await tx.execute(
        "INSERT INTO outbox (chat_id, user_id, alert_id, payload, state, created_at) "
        "VALUES (?, ?, ?, ?, 'pending', ?)",
        (chat_id, alert.user_id, alert.alert_id, alert.to_json(), alert.fired_at),
    )


async def forget_done(tx: Transaction, before: float) -> None:
    """Inside the caller's write transaction: delete the rows that are done (sent, unknown,
    dropped) and were queued before `before` (a time.time())."""
    await tx.execute("DELETE FROM outbox WHERE state != 'pending' AND created_at < ?", (before,))


class OutboxRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def pending(self, limit: int = 1000) -> list[OutboxItem]:
        """Messages waiting, oldest first. A row whose payload does not parse (a damaged
        file) is dropped, not returned: it would fail every round and hold the rest back."""
        rows = await self._db.fetch_all(
            "SELECT * FROM outbox WHERE state = 'pending' ORDER BY id LIMIT ?", (limit,)
        )
        items, damaged = [], []
        for r in rows:
            try:
                alert = FiredAlert.from_json(r["payload"], r["created_at"])
            except ValueError:
                damaged.append(int(r["id"]))
                continue
            items.append(_item(r, alert))
        if damaged:
            await self.mark(damaged, "dropped")
        return items

    async def backlog(self) -> int:
        row = await self._db.fetch_one("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")
        return int(row["n"]) if row else 0

    async def mark(self, ids: list[int], state: str) -> None:
        async with self._db.transaction() as tx:
            for item_id in ids:
                await tx.execute(
                    "UPDATE outbox SET state = ?, sent_at = ?, attempts = attempts + 1 "
                    "WHERE id = ?",
                    (state, time.time(), item_id),
                )

    async def count_attempt(self, ids: list[int]) -> None:
        async with self._db.transaction() as tx:
            for item_id in ids:
                await tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (item_id,)
                )


def _item(row: Any, alert: FiredAlert) -> OutboxItem:
    return OutboxItem(
        int(row["id"]),
        int(row["chat_id"]),
        int(row["user_id"]),
        row["alert_id"],
        alert,
        int(row["attempts"]),
    )
