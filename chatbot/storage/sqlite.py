"""The SQLite database: one file in WAL mode, its schema built by numbered migrations.

`PRAGMA user_version` records how far the file has been migrated; each start applies the missing
steps in one transaction each, so a second start is a no-op. A file migrated by a newer version of
the bot stops start-up (`SchemaTooNew`) instead of being written by code that does not know it.

All writes go through one connection guarded by one lock, so transactions never wait on
"database is locked"; reads go through a second connection and so only ever see committed data,
never another coroutine's transaction in flight. Reads take turns on that connection, each whole
(run, fetch, close): SQLite keeps one read snapshot while any statement of a connection is
unfinished, so reads left to interleave there could chain into one long snapshot that misses
commits made meanwhile. Even so, a write that needs what it wrote takes it from the write itself
(`RETURNING`, or a read inside the same transaction), never from the read connection.
`synchronous=NORMAL` keeps commits off the disk's flush (safe against a killed process in WAL
mode, which is the failure that matters here).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

MIGRATIONS: list[str] = [
    # 1: per-user Binance credentials, encrypted (see vault.py)
    """
    CREATE TABLE credentials (
        user_id     INTEGER PRIMARY KEY,
        key_type    TEXT    NOT NULL,
        key_id      TEXT    NOT NULL,
        ciphertext  BLOB    NOT NULL,
        permissions TEXT    NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    """,
    # 2: order tickets: a preview awaiting Confirm, and what became of it (see services/orders)
    """
    CREATE TABLE tickets (
        id             TEXT    PRIMARY KEY,
        user_id        INTEGER NOT NULL,
        chat_id        INTEGER NOT NULL,
        message_id     INTEGER,
        kind           TEXT    NOT NULL,
        symbol         TEXT    NOT NULL,
        side           TEXT,
        order_type     TEXT,
        quantity       TEXT,
        quote_quantity TEXT,
        price          TEXT,
        preview_price  TEXT,
        state          TEXT    NOT NULL,
        created_at     REAL    NOT NULL,
        updated_at     REAL    NOT NULL,
        order_id       INTEGER,
        detail         TEXT
    );
    CREATE INDEX tickets_by_state ON tickets (state);
    """,
    # 3: price alerts, and the outbox of messages they fire (see services/alerts, outbox)
    """
    CREATE TABLE alerts (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id     INTEGER NOT NULL,
        chat_id     INTEGER NOT NULL,
        symbol      TEXT    NOT NULL,
        direction   TEXT    NOT NULL,
        threshold   TEXT    NOT NULL,
        condition   TEXT    NOT NULL,
        note        TEXT,
        repeat      INTEGER NOT NULL,
        cooldown    REAL    NOT NULL,
        state       TEXT    NOT NULL,
        created_at  REAL    NOT NULL,
        fired_at    REAL,
        fired_price TEXT,
        fire_count  INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX alerts_by_user ON alerts (user_id, state);
    CREATE INDEX alerts_by_state ON alerts (state);
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id    INTEGER NOT NULL,
        user_id    INTEGER NOT NULL,
        alert_id   INTEGER,
        payload    TEXT    NOT NULL,
        state      TEXT    NOT NULL,
        created_at REAL    NOT NULL,
        sent_at    REAL,
        attempts   INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_pending ON outbox (state, id);
    """,
    # 4: every order followed for a user and how much of it the user was told (see
    # services/order_tracker), and when each user's orders were last known in full
    """
    CREATE TABLE tracked_orders (
        user_id     INTEGER NOT NULL,
        symbol      TEXT    NOT NULL,
        order_id    INTEGER NOT NULL,
        client_id   TEXT    NOT NULL,
        ticket_id   TEXT,
        side        TEXT    NOT NULL,
        order_type  TEXT    NOT NULL,
        quantity    TEXT    NOT NULL,
        status      TEXT    NOT NULL,
        is_open     INTEGER NOT NULL,
        executed    TEXT    NOT NULL,
        told_qty    TEXT    NOT NULL,
        told_final  INTEGER NOT NULL,
        updated_at  REAL    NOT NULL,
        PRIMARY KEY (user_id, symbol, order_id)
    );
    CREATE INDEX tracked_open ON tracked_orders (user_id, is_open);
    CREATE TABLE order_sync (
        user_id   INTEGER PRIMARY KEY,
        synced_ms INTEGER NOT NULL
    );
    CREATE INDEX tickets_by_user ON tickets (user_id, state);
    """,
    # 5: which associated data sealed each credentials row: 1 = user and master key id, 2 = also
    # the key type and the stored permissions (see vault.py; rows are re-sealed at start)
    """
    ALTER TABLE credentials ADD COLUMN sealing INTEGER NOT NULL DEFAULT 1;
    """,
    # 6: what /orders shows of a followed order, so its open orders can be answered from here
    # (services/open_orders.py): limit price, time in force, creation time, quote filled
    """
    ALTER TABLE tracked_orders ADD COLUMN price TEXT;
    ALTER TABLE tracked_orders ADD COLUMN time_in_force TEXT;
    ALTER TABLE tracked_orders ADD COLUMN created_ms INTEGER;
    ALTER TABLE tracked_orders ADD COLUMN quote TEXT;
    """,
]


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of the bot."""


class Database:
    """An open SQLite file. Use `await Database.open(path)` and `await db.close()`."""

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection, path: str):
        self._conn = writer
        self._reader = reader
        self.path = path
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        """Open (creating the folder and file if needed, owner-only) and migrate to the
        current schema."""
        target = str(path)
        await asyncio.to_thread(_prepare_owner_only, Path(target))
        writer = await _connect(target)
        await _pragma(writer, "journal_mode=WAL")
        reader = await _connect(target)
        db = cls(writer, reader, target)
        try:
            await db._migrate()
        except BaseException:
            await db.close()
            raise
        return db

    async def close(self) -> None:
        await self._reader.close()
        await self._conn.close()

    async def schema_version(self) -> int:
        async with self._conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        current = await self.schema_version()
        if current > len(MIGRATIONS):
            raise SchemaTooNew(
                f"the database {self.path} has schema version {current}, newer than this "
                f"version of the bot knows ({len(MIGRATIONS)}); upgrade the bot or use another "
                "CHATBOT_DB"
            )
        for version in range(current + 1, len(MIGRATIONS) + 1):
            async with self.transaction() as conn:
                for statement in _statements(MIGRATIONS[version - 1]):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version={version}")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (BEGIN IMMEDIATE); commits on success, rolls back on error."""
        async with self._write_lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def check_writable(self) -> None:
        """Take the write lock and let it go: raises if the file cannot be written."""
        async with self.transaction():
            pass

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one write statement in its own transaction; returns the rows it changed."""
        async with self.transaction() as conn:
            cursor = await conn.execute(sql, tuple(params))
            return cursor.rowcount

    async def write_returning(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """Run one `... RETURNING` write statement in its own transaction; the rows it wrote,
        as written (the read connection may not see them yet)."""
        async with self.transaction() as conn, conn.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        """Read data committed before the call; never waits for a write in flight."""
        async with self._read_lock, self._reader.execute(sql, tuple(params)) as cursor:
            return await cursor.fetchone()

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """Read data committed before the call; never waits for a write in flight."""
        async with self._read_lock, self._reader.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())


def _prepare_owner_only(path: Path) -> None:
    """Create the folder (0700) and the file (0600) before SQLite does, whatever the umask:
    SQLite creates files 0644 less the umask, and gives the -wal and -shm files the mode of the
    database file. A file or its -wal/-shm left readable by an earlier version is tightened; a
    folder that already existed is the operator's and is left as it is."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(path.parent, 0o700)  # mkdir's mode is filtered by the umask
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            os.chmod(file, 0o600)


async def _connect(path: str) -> aiosqlite.Connection:
    connection = await aiosqlite.connect(path, isolation_level=None)
    connection.row_factory = aiosqlite.Row
    for pragma in ("busy_timeout=5000", "synchronous=NORMAL", "foreign_keys=ON"):
        await _pragma(connection, pragma)
    return connection


async def _pragma(connection: aiosqlite.Connection, pragma: str) -> None:
    """Run a PRAGMA and drain its cursor: an undrained one keeps the file locked."""
    async with connection.execute(f"PRAGMA {pragma}") as cursor:
        await cursor.fetchall()


def _statements(script: str) -> list[str]:
    """Split a migration into statements (migrations hold no semicolons inside strings)."""
    return [s.strip() for s in script.split(";") if s.strip()]
