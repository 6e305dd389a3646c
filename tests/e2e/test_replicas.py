"""Three real bot processes on one PostgreSQL database behind one webhook (tests/e2e/replicas.py):
any replica takes any update, and what must happen once happens once.

Each test prints a summary line (pytest -s shows it) for the issue's closing note.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from chatbot.sandbox.botapi import BotApiEmulator, Conversation
from chatbot.sandbox.exchange import ExchangeSimulator
from chatbot.storage.migrations import MIGRATIONS
from tests.e2e.conftest import ALICE, ALICE_KEY, ALICE_SECRET, ask
from tests.e2e.helpers import (
    notices,
    place_resting_buy,
    price_of,
    sentinel_filled,
    told,
    until,
    until_async,
)
from tests.e2e.replicas import ReplicaSet, replica_set

# The first twenty USDT pairs of the simulator's market, at their seed prices.
SYMBOLS = [
    "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "TRXUSDT",
    "LINKUSDT", "AVAXUSDT", "DOTUSDT", "LTCUSDT", "BCHUSDT", "SHIBUSDT", "PEPEUSDT", "TONUSDT",
    "UNIUSDT", "NEARUSDT", "ATOMUSDT", "SUIUSDT",
]  # fmt: skip
TAKEOVER = 10.0  # seconds before another replica takes a silent replica's leases (the default)
TOLD_WITHIN = 10.0  # seconds from a crossing to its alert in the chat, once a replica holds it


@pytest.fixture
async def replicas(
    api: BotApiEmulator,
    exchange: ExchangeSimulator,
    pg_dsn: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[ReplicaSet]:
    """Three replicas of the bot on this test's PostgreSQL database, behind the proxy. On a
    failure, each replica's log tail goes to the test's report."""
    failed_before = request.session.testsfailed
    async with replica_set(api, exchange, pg_dsn, tmp_path) as started:
        yield started
    for replica in started.replicas:
        (tmp_path / f"replica-{replica.index}.log").write_text("\n".join(replica.log))
    if request.session.testsfailed > failed_before:  # the call failed: show what they said
        print(f"\n{request.node.nodeid}: replica logs\n{started.logs()}", file=sys.__stderr__)


def summary(name: str, **facts: object) -> None:
    """One line for the closing note: `pytest -s tests/e2e/test_replicas.py` shows them."""
    print(f"\n[replicas] {name}: " + ", ".join(f"{k}={v}" for k, v in facts.items()))


def user(api: BotApiEmulator, user_id: int) -> Conversation:
    return api.conversation(api.user(user_id, first_name=f"User{user_id}"))


async def setkey(conv: Conversation, exchange: ExchangeSimulator) -> None:
    exchange.add_account(
        ALICE_KEY, secret=ALICE_SECRET, balances={"USDT": Decimal(1000), "BTC": Decimal(1)}
    )
    stored = await ask(conv, f"/setkey {ALICE_KEY} {ALICE_SECRET}")
    assert "stored" in stored.text, stored.text


def bot_messages(conv: Conversation) -> list[str]:
    return [m.text for m in conv.messages if m.from_bot]


async def test_three_replicas_migrate_once_and_each_answers_its_share(api, replicas, pg_dsn):
    connection = await asyncpg.connect(pg_dsn)
    try:
        rows = await connection.fetch("SELECT version FROM schema_version")
        versions = [row["version"] for row in rows]
    finally:
        await connection.close()
    assert versions == [len(MIGRATIONS)]

    users = [user(api, 2000 + i) for i in range(9)]
    quotes = await asyncio.gather(*(ask(u, "/price BTC") for u in users))
    assert all("BTCUSDT" in q.text for q in quotes), [q.text for q in quotes]
    # a later answer in each chat: had a command been answered twice, the copy came before it
    later = await asyncio.gather(*(ask(u, "/price ETH") for u in users))
    assert all("ETHUSDT" in q.text for q in later), [q.text for q in later]
    assert [len(bot_messages(u)) for u in users] == [2] * len(users)
    spread = replicas.spread()
    assert all(spread[r] > 0 for r in spread), spread
    summary(
        "start-up", replicas=3, started_in=f"{replicas.started_in:.1f}s",
        schema_version=versions[0], updates_per_replica=spread,
    )  # fmt: skip


async def test_fifty_confirm_presses_over_three_replicas_place_one_order(api, exchange, replicas):
    alice = user(api, ALICE)
    await setkey(alice, exchange)
    exchange.set_price("BTCUSDT", Decimal(60000))
    preview = await ask(alice, "/buy BTCUSDT 0.001")
    before = len(replicas.took(ALICE))

    presses = await asyncio.gather(*(alice.press(preview, "Confirm") for _ in range(50)))
    answers = await asyncio.gather(*(alice.answer(q, timeout=30) for q in presses))
    await alice.wait_for(lambda: "Filled" in alice.current(preview).text, 30)

    placing = [a.text for a in answers if a.text == "Placing the order…"]
    others = [a.text for a in answers if a.text != "Placing the order…"]
    assert len(placing) == 1, [a.text for a in answers]
    assert all(t.startswith("Already") for t in others), others
    assert len(exchange.orders_for(ALICE_KEY)) == 1
    pressed_on = replicas.took(ALICE)[before:]
    assert len(pressed_on) == 50 and set(pressed_on) == {0, 1, 2}, pressed_on
    summary(
        "50 Confirm presses", orders=len(exchange.orders_for(ALICE_KEY)),
        placing_answers=len(placing), already_answers=len(others),
        presses_per_replica={r: pressed_on.count(r) for r in range(3)},
    )  # fmt: skip


async def test_a_setkey_conversation_over_three_replicas(api, exchange, replicas):
    alice = user(api, ALICE)
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET, balances={"USDT": Decimal(1000)})
    before = len(replicas.took(ALICE))

    assert "API key" in (await ask(alice, "/setkey")).text
    key_message = await alice.send(ALICE_KEY)
    assert "secret" in (await alice.reply(timeout=20)).text
    secret_message = await alice.send(ALICE_SECRET)
    stored = await alice.reply(timeout=20)

    steps = replicas.took(ALICE)[before:]
    assert len(steps) == 3 and len(set(steps)) == 3, steps  # each step on another replica
    assert "stored" in stored.text, stored.text
    assert alice.current(key_message).deleted and alice.current(secret_message).deleted
    assert "Key: " in (await ask(alice, "/keyinfo")).text  # on file, whichever replica asks
    summary("/setkey over replicas", steps_on=steps, stored=True)


async def alerts_set(conv: Conversation, symbols: list[str], exchange: ExchangeSimulator) -> None:
    """One alert per symbol, at twice its price, one command after another."""
    for symbol in symbols:
        level = exchange.price(symbol) * 2
        reply = await ask(conv, f"/alert {symbol} > {level}")
        assert re.search(r"Alert #\d+ set", reply.text), reply.text


async def watched(exchange: ExchangeSimulator, symbols: list[str]) -> None:
    """Wait until some replica's market stream carries each symbol's trades (the simulator's
    subscriptions are the fact: a trade published after them reaches the bot)."""
    streams = [f"{s.lower()}@trade" for s in symbols]
    await until(lambda: all(exchange.streams.listeners(s) for s in streams), 30)


def cross(exchange: ExchangeSimulator, symbols: list[str]) -> float:
    """Every symbol trades at three times its seed price, past every alert; when it did."""
    for symbol in symbols:
        exchange.set_price(symbol, exchange.price(symbol) * 3)
    return time.monotonic()


async def outbox_drained(dsn: str) -> bool:
    connection = await asyncpg.connect(dsn)
    try:
        pending = await connection.fetchval("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
    finally:
        await connection.close()
    return pending == 0


async def all_told(users: list[Conversation], expected: int, dsn: str, within: float) -> None:
    """Wait until every alert was told at least once and nothing more waits to be sent."""

    async def done() -> bool:
        every = sum(len(set(told(u))) for u in users) >= expected
        return every and await outbox_drained(dsn)

    try:
        await until_async(done, within)
    except AssertionError:
        count = sum(len(set(told(u))) for u in users)
        raise AssertionError(f"{count} of {expected} alerts told within {within:.0f} s") from None


# Every replica evaluates every alert until leases split the symbols: the database decides
# which replica fires an alert (a conditional update) and which sends it (an outbox claim).
async def test_a_thousand_alerts_over_twenty_symbols_fire_once_each(
    api, exchange, replicas, pg_dsn
):
    users = [user(api, 4000 + i) for i in range(50)]
    await asyncio.gather(*(alerts_set(u, SYMBOLS, exchange) for u in users))
    await watched(exchange, SYMBOLS)

    crossed = cross(exchange, SYMBOLS)
    await all_told(users, 1000, pg_dsn, within=60)
    took = time.monotonic() - crossed

    counts = [told(u).count(i) for u in users for i in set(told(u))]
    assert len(counts) == 1000 and set(counts) == {1}
    summary(
        "1,000 alerts over 20 symbols", alerts_fired=len(counts), duplicates=0,
        crossing_to_last_alert=f"{took:.1f}s", updates_per_replica=replicas.spread(),
    )  # fmt: skip


# The killed replica's market and user shards are taken over by the others (leases), which
# catch up from REST and fire what crossed meanwhile, once.
async def test_a_replica_killed_mid_run_loses_no_alert_and_no_fill(api, exchange, replicas, pg_dsn):
    alice = user(api, ALICE)
    await setkey(alice, exchange)
    await place_resting_buy(alice, exchange, "55000")
    users = [user(api, 4000 + i) for i in range(10)]
    await asyncio.gather(*(alerts_set(u, SYMBOLS[1:], exchange) for u in users))
    await watched(exchange, SYMBOLS[1:])

    await replicas.kill(0, signal.SIGKILL)
    crossed = cross(exchange, SYMBOLS[1:])
    exchange.set_price("BTCUSDT", Decimal(54990))  # Alice's resting buy fills
    await all_told(users, 10 * 19, pg_dsn, within=TOLD_WITHIN + TAKEOVER)
    took = time.monotonic() - crossed
    await alice.wait_for(lambda: any(price_of(m) == "55000" for m in notices(alice)), 30)
    await sentinel_filled(alice, exchange, "54000")  # any second notice came before this one

    counts = [told(u).count(i) for u in users for i in set(told(u))]
    assert len(counts) == 190 and set(counts) == {1}
    assert [price_of(m) for m in notices(alice)].count("55000") == 1
    summary(
        "replica 0 killed (SIGKILL)", alerts_fired=len(counts), duplicates=0,
        crossing_to_last_alert=f"{took:.1f}s", fill_notices=1,
        updates_per_replica=replicas.spread(),
    )  # fmt: skip
