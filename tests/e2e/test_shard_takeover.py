"""Price alerts and fills shared out between two replicas of the real bot on one PostgreSQL
database, against one simulator, both in webhook mode: A set its webhook last, so the emulator posts
every update to A (Alice talks to A) and B only does the work of the shards it holds. Each symbol's
alerts are evaluated by the replica holding its market shard; an alert made through A for one
of B's symbols fires once, from B; when B's keeper dies, A takes its shard within the takeover
time and fires what crossed meanwhile, once. Likewise a user's orders are followed by the
replica holding the user's shard, and a fill made while that replica is dead is told once, by
the one that takes the shard over."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from decimal import Decimal

import pytest
from telegram.ext import Application

from chatbot.app import running_bot
from chatbot.config import Settings
from chatbot.runtime import runtime
from chatbot.sandbox.botapi.conversation import Conversation
from chatbot.sandbox.exchange.server import ExchangeSimulator
from chatbot.storage.leases import ShardKind, symbol_shard
from tests.e2e.conftest import ALICE, ALICE_KEY, ALICE_SECRET, BOB, ask
from tests.e2e.helpers import (
    free_port,
    get,
    notices,
    place_resting_buy,
    price_of,
    sentinel_filled,
    told,
    until,
    watching,
)

TAKEOVER = 1.6
SHARDS = 2
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "XRPUSDT")


@pytest.fixture
async def replicas(settings_factory, pg_dsn) -> AsyncIterator[tuple[Application, Application]]:
    """A (every update) and B (none), each holding one of the two shards of each kind."""
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
            lambda: all(len(runtime(r).leases.held(k)) == 1 for r in (a, b) for k in ShardKind),
            15,
        )
        yield a, b


async def sentinel_fires_on(
    owner: Application, chat: Conversation, exchange: ExchangeSimulator, symbol: str
) -> None:
    """A later fact to wait for: a fresh alert on `symbol` (its one-shot alerts fired, so the
    stream had let it go) is watched again by `owner`, crossed, and told; every message an
    earlier trade could cause has arrived by then."""
    reply = await ask(chat, f"/alert {symbol} > 120 sentinel")
    assert "Alert #2 set" in reply.text, reply.text
    await until(lambda: 2 in runtime(owner).services.alerts.book)
    await watching(owner, symbol)
    exchange.set_price(symbol, Decimal("121"))
    await chat.wait_for(lambda: 2 in told(chat), timeout=15)


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
    await sentinel_fires_on(b, alice, exchange, symbol)
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
    await sentinel_fires_on(a, alice, exchange, symbol)
    assert told(alice) == [1, 2]


async def test_a_fill_while_the_users_replica_is_dead_is_told_once_after_the_takeover(
    api, exchange, replicas
):
    a, b = replicas
    held = runtime(b).leases.held(ShardKind.USERS)
    user = next(u for u in (ALICE, BOB) if u % SHARDS in held)  # a user B follows
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET, balances={"USDT": Decimal("1000")})
    chat = api.conversation(api.user(user, first_name="Trader"))
    assert "stored" in (await ask(chat, f"/setkey {ALICE_KEY} {ALICE_SECRET}")).text
    # stored through A, followed by B (the key's change notice reached it)
    await until(lambda: user in runtime(b).fill_feed.stream.subscribed_users)
    assert user not in runtime(a).fill_feed.stream.subscribed_users
    await place_resting_buy(chat, exchange)
    # B dies: its keeper stops renewing (nothing released) and its streams go
    keeper = runtime(b).leases
    assert keeper.task is not None
    keeper.task.cancel()
    await runtime(b).fill_feed.stop()
    exchange.set_price("BTCUSDT", Decimal("54990"))  # filled while nobody follows the user
    await chat.wait_for(lambda: any(price_of(m) == "55000" for m in notices(chat)), timeout=15)
    assert user in runtime(a).fill_feed.stream.subscribed_users
    await sentinel_filled(chat, exchange)
    assert [price_of(m) for m in notices(chat)] == ["55000", "54000"]


async def test_healthz_and_metrics_say_which_replica_holds_what(replicas):
    answers = {}
    for replica in replicas:
        base = f"http://127.0.0.1:{runtime(replica).settings.http_port}"
        status, body = await get(f"{base}/healthz")
        assert status == 200, body
        answers[runtime(replica).leases.replica_id] = json.loads(body)["replica"]
        status, metrics = await get(f"{base}/metrics")
        assert 'chatbot_leases_held{kind="market"} 1.0' in metrics
        assert 'chatbot_leases_held{kind="users"} 1.0' in metrics
        assert "chatbot_replicas_live 2.0" in metrics
    assert {name: answer["id"] for name, answer in answers.items()} == {"a": "a", "b": "b"}
    assert all(answer["live"] == ["a", "b"] for answer in answers.values())
    for kind in ("market", "users"):
        held = [set(answer["leases"][kind]) for answer in answers.values()]
        assert held[0] | held[1] == set(range(SHARDS)) and not held[0] & held[1]
