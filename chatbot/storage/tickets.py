"""Order tickets in the database: the confirmation that can be used once, by its owner, in time.

A ticket's id is the order's `newClientOrderId`, so whatever happens to the process, the order
can be found on Binance by the ticket. Every state change is a compare-and-set on the current
state: of two taps, two devices or a retried callback, exactly one moves a DRAFT on.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chatbot.errors import present
from chatbot.side import Side
from chatbot.storage.database import Database

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class TicketState(StrEnum):
    DRAFT = "DRAFT"  # preview shown, buttons live
    CONFIRMING = "CONFIRMING"  # Confirm won the race; checks before sending
    SUBMITTED = "SUBMITTED"  # the request is on its way to Binance
    FILLED = "FILLED"
    OPEN = "OPEN"  # a limit order resting on the book
    REJECTED = "REJECTED"  # Binance refused it (an error code that proves it), or never sent
    ENDED = "ENDED"  # Binance accepted it, and it ended (expired, cancelled) with no fill
    UNKNOWN = "UNKNOWN"  # sent, outcome not known yet: query, never resend
    MISSING = "MISSING"  # sent; Binance still had no record after the watch: most likely not
    CANCELLED = "CANCELLED"  # the user pressed Cancel
    EXPIRED = "EXPIRED"  # not confirmed in time, or re-previewed
    DONE = "DONE"  # a cancel-all ticket carried out


class TicketKind(StrEnum):
    ORDER = "order"
    CANCEL_ALL = "cancel_all"
    CANCEL_LIST = "cancel_list"  # an order list (OCO, OTOCO) whose id is the ticket's order_id


PENDING_STATES = (TicketState.CONFIRMING, TicketState.SUBMITTED, TicketState.UNKNOWN)
# Sent, but what became of it was never proven: whatever Binance says of it later settles it.
UNRESOLVED_STATES = (TicketState.UNKNOWN, TicketState.MISSING)


def new_ticket_id() -> str:
    """20 random base62 characters: unguessable, and a valid Binance client order id."""
    return "t" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(19))


@dataclass(frozen=True)
class Ticket:
    id: str
    user_id: int
    chat_id: int
    message_id: int | None
    kind: TicketKind
    symbol: str
    side: Side | None  # None for a cancel-all ticket
    order_type: str | None
    quantity: Decimal | None
    quote_quantity: Decimal | None
    price: Decimal | None
    preview_price: Decimal | None
    state: TicketState
    created_at: float
    updated_at: float
    order_id: int | None
    detail: str | None

    @classmethod
    def from_row(cls, row: Any) -> Ticket:
        return cls(
            id=row["id"],
            user_id=int(row["user_id"]),
            chat_id=int(row["chat_id"]),
            message_id=row["message_id"],
            kind=TicketKind(row["kind"]),
            symbol=row["symbol"],
            side=Side(row["side"]) if row["side"] else None,
            order_type=row["order_type"],
            quantity=_dec(row["quantity"]),
            quote_quantity=_dec(row["quote_quantity"]),
            price=_dec(row["price"]),
            preview_price=_dec(row["preview_price"]),
            state=TicketState(row["state"]),
            created_at=float(row["created_at"]),
            updated_at=float(row["updated_at"]),
            order_id=row["order_id"],
            detail=row["detail"],
        )


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


class TicketRepository:
    """Tickets, timed by `clock` (seconds since the epoch): `created_at` and `updated_at` are
    its readings, so a service that asks how old a ticket is must read the same clock."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    async def create(
        self,
        *,
        user_id: int,
        chat_id: int,
        kind: TicketKind,
        symbol: str,
        side: Side | None = None,
        order_type: str | None = None,
        quantity: Decimal | None = None,
        quote_quantity: Decimal | None = None,
        price: Decimal | None = None,
        preview_price: Decimal | None = None,
        order_id: int | None = None,
    ) -> Ticket:
        """A new DRAFT ticket, as the insert wrote it (RETURNING): the read connection may not
        see the row yet."""
        ticket_id, now = new_ticket_id(), self._clock()
        rows = await self._db.write_returning(
            "INSERT INTO tickets (id, user_id, chat_id, kind, symbol, side, order_type, "
            "quantity, quote_quantity, price, preview_price, state, created_at, updated_at, "
            "order_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (
                ticket_id, user_id, chat_id, str(kind), symbol, side, order_type,
                _text(quantity), _text(quote_quantity), _text(price), _text(preview_price),
                str(TicketState.DRAFT), now, now, order_id,
            ),
        )  # fmt: skip
        row = rows[0] if rows else None
        return Ticket.from_row(present(row, f"ticket {ticket_id}, just inserted"))

    async def get(self, ticket_id: str) -> Ticket | None:
        row = await self._db.fetch_one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        return Ticket.from_row(row) if row else None

    async def attach_message(self, ticket_id: str, message_id: int) -> None:
        await self._db.execute(
            "UPDATE tickets SET message_id = ? WHERE id = ?", (message_id, ticket_id)
        )

    async def claim(self, ticket_id: str, user_id: int, created_after: float) -> bool:
        """DRAFT -> CONFIRMING for its owner while fresh: one atomic statement, so of any number
        of concurrent presses exactly one gets True."""
        changed = await self._db.execute(
            "UPDATE tickets SET state = ?, updated_at = ? "
            "WHERE id = ? AND user_id = ? AND state = ? AND created_at > ?",
            (TicketState.CONFIRMING, self._clock(), ticket_id, user_id, TicketState.DRAFT,
             created_after),
        )  # fmt: skip
        return changed == 1

    async def move(
        self,
        ticket_id: str,
        from_states: tuple[TicketState, ...],
        to_state: TicketState,
        *,
        order_id: int | None = None,
        detail: str | None = None,
    ) -> bool:
        """Compare-and-set from any of `from_states`; True when this call made the change."""
        marks = ", ".join("?" for _ in from_states)
        changed = await self._db.execute(
            f"UPDATE tickets SET state = ?, updated_at = ?, "
            f"order_id = COALESCE(?, order_id), detail = COALESCE(?, detail) "
            f"WHERE id = ? AND state IN ({marks})",
            (to_state, self._clock(), order_id, detail, ticket_id, *from_states),
        )
        return changed == 1

    async def in_states(
        self,
        states: tuple[TicketState, ...],
        *,
        user_id: int | None = None,
        updated_after: float = 0.0,
    ) -> list[Ticket]:
        """Tickets in any of `states` (of one user, if given), oldest first."""
        marks = ", ".join("?" for _ in states)
        sql = f"SELECT * FROM tickets WHERE state IN ({marks}) AND updated_at > ?"
        params: list[Any] = [*states, updated_after]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        rows = await self._db.fetch_all(sql + " ORDER BY created_at", params)
        return [Ticket.from_row(r) for r in rows]

    async def find_by_id(self, ticket_ids: list[str]) -> dict[str, Ticket]:
        if not ticket_ids:
            return {}
        marks = ", ".join("?" for _ in ticket_ids)
        rows = await self._db.fetch_all(f"SELECT * FROM tickets WHERE id IN ({marks})", ticket_ids)
        return {r["id"]: Ticket.from_row(r) for r in rows}
