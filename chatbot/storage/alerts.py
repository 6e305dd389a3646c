"""Price alerts in the database.

Firing an alert and queuing its message in the outbox (`chatbot/storage/outbox.py`) happen in
one transaction (`fire`), so after a crash an alert is either still armed or its message is
waiting in the outbox: never fired and lost. A message leaves the outbox only once Telegram has
accepted it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chatbot.storage.database import Database
from chatbot.storage.outbox import AlertEvent, FiredAlert, OutboxRepository, forget_done, queue


class AlertDirection(StrEnum):
    """Which way the price must cross an alert's threshold (the `direction` column's values)."""

    ABOVE = "above"  # fires at or above the threshold
    BELOW = "below"  # fires at or below it


class AlertState(StrEnum):
    ACTIVE = "active"
    FIRED = "fired"  # a one-shot alert that fired
    PAUSED = "paused"  # the user blocked the bot
    DELETED = "deleted"
    EXPIRED = "expired"  # its `until`/`for` passed before it fired


@dataclass(frozen=True)
class AlertRecord:
    id: int
    user_id: int
    chat_id: int
    symbol: str
    direction: AlertDirection
    threshold: Decimal
    condition: str  # as the user typed it: "> 70000", "+5%"
    note: str | None
    repeat: bool
    cooldown: float
    state: AlertState
    created_at: float
    fired_at: float | None
    fired_price: Decimal | None
    fire_count: int
    kind: str = "price"  # services/alert_kinds.py AlertKind
    params: str | None = None  # the condition's JSON (None: a price level written before it)
    expires_at: float | None = None

    @classmethod
    def from_row(cls, row: Any) -> AlertRecord:
        return cls(
            id=int(row["id"]),
            user_id=int(row["user_id"]),
            chat_id=int(row["chat_id"]),
            symbol=row["symbol"],
            direction=AlertDirection(row["direction"]),
            threshold=Decimal(row["threshold"]),
            condition=row["condition"],
            note=row["note"],
            repeat=bool(row["repeat"]),
            cooldown=float(row["cooldown"]),
            state=AlertState(row["state"]),
            created_at=float(row["created_at"]),
            fired_at=row["fired_at"],
            fired_price=Decimal(row["fired_price"]) if row["fired_price"] else None,
            fire_count=int(row["fire_count"]),
            kind=row["kind"],
            params=row["params"],
            expires_at=None if row["expires_at"] is None else float(row["expires_at"]),
        )

    def fired(
        self,
        price: Decimal | None,
        now: float,
        measured: Decimal | None = None,
        event: AlertEvent = AlertEvent.FIRED,
    ) -> FiredAlert:
        """What the chat is told when this alert fires at `price` (or expires)."""
        return FiredAlert(
            alert_id=self.id,
            user_id=self.user_id,
            symbol=self.symbol,
            condition=self.condition,
            price=price,
            fired_at=now,
            note=self.note,
            repeat=self.repeat,
            kind=self.kind,
            params=self.params,
            measured=measured,
            event=event,
        )


class AlertLimitReached(Exception):
    """The user already has the most active alerts allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} active alerts")
        self.limit = limit


class AlertRepository:
    def __init__(self, db: Database, *, outbox: OutboxRepository | None = None) -> None:
        self._db = db
        self.outbox = outbox or OutboxRepository(db)  # where `fire` queues each alert's message

    async def create(
        self,
        *,
        user_id: int,
        chat_id: int,
        symbol: str,
        direction: AlertDirection,
        threshold: Decimal,
        condition: str,
        note: str | None,
        repeat: bool,
        cooldown: float,
        limit: int,
        kind: str = "price",
        params: str | None = None,
        expires_at: float | None = None,
    ) -> AlertRecord:
        """Insert an active alert unless the user already has `limit` active ones (raises
        AlertLimitReached). The count and the insert share one write transaction, so concurrent
        requests cannot all pass the check; the row comes back from the insert itself
        (RETURNING), as the reading connection may not see it yet."""
        async with self._db.transaction() as tx:
            await tx.lock(f"alerts:{user_id}")  # a user's creations take turns: the count holds
            row = await tx.fetch_one(
                "SELECT COUNT(*) AS n FROM alerts WHERE user_id = ? AND state = ?",
                (user_id, AlertState.ACTIVE),
            )
            if row is not None and int(row["n"]) >= limit:
                raise AlertLimitReached(limit)
            inserted = await tx.fetch_one(
                "INSERT INTO alerts (user_id, chat_id, symbol, direction, threshold, condition, "
                "note, repeat, cooldown, state, created_at, kind, params, expires_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
                (user_id, chat_id, symbol, direction, format(threshold, "f"), condition, note,
                 int(repeat), cooldown, AlertState.ACTIVE, time.time(), kind, params,
                 expires_at),
            )  # fmt: skip
        if inserted is None:
            raise RuntimeError("INSERT ... RETURNING gave no row")
        return AlertRecord.from_row(inserted)

    async def get(self, alert_id: int) -> AlertRecord | None:
        row = await self._db.fetch_one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return AlertRecord.from_row(row) if row else None

    async def for_user(self, user_id: int) -> list[AlertRecord]:
        rows = await self._db.fetch_all(
            "SELECT * FROM alerts WHERE user_id = ? AND state IN (?, ?, ?, ?) ORDER BY id",
            (user_id, AlertState.ACTIVE, AlertState.FIRED, AlertState.PAUSED, AlertState.EXPIRED),
        )
        return [AlertRecord.from_row(r) for r in rows]

    async def count_active(self, user_id: int) -> int:
        row = await self._db.fetch_one(
            "SELECT COUNT(*) AS n FROM alerts WHERE user_id = ? AND state = ?",
            (user_id, AlertState.ACTIVE),
        )
        return int(row["n"]) if row else 0

    async def active(self) -> list[AlertRecord]:
        rows = await self._db.fetch_all(
            "SELECT * FROM alerts WHERE state = ? ORDER BY id", (AlertState.ACTIVE,)
        )
        return [AlertRecord.from_row(r) for r in rows]

    async def active_pages(self, size: int = 500) -> AsyncIterator[list[AlertRecord]]:
        """Every active alert, `size` at a time in id order. Start-up reads the book this way:
        all 10,000 rows and their records at once took 9 MB of Python's arenas that stayed
        held after they were freed, each arena pinned by a few of the book's own objects made
        between them (benchmarks/lean.py); a page at a time reuses the same few arenas."""
        after = 0
        while True:
            rows = await self._db.fetch_all(
                "SELECT * FROM alerts WHERE state = ? AND id > ? ORDER BY id LIMIT ?",
                (AlertState.ACTIVE, after, size),
            )
            if not rows:
                return
            page = [AlertRecord.from_row(r) for r in rows]
            del rows
            after = page[-1].id
            yield page

    async def delete(
        self, user_id: int, alert_ids: Iterable[int] | None = None
    ) -> list[AlertRecord]:
        """Delete some (or all) of the user's alerts; returns those deleted (state DELETED).
        Which ones are the user's is decided by the update itself, on the write connection, so
        an alert created a moment ago is found and another user's id matches nothing."""
        live = (AlertState.ACTIVE, AlertState.FIRED, AlertState.PAUSED, AlertState.EXPIRED)
        sql = "UPDATE alerts SET state = ? WHERE user_id = ? AND state IN (?, ?, ?, ?)"
        params: list[Any] = [AlertState.DELETED, user_id, *live]
        if alert_ids is not None:
            wanted = sorted(set(alert_ids))
            if not wanted:
                return []
            sql += f" AND id IN ({', '.join('?' for _ in wanted)})"
            params += wanted
        rows = await self._db.write_returning(sql + " RETURNING *", params)
        return sorted((AlertRecord.from_row(r) for r in rows), key=lambda a: a.id)

    async def fire(
        self,
        alert_ids: Iterable[int],
        price: Decimal,
        now: float,
    ) -> list[AlertRecord]:
        """`fire_each` for alerts met at one price (a price level's tick)."""
        return await self.fire_each({i: (price, None) for i in alert_ids}, now)

    async def fire_each(
        self,
        firings: Mapping[int, tuple[Decimal, Decimal | None]],
        now: float,
    ) -> list[AlertRecord]:
        """Mark alerts fired, each at its (price, measured value), and queue a `FiredAlert`
        for each, all in one transaction; returns the alerts that fired, as written.

        Each firing is a conditional update, so the database decides, not the caller's book:
        the alert must still be active (one deleted or paused meanwhile is skipped, and a
        one-shot alert another replica fired first is no longer active) and, when it repeats,
        out of its cooldown (`fired_at + cooldown <= now`, the book's own rule), so two
        replicas that see the same tick fire it once. Only the rows an update returned get a
        message. The ids are updated in ascending order: two replicas firing the same alerts
        lock their rows in the same order and so never deadlock (PostgreSQL). Each alert is
        read by its own update (RETURNING), on the write connection: one created a moment
        ago is there even if the read connection lags."""
        fired: list[AlertRecord] = []
        async with self._db.transaction() as tx:
            for alert_id in sorted(firings):
                price, measured = firings[alert_id]
                row = await tx.fetch_one(
                    "UPDATE alerts SET state = CASE WHEN repeat <> 0 THEN ? ELSE ? END, "
                    "fired_at = ?, fired_price = ?, fire_count = fire_count + 1 "
                    "WHERE id = ? AND state = ? "
                    "AND (repeat = 0 OR fired_at IS NULL OR fired_at + cooldown <= ?) "
                    "RETURNING *",
                    (AlertState.ACTIVE, AlertState.FIRED, now, format(price, "f"), alert_id,
                     AlertState.ACTIVE, now),
                )  # fmt: skip
                if row is None:
                    continue  # deleted, paused or fired elsewhere meanwhile: nothing to tell
                alert = AlertRecord.from_row(row)
                await queue(tx, alert.chat_id, alert.fired(price, now, measured))
                fired.append(alert)
        return fired

    async def expire_due(self, now: float) -> list[AlertRecord]:
        """Mark the active alerts whose `expires_at` has passed expired and queue the message
        that says so, in one transaction; returns them. A conditional update, so of several
        replicas sweeping at once each alert is expired (and told) by one."""
        async with self._db.transaction() as tx:
            rows = await tx.returning(
                "UPDATE alerts SET state = ? WHERE state = ? AND expires_at IS NOT NULL "
                "AND expires_at <= ? RETURNING *",
                (AlertState.EXPIRED, AlertState.ACTIVE, now),
            )
            expired = sorted((AlertRecord.from_row(r) for r in rows), key=lambda a: a.id)
            for alert in expired:
                await queue(tx, alert.chat_id, alert.fired(None, now, event=AlertEvent.EXPIRED))
        return expired

    async def pause_chat(self, chat_id: int) -> list[int]:
        """The chat is gone for the bot: its active alerts stop firing. Returns their ids."""
        async with self._db.transaction() as tx:
            rows = await tx.returning(
                "UPDATE alerts SET state = ? WHERE chat_id = ? AND state = ? RETURNING id",
                (AlertState.PAUSED, chat_id, AlertState.ACTIVE),
            )
            return [int(row["id"]) for row in rows]

    async def resume_chat(self, chat_id: int) -> list[AlertRecord]:
        """Someone wrote from the chat again: its paused alerts are active again."""
        async with self._db.transaction() as tx:
            rows = await tx.returning(
                "UPDATE alerts SET state = ? WHERE chat_id = ? AND state = ? RETURNING *",
                (AlertState.ACTIVE, chat_id, AlertState.PAUSED),
            )
            return [AlertRecord.from_row(row) for row in rows]

    async def paused_chats(self) -> set[int]:
        rows = await self._db.fetch_all(
            "SELECT DISTINCT chat_id FROM alerts WHERE state = ?", (AlertState.PAUSED,)
        )
        return {int(r["chat_id"]) for r in rows}

    async def claim_prices_back(self, chat_ids: list[int], since: float, now: float) -> list[int]:
        """Of `chat_ids`, the chats not yet told that prices are back since the outage that began
        at `since`, each now marked told at `now`: every replica whose stream was down asks, and
        one conditional upsert per chat lets one of them tell it."""
        told = []
        async with self._db.transaction() as tx:
            for chat_id in sorted(chat_ids):
                rows = await tx.returning(
                    "INSERT INTO prices_back_told (chat_id, told_at) VALUES (?, ?) "
                    "ON CONFLICT (chat_id) DO UPDATE SET told_at = excluded.told_at "
                    "WHERE prices_back_told.told_at < ? RETURNING chat_id",
                    (chat_id, now, since),
                )
                told += [int(row["chat_id"]) for row in rows]
        return told

    async def prune(self, before: float) -> int:
        """Forget one-shot alerts that fired, and alerts deleted, before `before` (a time.time()),
        with the outbox rows that are done; returns how many alerts were forgotten."""
        async with self._db.transaction() as tx:
            forgotten = await tx.execute(
                "DELETE FROM alerts WHERE (state = ? AND fired_at < ?) "
                "OR (state = ? AND COALESCE(fired_at, created_at) < ?) "
                "OR (state = ? AND expires_at < ?)",
                (AlertState.FIRED, before, AlertState.DELETED, before, AlertState.EXPIRED, before),
            )
            await forget_done(tx, before)
            return forgotten
