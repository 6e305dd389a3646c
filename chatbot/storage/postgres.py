"""The PostgreSQL implementation of the storage interface (`chatbot/storage/database.py`), on an
asyncpg pool. This is the only module that imports asyncpg; its errors leave it as
`StorageError`.

The repositories write `?` marks; asyncpg numbers its parameters (`$1..$n`), so each statement
is rewritten once and the rewrite cached. A write's row count is read from the command status
asyncpg returns ("UPDATE 1", "INSERT 0 1").

The schema version lives in a one-row `schema_version` table. Several replicas may start
together on one fresh database: each takes `pg_advisory_xact_lock` before reading the version,
so one migrates while the others wait and then find nothing left to do. PostgreSQL's DDL is
transactional, so the whole upgrade is one transaction under that lock: all of it or none.

A transaction is one pooled connection between BEGIN and COMMIT. Nothing here serialises
writers the way SQLite's single write connection does: the invariants that matter (a ticket
claimed once, an alert fired once) are conditional UPDATEs that the row lock settles. Reads
outside a transaction run on any pooled connection and see committed data only.

Change notices (`notify`/`listen`) are `pg_notify` and LISTEN, on one dedicated connection
outside the pool (a pooled connection would be handed to a query and lose its LISTENs). When that
connection is lost it is made again with backoff, every channel listened to again, and each
listener told to reload: what was notified meanwhile is not replayed.

The DSN holds the password: it goes to asyncpg and nowhere else; messages name the database by
`DatabaseUrl.redacted`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from typing import Any

import asyncpg

from chatbot.database_url import DatabaseKind, DatabaseUrl
from chatbot.storage.database import Listeners, Notice, Params, Row, SchemaTooNew, StorageError
from chatbot.storage.migrations import MIGRATIONS as SCHEMA

log = logging.getLogger(__name__)

ENGINE = "postgresql"
RELISTEN_BACKOFF = (0.2, 5.0)  # seconds: the first retry after a lost LISTEN connection, the most

# pg_advisory_xact_lock's key for "migrating the chatbot schema": any constant the bot alone uses.
MIGRATION_LOCK = 0x63686174626F74  # "chatbot"
POOL_MIN, POOL_MAX = 1, 10

# What asyncpg raises when the server refuses or the connection fails; OSError when the server
# cannot be reached at all.
_ENGINE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class PostgresTransaction:
    """The statements of one transaction, on its pooled connection."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        with _translated():
            status = await self._conn.execute(numbered(sql), *params)
        return rowcount(status)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        with _translated():
            return await self._conn.fetchrow(numbered(sql), *params)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        with _translated():
            return list(await self._conn.fetch(numbered(sql), *params))

    async def returning(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.fetch_all(sql, params)

    async def lock(self, name: str) -> None:
        """An advisory lock on the name's 64-bit hash, released at COMMIT or ROLLBACK (two
        names sharing a hash only wait for each other, which is harmless)."""
        await self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (name,))


class PostgresDatabase:
    """An open PostgreSQL database: `await PostgresDatabase.open(url)`, `await db.close()`."""

    engine = ENGINE
    skip_locked = " FOR UPDATE SKIP LOCKED"  # lock what is claimed, pass over what others hold

    def __init__(self, pool: Any, name: str, dsn: str | None = None) -> None:
        self._pool = pool
        self.name = name  # the redacted URL: safe in a message
        self._dsn = dsn  # holds the password: for asyncpg only
        self._listeners = Listeners()
        self._listening: Any = None  # the LISTEN connection
        self._relisten: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(cls, url: DatabaseUrl | str) -> PostgresDatabase:
        """Connect a pool and migrate to the current schema. Raises SchemaTooNew for a database
        newer than this bot, StorageError when the server cannot be reached or refuses."""
        if isinstance(url, str):
            url = DatabaseUrl.parse(url)
        if url.kind is not DatabaseKind.POSTGRESQL:
            raise ValueError(f"not a PostgreSQL URL: {url.redacted}")
        with _translated():
            pool = await asyncpg.create_pool(url.target, min_size=POOL_MIN, max_size=POOL_MAX)
        db = cls(pool, url.redacted, url.target)
        try:
            await db._migrate()
        except BaseException:
            await db.close()
            raise
        return db

    async def close(self) -> None:
        self._closed = True
        if self._relisten is not None:
            self._relisten.cancel()
            await asyncio.gather(self._relisten, return_exceptions=True)
        if self._listening is not None:
            await asyncio.gather(self._listening.close(), return_exceptions=True)
        await self._listeners.close()
        with _translated():
            await self._pool.close()

    async def schema_version(self) -> int:
        row = await self.fetch_one(
            "SELECT (SELECT MAX(version) FROM schema_version) AS version"
            if await self._has_version_table()
            else "SELECT 0 AS version"
        )
        return int(row["version"] or 0) if row else 0

    async def _has_version_table(self) -> bool:
        row = await self.fetch_one("SELECT to_regclass('schema_version') IS NOT NULL AS found")
        return bool(row and row["found"])

    async def _migrate(self) -> None:
        async with self.transaction() as tx:
            await tx.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            await tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            row = await tx.fetch_one("SELECT MAX(version) AS version FROM schema_version")
            current = int(row["version"] or 0) if row else 0
            if current > len(SCHEMA):
                raise SchemaTooNew(
                    f"the database {self.name} has schema version {current}, newer than this "
                    f"version of the bot knows ({len(SCHEMA)}); upgrade the bot or use another "
                    "CHATBOT_DB"
                )
            for version in range(current + 1, len(SCHEMA) + 1):
                for statement in SCHEMA[version - 1].statements(ENGINE):
                    await tx.execute(statement)
            if current < len(SCHEMA):
                await tx.execute("DELETE FROM schema_version")
                await tx.execute("INSERT INTO schema_version (version) VALUES (?)", (len(SCHEMA),))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        """A transaction on one pooled connection; commits on success, rolls back on error."""
        with _translated():
            async with self._pool.acquire() as conn, conn.transaction():
                yield PostgresTransaction(conn)

    async def check_writable(self) -> None:
        """Begin a transaction that takes a write's transaction id, and commit it: raises if
        the server refuses writes (a read-only standby, a read-only user, a full disk)."""
        async with self.transaction() as tx:
            await tx.execute("SELECT pg_current_xact_id()")

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction; returns the rows it changed."""
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    async def write_returning(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one `... RETURNING` write statement in its own transaction; the rows it wrote."""
        async with self.transaction() as tx:
            return await tx.returning(sql, params)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """Read data committed before the call (autocommit, READ COMMITTED)."""
        with _translated():
            return await self._pool.fetchrow(numbered(sql), *params)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Read data committed before the call (autocommit, READ COMMITTED)."""
        with _translated():
            return list(await self._pool.fetch(numbered(sql), *params))

    async def notify(self, channel: str, payload: str) -> None:
        """pg_notify: every replica's listeners, this one's included (through its LISTEN)."""
        await self.execute("SELECT pg_notify(?, ?)", (channel, payload))

    async def listen(self, channel: str, callback: Notice) -> None:
        if not self._listeners.add(channel, callback):
            return
        if self._relisten is not None and not self._relisten.done():
            return  # the reconnection listens to every channel, this one included
        if self._listening is None:
            await self._connect_listener()
        else:
            with _translated():
                await self._listening.add_listener(channel, self._heard)

    async def _connect_listener(self) -> None:
        with _translated():
            conn = await asyncpg.connect(self._dsn)
            try:
                for channel in self._listeners.channels():
                    await conn.add_listener(channel, self._heard)
            except BaseException:
                await conn.close()
                raise
        conn.add_termination_listener(self._lost)
        self._listening = conn

    def _heard(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self._listeners.deliver(channel, payload)

    def _lost(self, _conn: Any) -> None:
        if self._closed or (self._relisten is not None and not self._relisten.done()):
            return
        log.warning("the change-notice connection to %s was lost; reconnecting", self.name)
        self._listening = None
        self._relisten = asyncio.get_running_loop().create_task(
            self._listen_again(), name="relisten"
        )

    async def _listen_again(self) -> None:
        """Reconnect until it works, then have every listener reload what it may have missed."""
        delay, most = RELISTEN_BACKOFF
        while True:
            try:
                await self._connect_listener()
            except StorageError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, most)
                continue
            self._listeners.reload_all()
            return


@lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """`?` marks as asyncpg's `$1..$n`, in order. A `?` inside a quoted literal or identifier
    is left alone (the interface promises none, but a wrong rewrite would be silent)."""
    out: list[str] = []
    quote: str | None = None
    n = 0
    for char in sql:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(char)
    return "".join(out)


def rowcount(status: str) -> int:
    """The rows a command changed, from its status ("UPDATE 3", "INSERT 0 1"); 0 for a
    command that reports no count ("CREATE TABLE")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


@contextmanager
def _translated() -> Iterator[None]:
    """asyncpg's errors leave this module as StorageError, the driver's error as its cause."""
    try:
        yield
    except _ENGINE_ERRORS as exc:
        raise StorageError(str(exc) or type(exc).__name__) from exc
