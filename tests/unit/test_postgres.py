"""The PostgreSQL engine's own start-up and wire, on a throwaway server: replicas migrating
together, a schema newer than the bot, `?` marks and row counts, and a DSN's password kept out
of every message. (The repositories' behaviour on both engines is in test_storage.py,
test_storage_interface.py, test_tickets.py and test_outbox.py.)"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import pytest

from chatbot.storage.database import SchemaTooNew, StorageError, open_database
from chatbot.storage.migrations import MIGRATIONS
from chatbot.storage.postgres import numbered, rowcount

PASSWORD = "hunter2-not-for-logs"


def with_password(dsn: str) -> str:
    """The DSN with a password in it (the test server trusts 127.0.0.1, so any one works)."""
    parts = urlsplit(dsn)
    netloc = f"{parts.username}:{PASSWORD}@{parts.hostname}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


async def test_replicas_starting_together_migrate_once(pg_dsn: str) -> None:
    """Three opens at once on one fresh database: the advisory lock lets one migrate, the
    others find the work done (two creating the same tables would fail)."""
    opened = await asyncio.gather(*(open_database(pg_dsn) for _ in range(3)))
    try:
        assert [await db.schema_version() for db in opened] == [len(MIGRATIONS)] * 3
        rows = await opened[0].fetch_all("SELECT version FROM schema_version")
        assert [r["version"] for r in rows] == [len(MIGRATIONS)]
    finally:
        for db in opened:
            await db.close()


async def test_a_newer_schema_stops_start_up_and_the_message_hides_the_password(
    pg_dsn: str,
) -> None:
    db = await open_database(pg_dsn)
    await db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS) + 1,))
    await db.close()
    with pytest.raises(SchemaTooNew, match="newer than this version") as refused:
        await open_database(with_password(pg_dsn))
    assert PASSWORD not in str(refused.value) and ":***@" in str(refused.value)


async def test_a_server_that_cannot_be_reached_is_a_storage_error_without_the_password() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StorageError) as refused:
        await open_database(f"postgresql://bot:{PASSWORD}@127.0.0.1:{port}/chatbot")
    assert PASSWORD not in str(refused.value)


def test_question_marks_are_numbered_in_order_outside_quotes() -> None:
    sql = "SELECT '?' AS q, \"a?\" FROM t WHERE a = ? AND b IN (?, ?) AND c = 'it''s ?'"
    assert numbered(sql) == (
        "SELECT '?' AS q, \"a?\" FROM t WHERE a = $1 AND b IN ($2, $3) AND c = 'it''s ?'"
    )


@pytest.mark.parametrize(
    ("status", "count"),
    [("UPDATE 3", 3), ("INSERT 0 1", 1), ("DELETE 0", 0), ("CREATE TABLE", 0), ("SELECT 2", 2)],
)
def test_a_row_count_is_read_from_the_command_status(status: str, count: int) -> None:
    assert rowcount(status) == count


async def test_ids_and_milliseconds_past_32_bits_are_kept(pg_dsn: str) -> None:
    """Ids and milliseconds past 2**31 fit (every INTEGER of SQLite's text is a BIGINT here)."""
    db = await open_database(pg_dsn)
    try:
        await db.execute(
            "INSERT INTO order_sync (user_id, synced_ms) VALUES (?, ?)",
            (7_000_000_000, 1_700_000_000_123),
        )
        row = await db.fetch_one("SELECT synced_ms FROM order_sync WHERE user_id = ?", (7 * 10**9,))
        assert row is not None and row["synced_ms"] == 1_700_000_000_123
    finally:
        await db.close()
