"""Shared fixtures: the sandbox servers, in-process on 127.0.0.1, on ports the OS picks, and a
throwaway PostgreSQL server with a fresh database per test, and the bot's database on each
engine in turn (`database`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatbot.sandbox.exchange import ExchangeSimulator
from chatbot.storage.database import Database, open_database
from tests.pg_server import (
    PostgresServer,
    Unavailable,
    create_database,
    drop_database,
    start_server,
)

ExchangeFactory = Callable[..., Awaitable[ExchangeSimulator]]


@pytest.fixture
async def exchange_factory() -> AsyncIterator[ExchangeFactory]:
    """Start simulators with any `ExchangeSimulator` options; all are stopped after the test."""
    started: list[ExchangeSimulator] = []

    async def start(**options: Any) -> ExchangeSimulator:
        sim = ExchangeSimulator(**{"seed": 1, "random_walk": False, **options})
        await sim.start(host="127.0.0.1", port=0)
        started.append(sim)
        return sim

    try:
        yield start
    finally:
        for sim in started:
            await sim.stop()


@pytest.fixture
async def exchange(exchange_factory: ExchangeFactory) -> ExchangeSimulator:
    """A started Binance simulator: mainnet behaviour, seed 1, prices move only when told."""
    return await exchange_factory(network="mainnet")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole session (see tests/pg_server.py); skips
    with one line saying how to get the binaries when this machine has none."""
    try:
        server = start_server()
    except Unavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def pg_dsn(pg_server: PostgresServer) -> AsyncIterator[str]:
    """A fresh, empty database of its own for this test, dropped after it; its DSN."""
    name = await create_database(pg_server)
    try:
        yield pg_server.dsn(name)
    finally:
        await drop_database(pg_server, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where this test's database lives, once per engine: a SQLite file in tmp_path, or a fresh
    PostgreSQL database (skipped, saying how to get the binaries, where there is no server)."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_dsn")
    return str(tmp_path / "bot.sqlite3")


# For a test that by nature reads or writes the bot's SQLite file by hand (its bytes on disk, its
# write lock, its file modes): `@SQLITE_ONLY` keeps only the `[sqlite]` run of `database_target`.
SQLITE_ONLY = pytest.mark.parametrize("database_target", ["sqlite"], indirect=True)


@pytest.fixture
async def database(database_target: str) -> AsyncIterator[Database]:
    """An open, migrated database on each engine in turn (see `database_target`)."""
    db = await open_database(database_target)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def other(database_target: str) -> AsyncIterator[Database]:
    """A second replica's own connection(s) to the database of `database`, as another bot
    process on the same database would have (on SQLite, a second connection to the file)."""
    db = await open_database(database_target)
    try:
        yield db
    finally:
        await db.close()
