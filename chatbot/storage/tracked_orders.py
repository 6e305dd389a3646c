"""Every order the bot follows for a user, and how much of it the user has been told.

An order's news can reach the bot several ways at once: the answer to the confirmation, the
user-data stream, a lookup after a lost answer, a re-read after a gap or a restart. Whichever
arrives first tells the user; the others find nothing new. `advance` decides that in one write
transaction (read and update on the writer connection), so two sources can never both tell the
same fill, and none is lost: what was told is on disk before anyone is told.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from chatbot.storage.database import Database

FINAL_STATUSES = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"})


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order as last seen on Binance (from any answer or event)."""

    symbol: str
    order_id: int
    client_id: str
    side: str
    order_type: str
    quantity: Decimal
    status: str
    executed: Decimal
    price: Decimal = Decimal(0)
    time_in_force: str | None = None
    created_ms: int | None = None  # when the order was placed (Binance time)
    quote: Decimal = Decimal(0)  # quote asset filled so far
    order_list_id: int | None = None  # the OCO/OTOCO it is a leg of
    stop_price: Decimal | None = None  # a stop or take-profit order's trigger
    trailing_delta: int | None = None  # basis points

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class Told:
    """What the user had been told of an order: the quantity filled, and whether it ended."""

    executed: Decimal
    final: bool
    first_seen: bool = False


@dataclass(frozen=True, slots=True)
class TrackedOrder:
    user_id: int
    symbol: str
    order_id: int
    client_id: str
    ticket_id: str | None
    status: str
    executed: Decimal
    side: str = ""
    order_type: str = ""
    quantity: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    time_in_force: str | None = None
    created_ms: int | None = None
    quote: Decimal = Decimal(0)
    updated_ms: int | None = None  # when the bot last recorded it (epoch ms, its own clock)
    order_list_id: int | None = None
    stop_price: Decimal | None = None
    trailing_delta: int | None = None


class TrackedOrderRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def advance(
        self, user_id: int, state: OrderState, *, ticket_id: str | None = None
    ) -> Told | None:
        """Record `state` and mark it told. Returns what had been told before when `state`
        is news (more filled, or the order ended), None when the user already knows it.

        An answer older than what is recorded (less filled: a re-read that crossed a stream
        event) does not roll the recorded fill back."""
        async with self._db.transaction() as tx:
            # Two tellers of one order (a stream event, a re-read; two replicas) take turns, so
            # each reads what the other told, even before the first one inserted the row.
            await tx.lock(f"tracked_orders:{user_id}:{state.symbol}:{state.order_id}")
            row = await tx.fetch_one(
                "SELECT told_qty, told_final, status, executed, quote FROM tracked_orders "
                "WHERE user_id = ? AND symbol = ? AND order_id = ?",
                (user_id, state.symbol, state.order_id),
            )
            if row and Decimal(row["executed"]) > state.executed:
                state = replace(
                    state,
                    status=row["status"],
                    executed=Decimal(row["executed"]),
                    quote=Decimal(row["quote"] or 0),
                )
            before = (
                Told(Decimal(row["told_qty"]), bool(row["told_final"]))
                if row
                else Told(Decimal(0), False, first_seen=True)
            )
            news = state.executed > before.executed or (state.is_final and not before.final)
            told_qty = max(state.executed, before.executed)
            told_final = before.final or state.is_final
            await tx.execute(
                "INSERT INTO tracked_orders (user_id, symbol, order_id, client_id, ticket_id, "
                "side, order_type, quantity, status, is_open, executed, told_qty, told_final, "
                "updated_at, price, time_in_force, created_ms, quote, order_list_id, stop_price, "
                "trailing_delta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (user_id, symbol, order_id) DO UPDATE SET "
                "status = excluded.status, is_open = excluded.is_open, "
                "executed = excluded.executed, told_qty = excluded.told_qty, "
                "told_final = excluded.told_final, updated_at = excluded.updated_at, "
                "quantity = excluded.quantity, quote = excluded.quote, "
                "price = COALESCE(excluded.price, tracked_orders.price), "
                "time_in_force = COALESCE(tracked_orders.time_in_force, excluded.time_in_force), "
                "created_ms = COALESCE(tracked_orders.created_ms, excluded.created_ms), "
                "order_list_id = COALESCE(tracked_orders.order_list_id, excluded.order_list_id), "
                "stop_price = COALESCE(tracked_orders.stop_price, excluded.stop_price), "
                "trailing_delta = COALESCE(tracked_orders.trailing_delta, "
                "excluded.trailing_delta), "
                "ticket_id = COALESCE(tracked_orders.ticket_id, excluded.ticket_id)",
                (
                    user_id, state.symbol, state.order_id, state.client_id, ticket_id,
                    state.side, state.order_type, _text(state.quantity), state.status,
                    int(not told_final), _text(state.executed), _text(told_qty),
                    int(told_final), time.time(), _text(state.price), state.time_in_force,
                    state.created_ms, _text(state.quote), state.order_list_id,
                    None if state.stop_price is None else _text(state.stop_price),
                    state.trailing_delta,
                ),
            )  # fmt: skip
        return before if news else None

    async def open_orders(self, user_id: int) -> list[TrackedOrder]:
        """The user's orders that were open when last seen, oldest first (as Binance lists
        them; without the ORDER BY, PostgreSQL would list a row last once it was updated)."""
        rows = await self._db.fetch_all(
            "SELECT * FROM tracked_orders WHERE user_id = ? AND is_open = 1 "
            "ORDER BY COALESCE(created_ms, 0), symbol, order_id",  # NULLs sort apart per engine
            (user_id,),
        )
        return [_tracked(r) for r in rows]

    async def close_unlisted(self, user_id: int, listed: set[int], read_at: float) -> int:
        """A read of every open order (started at `read_at`, epoch seconds) did not list
        these: those last recorded open before the read are open no longer. What the user was
        told is left as it was, so a late event still tells how the order ended. Each update
        checks again that the row is still open and older than the read, so an order another
        replica recorded meanwhile is left alone; returns how many were closed here."""
        rows = await self._db.fetch_all(
            "SELECT symbol, order_id FROM tracked_orders "
            "WHERE user_id = ? AND is_open = 1 AND updated_at < ?",
            (user_id, read_at),
        )
        gone = [(r["symbol"], int(r["order_id"])) for r in rows if int(r["order_id"]) not in listed]
        closed = 0
        async with self._db.transaction() as tx:
            for symbol, order_id in gone:
                closed += await tx.execute(
                    "UPDATE tracked_orders SET is_open = 0 WHERE user_id = ? AND symbol = ? "
                    "AND order_id = ? AND is_open = 1 AND updated_at < ?",
                    (user_id, symbol, order_id, read_at),
                )
        return closed

    async def known_ids(self, user_id: int, symbol: str) -> set[int]:
        rows = await self._db.fetch_all(
            "SELECT order_id FROM tracked_orders WHERE user_id = ? AND symbol = ?",
            (user_id, symbol),
        )
        return {int(r["order_id"]) for r in rows}

    async def symbols(self, user_id: int) -> set[str]:
        """Symbols the bot has seen the user trade (tracked orders and chat tickets)."""
        rows = await self._db.fetch_all(
            "SELECT symbol FROM tracked_orders WHERE user_id = ? "
            "UNION SELECT symbol FROM tickets WHERE user_id = ? AND order_type IS NOT NULL",
            (user_id, user_id),
        )
        return {r["symbol"] for r in rows}

    async def synced_at(self, user_id: int) -> int | None:
        """Binance time (ms) up to which the user's orders are known in full, or None."""
        row = await self._db.fetch_one(
            "SELECT synced_ms FROM order_sync WHERE user_id = ?", (user_id,)
        )
        return int(row["synced_ms"]) if row else None

    async def mark_synced(self, user_id: int, at_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO order_sync (user_id, synced_ms) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET synced_ms = excluded.synced_ms",
            (user_id, at_ms),
        )

    async def forget_user(self, user_id: int) -> None:
        """The user's key is gone: nothing of theirs can be followed any more."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM tracked_orders WHERE user_id = ?", (user_id,))
            await tx.execute("DELETE FROM order_sync WHERE user_id = ?", (user_id,))

    async def prune(self, older_than: float) -> int:
        """Drop ended orders last changed before `older_than` (epoch seconds)."""
        return await self._db.execute(
            "DELETE FROM tracked_orders WHERE is_open = 0 AND updated_at < ?", (older_than,)
        )


def _text(value: Decimal) -> str:
    return format(value, "f")


def _tracked(row: Any) -> TrackedOrder:
    created = row["created_ms"]
    return TrackedOrder(
        user_id=int(row["user_id"]),
        symbol=row["symbol"],
        order_id=int(row["order_id"]),
        client_id=row["client_id"],
        ticket_id=row["ticket_id"],
        status=row["status"],
        executed=Decimal(row["executed"]),
        side=row["side"],
        order_type=row["order_type"],
        quantity=Decimal(row["quantity"]),
        price=Decimal(row["price"] or 0),
        time_in_force=row["time_in_force"],
        created_ms=None if created is None else int(created),
        quote=Decimal(row["quote"] or 0),
        updated_ms=int(float(row["updated_at"]) * 1000),
        order_list_id=None if row["order_list_id"] is None else int(row["order_list_id"]),
        stop_price=None if row["stop_price"] is None else Decimal(row["stop_price"]),
        trailing_delta=None if row["trailing_delta"] is None else int(row["trailing_delta"]),
    )
