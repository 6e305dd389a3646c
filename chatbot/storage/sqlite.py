"""The SQLite implementation of the storage interface (`chatbot/storage/database.py`): one file
in WAL mode, its schema built by the numbered migrations of `chatbot/storage/migrations.py`.
This is the only module that imports aiosqlite or sqlite3; their errors leave it as
`StorageError`.

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
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiosqlite

from chatbot.storage.database import Listeners, Notice, Params, Row, SchemaTooNew, StorageError
from chatbot.storage.migrations import MIGRATIONS as SCHEMA

ENGINE = "sqlite"

# The scripts as SQLite runs them, in order (migration N is MIGRATIONS[N - 1]).
MIGRATIONS: list[str] = [m.text(ENGINE) for m in SCHEMA]


class SqliteTransaction:
    """The statements of one write transaction, on the write connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        with _translated():
            cursor = await self._conn.execute(sql, tuple(params))
            return cursor.rowcount

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        with _translated():
            async with self._conn.execute(sql, tuple(params)) as cursor:
                return await cursor.fetchone()

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        with _translated():
            async with self._conn.execute(sql, tuple(params)) as cursor:
                return list(await cursor.fetchall())

    async def returning(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.fetch_all(sql, params)

    async def lock(self, name: str) -> None:
        """Nothing to do: the write lock already holds every other write transaction off."""


class SqliteDatabase:
    """An open SQLite file. Use `await SqliteDatabase.open(path)` and `await db.close()`."""

    engine = ENGINE
    skip_locked = ""  # its write lock runs each write transaction alone

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection, path: str):
        self._conn = writer
        self._reader = reader
        self.path = path
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._listeners = Listeners()

    @classmethod
    async def open(cls, path: str | Path) -> SqliteDatabase:
        """Open (creating the folder and file if needed, owner-only) and migrate to the
        current schema."""
        target = str(path)
        await asyncio.to_thread(_prepare_owner_only, Path(target))
        with _translated():
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
        await self._listeners.close()
        with _translated():
            await self._reader.close()
            await self._conn.close()

    async def schema_version(self) -> int:
        with _translated():
            async with self._conn.execute("PRAGMA user_version") as cursor:
                row = await cursor.fetchone()
        return int(row["user_version"]) if row else 0

    async def _migrate(self) -> None:
        current = await self.schema_version()
        if current > len(SCHEMA):
            raise SchemaTooNew(
                f"the database {self.path} has schema version {current}, newer than this "
                f"version of the bot knows ({len(SCHEMA)}); upgrade the bot or use another "
                "CHATBOT_DB"
            )
        for version in range(current + 1, len(SCHEMA) + 1):
            async with self.transaction() as tx:
                for statement in SCHEMA[version - 1].statements(ENGINE):
                    await tx.execute(statement)
                await tx.execute(f"PRAGMA user_version={version}")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        """A write transaction (BEGIN IMMEDIATE); commits on success, rolls back on error."""
        async with self._write_lock:
            with _translated():
                await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTransaction(self._conn)
            except BaseException:
                with _translated():
                    await self._conn.execute("ROLLBACK")
                raise
            with _translated():
                await self._conn.execute("COMMIT")

    async def check_writable(self) -> None:
        """Take the write lock and let it go: raises if the file cannot be written."""
        async with self.transaction():
            pass

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction; returns the rows it changed."""
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    async def write_returning(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one `... RETURNING` write statement in its own transaction; the rows it wrote,
        as written (the read connection may not see them yet)."""
        async with self.transaction() as tx:
            return await tx.returning(sql, params)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """Read data committed before the call; never waits for a write in flight."""
        with _translated():
            async with self._read_lock, self._reader.execute(sql, tuple(params)) as cursor:
                return await cursor.fetchone()

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Read data committed before the call; never waits for a write in flight."""
        with _translated():
            async with self._read_lock, self._reader.execute(sql, tuple(params)) as cursor:
                return list(await cursor.fetchall())

    async def notify(self, channel: str, payload: str) -> None:
        """In process: one SQLite file serves one replica."""
        self._listeners.deliver(channel, payload)

    async def listen(self, channel: str, callback: Notice) -> None:
        self._listeners.add(channel, callback)


@contextmanager
def _translated() -> Iterator[None]:
    """SQLite's errors leave this module as StorageError, the engine's error as its cause."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(str(exc)) from exc


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
