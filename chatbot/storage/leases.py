"""Replicas and leases: who is alive, and which replica does each shard of once-only work.

A *shard* is a slice of work that exactly one replica may do at a time: `market/<n>` (the price
alerts of the symbols hashed to n) or `users/<n>` (the user-data subscriptions of the users
with `user_id % S == n`). Its row in `leases` names an owner and when the ownership ends
(`expires_at`, `time.time()` seconds); an owner renews before then, and once it has passed
anyone may take the shard. Every change of owner is one conditional UPDATE whose condition is
re-checked under the row lock, so two replicas never both win a shard (on SQLite the single
writer settles it; on PostgreSQL a second UPDATE waiting on the row re-reads it and finds it
taken). Times come from each replica's own clock: replicas' clocks must agree within a second,
as Binance's recvWindow already demands.

`replicas` holds one row per replica with its last heartbeat: the live count that sets each
replica's fair share, and the weight budget's divisor.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from chatbot.storage.database import Database


class ShardKind(StrEnum):
    MARKET = "market"  # symbols' alerts and market-stream subscriptions
    USERS = "users"  # users' user-data subscriptions


def shard_name(kind: ShardKind, number: int) -> str:
    return f"{kind.value}/{number}"


def parse_shard(name: str) -> tuple[ShardKind, int]:
    kind, _, number = name.partition("/")
    return ShardKind(kind), int(number)


def symbol_shard(symbol: str, shards: int) -> int:
    """The market shard of a symbol: a hash that is the same in every process (Python's
    `hash` of a str is salted per process)."""
    return zlib.crc32(symbol.encode()) % shards


def user_shard(user_id: int, shards: int) -> int:
    return user_id % shards


@dataclass(frozen=True)
class LeaseRow:
    shard: str
    owner: str | None
    expires_at: float


class LeaseRepository:
    """The `replicas` and `leases` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_shards(self, shards: Iterable[str]) -> None:
        """Make sure a row exists for each shard (unowned), so claims are UPDATEs only."""
        async with self._db.transaction() as tx:
            for shard in shards:
                await tx.execute(
                    "INSERT INTO leases (shard, owner, expires_at) VALUES (?, NULL, 0) "
                    "ON CONFLICT (shard) DO NOTHING",
                    (shard,),
                )

    async def heartbeat(self, replica: str, now: float) -> None:
        await self._db.execute(
            "INSERT INTO replicas (id, heartbeat_at, started_at) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            (replica, now, now),
        )

    async def live_replicas(self, since: float) -> list[str]:
        """Replicas whose last heartbeat is later than `since`, by id."""
        rows = await self._db.fetch_all(
            "SELECT id FROM replicas WHERE heartbeat_at > ? ORDER BY id", (since,)
        )
        return [row["id"] for row in rows]

    async def forget_replica(self, replica: str) -> None:
        await self._db.execute("DELETE FROM replicas WHERE id = ?", (replica,))

    async def renew(self, owner: str, until: float) -> set[str]:
        """Extend every lease `owner` holds to `until`; the shards it still holds."""
        rows = await self._db.write_returning(
            "UPDATE leases SET expires_at = ? WHERE owner = ? RETURNING shard", (until, owner)
        )
        return {row["shard"] for row in rows}

    async def claim(
        self, owner: str, kind: ShardKind, now: float, until: float, limit: int
    ) -> set[str]:
        """Take up to `limit` shards of `kind` that nobody holds or whose lease has expired.
        The outer condition is evaluated again on each row under its lock, so a shard another
        replica took meanwhile is skipped (this claim may then win fewer than `limit`)."""
        if limit <= 0:
            return set()
        rows = await self._db.write_returning(
            "UPDATE leases SET owner = ?, expires_at = ? "
            "WHERE (owner IS NULL OR expires_at <= ?) AND shard IN ("
            " SELECT shard FROM leases WHERE shard LIKE ? AND (owner IS NULL OR expires_at <= ?)"
            " ORDER BY expires_at, shard LIMIT ?"
            ") RETURNING shard",
            (owner, until, now, f"{kind.value}/%", now, limit),
        )
        return {row["shard"] for row in rows}

    async def release(self, owner: str, shards: Iterable[str]) -> int:
        """Give up these shards (only those `owner` still holds): anyone may take them now."""
        names = sorted(shards)
        if not names:
            return 0
        marks = ", ".join("?" for _ in names)
        return await self._db.execute(
            "UPDATE leases SET owner = NULL, expires_at = 0 "
            f"WHERE owner = ? AND shard IN ({marks})",
            (owner, *names),
        )

    async def all(self) -> list[LeaseRow]:
        rows = await self._db.fetch_all(
            "SELECT shard, owner, expires_at FROM leases ORDER BY shard"
        )
        return [LeaseRow(r["shard"], r["owner"], float(r["expires_at"])) for r in rows]
