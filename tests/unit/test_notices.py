"""Change notices (`Database.notify` / `listen`) on each engine: delivered after the change,
to every replica's listeners on PostgreSQL, and a lost LISTEN connection made again, with the
listeners told to reload what they may have missed."""

from __future__ import annotations

import asyncio

from chatbot.storage.database import Database, open_database


class Heard:
    """What one listener was told, with a way to wait for it."""

    def __init__(self) -> None:
        self.payloads: list[str | None] = []
        self._changed = asyncio.Event()

    async def __call__(self, payload: str | None) -> None:
        self.payloads.append(payload)
        self._changed.set()

    async def until(self, *expected: str | None) -> None:
        async with asyncio.timeout(10):
            while self.payloads[: len(expected)] != list(expected):
                self._changed.clear()
                await self._changed.wait()


async def test_a_notice_reaches_this_databases_listeners(database: Database) -> None:
    alerts, keys = Heard(), Heard()
    await database.listen("chatbot_alerts", alerts)
    await database.listen("chatbot_keys", keys)
    await database.notify("chatbot_alerts", "created 1 BTCUSDT")
    await database.notify("chatbot_keys", "42")
    await alerts.until("created 1 BTCUSDT")
    await keys.until("42")
    assert alerts.payloads == ["created 1 BTCUSDT"] and keys.payloads == ["42"]


async def test_a_notice_reaches_every_replica_on_postgresql(pg_dsn: str) -> None:
    replicas = [await open_database(pg_dsn) for _ in range(3)]
    try:
        heard = [Heard() for _ in replicas]
        for db, listener in zip(replicas, heard, strict=True):
            await db.listen("chatbot_alerts", listener)
        await replicas[0].notify("chatbot_alerts", "deleted 7 ETHUSDT")
        for listener in heard:
            await listener.until("deleted 7 ETHUSDT")
    finally:
        for db in replicas:
            await db.close()


async def test_a_lost_listen_connection_comes_back_and_says_reload(pg_dsn: str) -> None:
    listening, other = await open_database(pg_dsn), await open_database(pg_dsn)
    try:
        heard = Heard()
        await listening.listen("chatbot_keys", heard)
        killed = await other.fetch_all(
            "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        assert [row["done"] for row in killed] == [True]
        await heard.until(None)  # reconnected: what was missed is to be reloaded
        await other.notify("chatbot_keys", "7")
        await heard.until(None, "7")
    finally:
        await listening.close()
        await other.close()


async def test_a_chat_paused_on_one_replica_is_resumed_by_a_message_to_another(pg_dsn: str):
    """The guard asks `is_paused` of its replica's memory on every update: a chat paused by the
    replica whose send found it gone must be known paused on all, and resumed on all."""
    from chatbot.services.alerts import AlertService
    from chatbot.services.notices import ChangeNotices
    from chatbot.storage.alerts import AlertRepository
    from tests.e2e.helpers import until

    dbs = [await open_database(pg_dsn) for _ in range(2)]
    try:
        services = []
        for db, name in zip(dbs, ("here", "there"), strict=True):
            notices = ChangeNotices(db, name)
            service = AlertService(AlertRepository(db), None, notices=notices)
            await notices.on_chats(service.chat_heard)
            services.append(service)
        here, there = services
        await here.pause_chat(77)  # this replica's send found the chat gone
        await until(lambda: there.is_paused(77))
        await there.resume_chat(77)  # someone wrote from the chat; the message reached there
        await until(lambda: not here.is_paused(77))
    finally:
        for db in dbs:
            await db.close()
