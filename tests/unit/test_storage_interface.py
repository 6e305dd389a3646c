"""The storage interface's contract, which a second engine must honour unchanged: repositories
read rows by column name only, and the engine's failures reach callers as StorageError."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from chatbot.database_url import DatabaseUrlError
from chatbot.key_types import KeyType
from chatbot.storage.alerts import AlertDirection, AlertRepository
from chatbot.storage.database import (
    Database,
    Params,
    StorageError,
    Transaction,
    open_database,
)
from chatbot.storage.migrations import MIGRATIONS, Migration
from chatbot.storage.tracked_orders import OrderState, TrackedOrderRepository
from chatbot.storage.vault import CredentialVault


class ByName(Mapping[str, Any]):
    """A row that answers only by column name: a repository reading by position fails here."""

    def __init__(self, row: Any) -> None:
        names = list(row.keys())  # sqlite3.Row and asyncpg.Record iterate over their values
        self._values = {key: row[key] for key in names}

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str):
            raise TypeError(f"row read by position ({key!r}), not by column name")
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class ByNameTransaction:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self._tx.execute(sql, params)

    async def fetch_one(self, sql: str, params: Params = ()) -> ByName | None:
        row = await self._tx.fetch_one(sql, params)
        return None if row is None else ByName(row)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[ByName]:
        return [ByName(r) for r in await self._tx.fetch_all(sql, params)]

    async def returning(self, sql: str, params: Params = ()) -> list[ByName]:
        return [ByName(r) for r in await self._tx.returning(sql, params)]

    async def lock(self, name: str) -> None:
        await self._tx.lock(name)


class ByNameDatabase:
    """The real database (either engine), its rows narrowed to what the interface promises."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.engine = db.engine

    async def close(self) -> None:
        await self._db.close()

    async def schema_version(self) -> int:
        return await self._db.schema_version()

    async def check_writable(self) -> None:
        await self._db.check_writable()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[ByNameTransaction]:
        async with self._db.transaction() as tx:
            yield ByNameTransaction(tx)

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self._db.execute(sql, params)

    async def write_returning(self, sql: str, params: Params = ()) -> list[ByName]:
        return [ByName(r) for r in await self._db.write_returning(sql, params)]

    async def fetch_one(self, sql: str, params: Params = ()) -> ByName | None:
        row = await self._db.fetch_one(sql, params)
        return None if row is None else ByName(row)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[ByName]:
        return [ByName(r) for r in await self._db.fetch_all(sql, params)]


async def test_alerts_and_their_outbox_read_rows_by_name(database: Database) -> None:
    db = ByNameDatabase(database)
    alerts = AlertRepository(db)
    made = [
        await alerts.create(
            user_id=7, chat_id=70, symbol="BTCUSDT", direction=AlertDirection.ABOVE,
            threshold=Decimal("70000"), condition="> 70000", note=None, repeat=repeat,
            cooldown=900.0, limit=5,
        )
        for repeat in (False, True)
    ]  # fmt: skip
    assert await alerts.count_active(7) == 2
    fired = await alerts.fire([a.id for a in made], Decimal("70001.5"), 1000.0)
    assert [a.fire_count for a in fired] == [1, 1]
    assert await alerts.count_active(7) == 1  # the one-shot alert fired, the repeating one stays
    assert await alerts.outbox.backlog() == 2
    assert [item.alert.price for item in await alerts.outbox.pending()] == [Decimal("70001.5")] * 2
    assert await alerts.pause_chat(70) == [made[1].id]
    assert await alerts.paused_chats() == {70}
    assert [a.id for a in await alerts.resume_chat(70)] == [made[1].id]
    assert await alerts.prune(before=2000.0) == 1


async def test_tracked_orders_and_keys_read_rows_by_name(database: Database) -> None:
    db = ByNameDatabase(database)
    orders = TrackedOrderRepository(db)
    order = ("BTCUSDT", 1, "c1", "BUY", "LIMIT", Decimal(2))
    assert await orders.advance(7, OrderState(*order, "PARTIALLY_FILLED", Decimal(1))) is not None
    stale = OrderState(*order, "NEW", Decimal(0))
    assert await orders.advance(7, stale) is None  # an older answer rolls nothing back
    assert [o.executed for o in await orders.open_orders(7)] == [Decimal(1)]

    vault = CredentialVault(db, bytes(32))
    await vault.store(7, KeyType.HMAC, SecretStr("k" * 64), SecretStr("s" * 64), {"trade": True})
    stored = await vault.load(7)
    assert stored is not None and stored.secret.get_secret_value() == "s" * 64
    assert await vault.count() == 1


async def test_an_engine_failure_reaches_callers_as_storage_error(
    database: Database,
) -> None:
    with pytest.raises(StorageError) as read:
        await database.fetch_one("SELECT * FROM no_such_table")
    engine_error = sqlite3.Error if database.engine == "sqlite" else asyncpg.PostgresError
    assert isinstance(read.value.__cause__, engine_error)
    with pytest.raises(StorageError):
        async with database.transaction() as tx:
            await tx.execute("UPDATE alerts SET state = 'deleted'")
            await tx.execute("INSERT INTO no_such_table VALUES (1)")
    await database.check_writable()  # the failed transaction was rolled back, the lock let go


def test_a_migration_gives_an_engine_its_own_text_only_where_it_has_one() -> None:
    step = Migration("CREATE TABLE t (b BLOB); CREATE INDEX i ON t (b)", {"postgresql": "x"})
    assert step.statements("sqlite") == ["CREATE TABLE t (b BLOB)", "CREATE INDEX i ON t (b)"]
    assert step.text("postgresql") == "x"
    assert all(m.text("sqlite") == m.sql for m in MIGRATIONS)


async def test_open_database_picks_the_engine_from_the_url(database_target: str) -> None:
    expected = "postgresql" if database_target.startswith("postgresql://") else "sqlite"
    db = await open_database(database_target)
    try:
        assert db.engine == expected
    finally:
        await db.close()
    with pytest.raises(DatabaseUrlError, match="mysql:// is not a supported database"):
        await open_database("mysql://bot:secret@127.0.0.1/chatbot")
