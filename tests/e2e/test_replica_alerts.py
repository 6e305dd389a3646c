"""Price alerts shared out between two replicas of the real bot on one PostgreSQL database,
against one simulator, both in webhook mode: A set its webhook last, so the emulator posts
every update to A (Alice talks to A) and B only does the work of the shards it holds. Each symbol's
alerts are evaluated by the replica holding its market shard; an alert made through A for one
of B's symbols fires once, from B; when B's keeper dies, A takes its shard within the takeover
time and fires what crossed meanwhile, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from decimal import Decimal

import pytest
from telegram.ext import Application

from chatbot.app import running_bot
from chatbot.config import Settings
from chatbot.runtime import runtime
from chatbot.storage.leases import ShardKind, symbol_shard
from tests.e2e.conftest import ALICE, ask
from tests.e2e.helpers import free_port, sentinel_fires, told, until, watching

TAKEOVER = 1.6
SHARDS = 2
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "XRPUSDT")


@pytest.fixture
async def replicas(settings_factory, pg_dsn) -> AsyncIterator[tuple[Application, Application]]:
    """A (long polling) and B (no updates), each holding one of the two market shards."""
    common = {
        "CHATBOT_DB": pg_dsn,
        "CHATBOT_TAKEOVER_SECONDS": str(TAKEOVER),
        "CHATBOT_LEASE_SHARDS": str(SHARDS),
    }

    def replica(name: str) -> Settings:
        port = free_port()
        return settings_factory(
            **common,
            CHATBOT_REPLICA_ID=name,
            CHATBOT_HTTP_PORT=str(port),
            CHATBOT_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
        )

    async with AsyncExitStack() as stack:
        b = await stack.enter_async_context(running_bot(replica("b")))
        a = await stack.enter_async_context(running_bot(replica("a")))  # its webhook wins
        await until(
            lambda: all(len(runtime(r).leases.held(ShardKind.MARKET)) == 1 for r in (a, b)), 15
        )
        yield a, b


def symbol_of(replica: Application) -> str:
    """A symbol whose market shard `replica` holds."""
    held = runtime(replica).leases.held(ShardKind.MARKET)
    return next(s for s in SYMBOLS if symbol_shard(s, SHARDS) in held)


async def test_an_alert_made_on_one_replica_fires_once_from_the_replica_holding_its_symbol(
    api, exchange, replicas
):
    a, b = replicas
    alice = api.conversation(api.user(ALICE, first_name="Alice"))
    symbol = symbol_of(b)
    exchange.set_price(symbol, Decimal("100"))
    reply = await ask(alice, f"/alert {symbol} > 110")
    assert "Alert #1 set" in reply.text, reply.text
    assert 1 not in runtime(a).services.alerts.book  # A does not evaluate B's symbols
    await until(lambda: 1 in runtime(b).services.alerts.book)  # the change notice reached B
    await watching(b, symbol)
    assert symbol not in runtime(a).alert_feed.stream.symbols
    exchange.set_price(symbol, Decimal("111"))
    await alice.wait_for(lambda: 1 in told(alice), timeout=15)
    await sentinel_fires(alice, exchange, symbol, "120")
    assert told(alice) == [1, 2]


async def test_a_dead_replicas_symbols_are_taken_over_and_what_crossed_meanwhile_fires_once(
    api, exchange, replicas
):
    a, b = replicas
    alice = api.conversation(api.user(ALICE, first_name="Alice"))
    symbol = symbol_of(b)
    exchange.set_price(symbol, Decimal("100"))
    assert "Alert #1 set" in (await ask(alice, f"/alert {symbol} > 110")).text
    await until(lambda: 1 in runtime(b).services.alerts.book)
    # B dies: its keeper stops renewing (nothing released) and its market stream goes
    keeper = runtime(b).leases
    assert keeper.task is not None
    keeper.task.cancel()
    await runtime(b).alert_feed.stream.stop()
    exchange.set_price(symbol, Decimal("111"))  # crossed while only the dead replica held it
    started = asyncio.get_running_loop().time()
    await alice.wait_for(lambda: 1 in told(alice), timeout=15)
    took = asyncio.get_running_loop().time() - started
    assert took < TAKEOVER + 3, took  # the takeover, then a catch-up from REST
    assert symbol_shard(symbol, SHARDS) in runtime(a).leases.held(ShardKind.MARKET)
    # a later fact: a fresh alert on the symbol, now A's, fires; #1 was told once before it
    assert "Alert #2 set" in (await ask(alice, f"/alert {symbol} > 120 sentinel")).text
    await watching(a, symbol)
    exchange.set_price(symbol, Decimal("121"))
    await alice.wait_for(lambda: 2 in told(alice), timeout=15)
    assert told(alice) == [1, 2]
