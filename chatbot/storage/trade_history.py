"""The user's own trade history, kept so that /pnl reads from Binance only what is new.

- `pnl_trades`: each fill `myTrades` returned, keyed (user, symbol, Binance's trade id); the
  trade ids of one symbol only grow, so `pnl_sync.last_id` + 1 is where the next read starts.
- `pnl_transfers`: money in and out of the spot account that is not a trade, keyed by where it
  was seen (`TransferSource`) and that source's own reference, so that reading it twice stores
  it once; `pnl_marks.transfers_to`: until when the capital history was read.
- `pnl_rates`: the close of a closed candle, the USDT price a past trade is converted at; a
  candle never changes once closed, so each is read from Binance once for every user.

Amounts are stored as text (Decimal in, Decimal out), times in epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from chatbot.storage.database import Database, Row


class TransferSource(Enum):
    LIVE = "live"  # a `balanceUpdate` of the user-data stream
    DEPOSIT = "deposit"  # GET /sapi/v1/capital/deposit/hisrec
    WITHDRAW = "withdraw"  # GET /sapi/v1/capital/withdraw/history


@dataclass(frozen=True, slots=True)
class Transfer:
    """Money in (`amount` > 0) or out (< 0) of the spot account, not through a trade."""

    source: TransferSource
    ref: str
    asset: str
    amount: Decimal
    time_ms: int


@dataclass(frozen=True, slots=True)
class StoredFill:
    """One of the user's fills as `myTrades` gave it (`id`: Binance's trade id, per symbol)."""

    symbol: str
    id: int
    order_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool


_TRADE_COLUMNS = (
    "symbol, trade_id, order_id, price, qty, quote_qty, commission, commission_asset, "
    "time_ms, is_buyer"
)


class TradeHistoryRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- trades ------------------------------------------------------------------------------

    async def add_trades(
        self, user_id: int, symbol: str, trades: list[StoredFill], synced_ms: int
    ) -> None:
        """Store a page of fills and move the symbol's mark to its highest id, in one
        transaction (a page stored twice, by a retried read, stores each fill once)."""
        async with self._db.transaction() as tx:
            for t in trades:
                await tx.execute(
                    f"INSERT INTO pnl_trades (user_id, {_TRADE_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (user_id, symbol, trade_id) DO NOTHING",
                    (
                        user_id,
                        symbol,
                        t.id,
                        t.order_id,
                        str(t.price),
                        str(t.qty),
                        str(t.quote_qty),
                        str(t.commission),
                        t.commission_asset,
                        t.time,
                        int(t.is_buyer),
                    ),
                )
            last = max((t.id for t in trades), default=-1)
            await tx.execute(
                "INSERT INTO pnl_sync (user_id, symbol, last_id, synced_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id, symbol) DO UPDATE SET "
                "last_id = CASE WHEN excluded.last_id > pnl_sync.last_id "
                "THEN excluded.last_id ELSE pnl_sync.last_id END, synced_ms = excluded.synced_ms",
                (user_id, symbol, last, synced_ms),
            )

    async def last_ids(self, user_id: int) -> dict[str, int]:
        """Each symbol read so far and the highest trade id stored (-1: read, none found)."""
        rows = await self._db.fetch_all(
            "SELECT symbol, last_id FROM pnl_sync WHERE user_id = ?", (user_id,)
        )
        return {row["symbol"]: int(row["last_id"]) for row in rows}

    async def trades(self, user_id: int) -> list[StoredFill]:
        """Every stored fill of the user, oldest first."""
        rows = await self._db.fetch_all(
            f"SELECT {_TRADE_COLUMNS} FROM pnl_trades WHERE user_id = ? "
            "ORDER BY time_ms, symbol, trade_id",
            (user_id,),
        )
        return [_trade(row) for row in rows]

    async def symbols_in_orders(self, user_id: int) -> list[str]:
        """The symbols of the user's orders the bot placed or followed (tickets and tracked
        orders): Binance has no "symbols I traded" endpoint, so these are among those read."""
        rows = await self._db.fetch_all(
            "SELECT symbol FROM tickets WHERE user_id = ? "
            "UNION SELECT symbol FROM tracked_orders WHERE user_id = ?",
            (user_id, user_id),
        )
        return sorted(row["symbol"] for row in rows)

    # -- transfers ---------------------------------------------------------------------------

    async def add_transfers(self, user_id: int, transfers: Iterable[Transfer]) -> None:
        async with self._db.transaction() as tx:
            for t in transfers:
                await tx.execute(
                    "INSERT INTO pnl_transfers (user_id, source, ref, asset, amount, time_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, source, ref) DO NOTHING",
                    (user_id, t.source.value, t.ref, t.asset, str(t.amount), t.time_ms),
                )

    async def transfers(self, user_id: int) -> list[Transfer]:
        rows = await self._db.fetch_all(
            "SELECT source, ref, asset, amount, time_ms FROM pnl_transfers WHERE user_id = ? "
            "ORDER BY time_ms, source, ref",
            (user_id,),
        )
        return [
            Transfer(
                TransferSource(row["source"]),
                row["ref"],
                row["asset"],
                Decimal(row["amount"]),
                int(row["time_ms"]),
            )
            for row in rows
        ]

    async def transfers_read_to(self, user_id: int) -> int | None:
        """Until when (ms) the capital history has been read; None: never."""
        row = await self._db.fetch_one(
            "SELECT transfers_to FROM pnl_marks WHERE user_id = ?", (user_id,)
        )
        return None if row is None else int(row["transfers_to"])

    async def mark_transfers_read(self, user_id: int, until_ms: int) -> None:
        await self._db.execute(
            "INSERT INTO pnl_marks (user_id, transfers_to) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET transfers_to = excluded.transfers_to",
            (user_id, until_ms),
        )

    async def first_trade_ms(self, user_id: int) -> int | None:
        row = await self._db.fetch_one(
            "SELECT MIN(time_ms) AS first FROM pnl_trades WHERE user_id = ?", (user_id,)
        )
        return None if row is None or row["first"] is None else int(row["first"])

    # -- candle closes -----------------------------------------------------------------------

    async def closes(self, symbol: str, period: str, open_times: list[int]) -> dict[int, Decimal]:
        """The stored closes among `open_times` (a candle not stored is absent)."""
        if not open_times:
            return {}
        marks = ", ".join("?" for _ in open_times)
        rows = await self._db.fetch_all(
            "SELECT open_time, close FROM pnl_rates WHERE symbol = ? AND period = ? "
            f"AND open_time IN ({marks})",
            (symbol, period, *open_times),
        )
        return {int(row["open_time"]): Decimal(row["close"]) for row in rows}

    async def add_closes(self, symbol: str, period: str, closes: dict[int, Decimal]) -> None:
        """Store closed candles only: an open candle's close still moves."""
        async with self._db.transaction() as tx:
            for open_time, close in closes.items():
                await tx.execute(
                    "INSERT INTO pnl_rates (symbol, period, open_time, close) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (symbol, period, open_time) DO NOTHING",
                    (symbol, period, open_time, str(close)),
                )


def _trade(row: Row) -> StoredFill:
    return StoredFill(
        symbol=row["symbol"],
        id=int(row["trade_id"]),
        order_id=int(row["order_id"]),
        price=Decimal(row["price"]),
        qty=Decimal(row["qty"]),
        quote_qty=Decimal(row["quote_qty"]),
        commission=Decimal(row["commission"]),
        commission_asset=row["commission_asset"],
        time=int(row["time_ms"]),
        is_buyer=bool(row["is_buyer"]),
    )
