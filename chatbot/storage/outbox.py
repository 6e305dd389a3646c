"""The outbox: the messages fired alerts owe their chats, kept in the database until Telegram
took them.

A row is queued (`queue`) in the same transaction that marks its alert fired
(`AlertRepository.fire`), so after a crash an alert is either still armed or its message is
waiting here. Each outbox sender (`chatbot/services/outbox.py`, one per replica) claims chats'
pending rows (`claim`) and records what Telegram did with them (`settle`); see
`OutboxRepository` for how several senders share the rows.

A row holds a `FiredAlert` as JSON. Rows written before `FiredAlert` existed carry the same
fields plus a `time` already worded for the chat; that word is ignored and the row's
`created_at`, the instant of the firing either way, is used instead, so a restart in the middle
of a delivery still sends them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from chatbot.storage.database import Database, Transaction

DEFAULT_CLAIM = 10.0  # seconds a sender's claim lasts unrenewed (CHATBOT_OUTBOX_CLAIM)


class AlertEvent(StrEnum):
    FIRED = "fired"
    EXPIRED = "expired"  # its `until`/`for` passed before it fired


@dataclass(frozen=True)
class FiredAlert:
    """What the chat is told about one firing, or one expiry; the handlers word it."""

    alert_id: int
    user_id: int
    symbol: str
    condition: str  # as the user typed it: "≥ 70000", "+5% (≥ 73500)", "+3% 15m"
    price: Decimal | None  # the trade (or candle close) that met it; None for an expiry
    fired_at: float  # time.time() of the firing (or the expiry)
    note: str | None = None
    repeat: bool = False
    kind: str = "price"  # alerts.kind
    params: str | None = None  # alerts.params: the condition's JSON, for the words
    measured: Decimal | None = None  # a move's %, an indicator's value, a volume's multiple
    event: AlertEvent = AlertEvent.FIRED

    def to_json(self) -> str:
        """The row's payload; `fired_at` is the row's own `created_at`."""
        return json.dumps(
            {
                "alert_id": self.alert_id,
                "user_id": self.user_id,
                "symbol": self.symbol,
                "condition": self.condition,
                "price": None if self.price is None else format(self.price, "f"),
                "note": self.note,
                "repeat": self.repeat,
                "kind": self.kind,
                "params": self.params,
                "measured": None if self.measured is None else format(self.measured, "f"),
                "event": self.event.value,
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
                price=_decimal(data["price"]),
                fired_at=float(fired_at),
                note=data.get("note"),
                repeat=bool(data.get("repeat", False)),
                kind=str(data.get("kind", "price")),
                params=data.get("params"),
                measured=_decimal(data.get("measured")),
                event=AlertEvent(data.get("event", AlertEvent.FIRED)),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
            raise ValueError(f"not a fired alert: {exc!r}") from None


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


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


@dataclass(frozen=True)
class Claim:
    """The messages one `OutboxRepository.claim` gave a sender: every pending row of each
    chat it claimed, oldest first, held by `owner` until `until` (the repository's clock)."""

    owner: str
    items: list[OutboxItem]
    until: float
    chats: int  # how many chats the claim took (damaged rows included)


class OutboxRepository:
    """The outbox, shared by any number of senders (one per replica), timed by `clock`
    (seconds since the epoch; every replica's clock must roughly agree, as claims and the
    chats' pacing are written in its readings).

    A sender claims whole chats (`claim`): every pending row of a chat, so two senders never
    send to one chat at once. A chat is free when none of its rows, whatever their state, has
    a `claimed_until` still to come; `settle` records what Telegram did and releases the claim
    in one transaction, leaving `claimed_until` at the time the chat's next message may go
    (Telegram's one message a second per chat, or a 429's retry-after), so that pacing holds
    for every sender, not only for the one that sent.

    A live sender renews its claim while it sends (`renew`). A sender that stops mid-send
    (killed, partitioned) renews and settles nothing: its claim expires within `claim_for`
    seconds and another sender claims the chat and sends its messages. Those
    messages are sent again if the first send had reached Telegram: the same as a restart in
    the middle of a delivery has always done (a row is pending until its result is written),
    and the price of not losing the messages of chats the sender had claimed but not reached.
    A send whose outcome the sender saw to be unknown is still never repeated
    (`chatbot/services/outbox.py`)."""

    def __init__(
        self,
        db: Database,
        *,
        claim_for: float = DEFAULT_CLAIM,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self.claim_for = claim_for
        self.clock = clock

    async def claim(self, owner: str, chats: int) -> Claim:
        """Claim the pending messages of up to `chats` free chats, oldest first, for `owner`:
        one conditional update. Its select (`free`, run once before the update) picks each
        free chat by its oldest pending row and locks that row (PostgreSQL, `FOR UPDATE SKIP
        LOCKED`): a second sender passes over it and, once the first commits, finds the chat
        claimed in that row itself. The update repeats the rows' condition, so a row claimed
        meanwhile is not taken twice. A row whose payload does not parse (a damaged file) is
        dropped, not returned: it would fail every round and hold its chat back."""
        now = self.clock()
        until = now + self.claim_for
        rows = await self._db.write_returning(
            "WITH free AS ("
            " SELECT head.chat_id FROM outbox AS head"
            " WHERE head.state = 'pending'"
            " AND (head.claimed_until IS NULL OR head.claimed_until <= ?)"
            " AND NOT EXISTS (SELECT 1 FROM outbox AS earlier WHERE earlier.chat_id ="
            " head.chat_id AND earlier.state = 'pending' AND earlier.id < head.id)"
            " AND NOT EXISTS (SELECT 1 FROM outbox AS held WHERE held.chat_id = head.chat_id"
            " AND held.claimed_until > ?)"
            f" ORDER BY head.id LIMIT ?{self._db.skip_locked}) "
            "UPDATE outbox SET claimed_by = ?, claimed_until = ? "
            "WHERE state = 'pending' AND (claimed_until IS NULL OR claimed_until <= ?) "
            "AND chat_id IN (SELECT chat_id FROM free) "
            "RETURNING *",
            (now, now, chats, owner, until, now),
        )
        items, damaged = [], []
        for r in sorted(rows, key=lambda r: int(r["id"])):
            try:
                items.append(_item(r, FiredAlert.from_json(r["payload"], r["created_at"])))
            except ValueError:
                damaged.append(int(r["id"]))
        if damaged:
            await self.settle(owner, damaged, done=damaged, state="dropped")
        return Claim(owner, items, until, len({int(r["chat_id"]) for r in rows}))

    async def settle(
        self,
        owner: str,
        claimed: Sequence[int],
        *,
        done: Sequence[int] = (),
        state: str | None = None,
        attempted: Sequence[int] = (),
        hold: float = 0.0,
    ) -> bool:
        """In one transaction: the rows `done` take `state` (sent, unknown, dropped) and the
        rows `attempted` stay pending, each counting an attempt; then every row of `claimed`
        is released, its chat held for `hold` seconds (until its next message may go). Only
        rows `owner` still claims are touched: False when the claim had expired and another
        sender took the chat (what this sender did then goes unrecorded; the other sends)."""
        now = self.clock()
        async with self._db.transaction() as tx:
            if done and state is not None:
                await tx.execute(
                    "UPDATE outbox SET state = ?, sent_at = ?, attempts = attempts + 1 "
                    f"WHERE claimed_by = ? AND id IN ({_marks(done)})",
                    (state, now, owner, *done),
                )
            if attempted:
                await tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1 "
                    f"WHERE claimed_by = ? AND id IN ({_marks(attempted)})",
                    (owner, *attempted),
                )
            released = await tx.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = ? "
                f"WHERE claimed_by = ? AND id IN ({_marks(claimed)})",
                (now + hold, owner, *claimed),
            )
        return released > 0

    async def renew(self, owner: str, claimed: Sequence[int]) -> float | None:
        """Hold `owner`'s claim on the rows of `claimed` it still has for another `claim_for`
        seconds; the new expiry, or None when none is held any more (it expired, and another
        sender may have the chats). A live sender renews while it sends, so a claim can be as
        short as the takeover time without a slow send being sent again by another sender."""
        now = self.clock()
        until = now + self.claim_for
        renewed = await self._db.execute(
            "UPDATE outbox SET claimed_until = ? "
            f"WHERE claimed_by = ? AND claimed_until > ? AND id IN ({_marks(claimed)})",
            (until, owner, now, *claimed),
        )
        return until if renewed else None

    async def next_due(self) -> float | None:
        """When the soonest chat with pending messages is free again (the clock's reading;
        at or before now for a chat free already), or None when nothing is pending."""
        row = await self._db.fetch_one(
            "SELECT MIN(due) AS due FROM (SELECT MAX(COALESCE(claimed_until, 0)) AS due "
            "FROM outbox WHERE chat_id IN (SELECT chat_id FROM outbox WHERE state = 'pending') "
            "GROUP BY chat_id) AS chats"
        )
        return None if row is None or row["due"] is None else float(row["due"])

    async def pending(self, limit: int = 1000) -> list[OutboxItem]:
        """Messages waiting, oldest first, claimed or not (a damaged row is left out)."""
        rows = await self._db.fetch_all(
            "SELECT * FROM outbox WHERE state = 'pending' ORDER BY id LIMIT ?", (limit,)
        )
        items = []
        for r in rows:
            try:
                items.append(_item(r, FiredAlert.from_json(r["payload"], r["created_at"])))
            except ValueError:
                continue
        return items

    async def backlog(self) -> int:
        row = await self._db.fetch_one("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")
        return int(row["n"]) if row else 0


def _marks(ids: Sequence[int]) -> str:
    return ", ".join("?" for _ in ids)


def _item(row: Any, alert: FiredAlert) -> OutboxItem:
    return OutboxItem(
        int(row["id"]),
        int(row["chat_id"]),
        int(row["user_id"]),
        row["alert_id"],
        alert,
        int(row["attempts"]),
    )
