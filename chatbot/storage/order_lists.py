"""The order lists (OCO, OTOCO) the bot follows for each user, and whether the user has been
told how each one ended.

A list's end reaches the bot several ways (its `listStatus` event, a leg's event after a
re-read, the catch-up after a gap or a restart, on any replica); `claim_told` is a conditional
update, so exactly one of them tells it. The legs' own states stay in `tracked_orders`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from chatbot.storage.database import Database

LIST_DONE = "ALL_DONE"  # Binance's listOrderStatus once no leg can execute any more


@dataclass(frozen=True, slots=True)
class KnownList:
    """An order list as last seen: `order_ids` in Binance's order (an OTO's working order
    first); `status` is Binance's listOrderStatus (EXECUTING, ALL_DONE, REJECT)."""

    user_id: int
    symbol: str
    order_list_id: int
    contingency: str  # OCO | OTO
    status: str
    order_ids: tuple[int, ...]
    told: bool = False

    @property
    def is_open(self) -> bool:
        return self.status == "EXECUTING"

    @property
    def working_order_id(self) -> int | None:
        """An OTO list's working (entry) order, which Binance lists first; None for an OCO."""
        return self.order_ids[0] if self.contingency == "OTO" and self.order_ids else None


class OrderListRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, known: KnownList) -> None:
        """Remember the list as seen now (what was told is never reset here; an end that
        was recorded is not rolled back by an older answer)."""
        await self._db.execute(
            "INSERT INTO order_lists (user_id, symbol, order_list_id, contingency, status, "
            "order_ids, told, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?) "
            "ON CONFLICT (user_id, symbol, order_list_id) DO UPDATE SET "
            "status = CASE WHEN order_lists.status = 'EXECUTING' THEN excluded.status "
            "ELSE order_lists.status END, updated_at = excluded.updated_at",
            (
                known.user_id, known.symbol, known.order_list_id, known.contingency,
                known.status, " ".join(map(str, known.order_ids)), time.time(),
            ),
        )  # fmt: skip

    async def get(self, user_id: int, symbol: str, order_list_id: int) -> KnownList | None:
        row = await self._db.fetch_one(
            "SELECT * FROM order_lists WHERE user_id = ? AND symbol = ? AND order_list_id = ?",
            (user_id, symbol, order_list_id),
        )
        return _known(row) if row else None

    async def untold(self, user_id: int) -> list[KnownList]:
        """The user's lists whose end has not been told (open when last seen, or ended
        without being told), oldest first."""
        rows = await self._db.fetch_all(
            "SELECT * FROM order_lists WHERE user_id = ? AND told = 0 "
            "ORDER BY symbol, order_list_id",
            (user_id,),
        )
        return [_known(r) for r in rows]

    async def claim_told(self, user_id: int, symbol: str, order_list_id: int) -> bool:
        """Mark the list's end told; True for the one caller that made the change (it
        tells the user), False when another already did."""
        changed = await self._db.execute(
            "UPDATE order_lists SET told = 1, status = ?, updated_at = ? "
            "WHERE user_id = ? AND symbol = ? AND order_list_id = ? AND told = 0",
            (LIST_DONE, time.time(), user_id, symbol, order_list_id),
        )
        return changed == 1

    async def forget_user(self, user_id: int) -> None:
        await self._db.execute("DELETE FROM order_lists WHERE user_id = ?", (user_id,))

    async def prune(self, older_than: float) -> int:
        """Drop told lists last changed before `older_than` (epoch seconds)."""
        return await self._db.execute(
            "DELETE FROM order_lists WHERE told = 1 AND updated_at < ?", (older_than,)
        )


def _known(row: Any) -> KnownList:
    return KnownList(
        user_id=int(row["user_id"]),
        symbol=row["symbol"],
        order_list_id=int(row["order_list_id"]),
        contingency=row["contingency"],
        status=row["status"],
        order_ids=tuple(int(i) for i in row["order_ids"].split()),
        told=bool(row["told"]),
    )
