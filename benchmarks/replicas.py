"""Replicas: the load benchmark's mix against one bot on SQLite, one on PostgreSQL and three on
one PostgreSQL behind a round-robin proxy, every bot a process of its own in webhook mode; then
the takeover time after one of three replicas is killed.

    python -m benchmarks.replicas --users 300 --duration 60   # or BENCH_REPLICA_USERS / _SECONDS

The set-up is the replica tests' (tests/e2e/replicas.py): the simulator, the Bot API emulator
(with Telegram's flood limits on) and the proxy run in this process, PostgreSQL is a throwaway
server (tests/pg_server.py), so it needs the machine's PostgreSQL binaries, as the tests do.
Takeover: one user's alerts on twenty symbols, a replica killed with SIGKILL, every symbol
moved past its alert; the time from the move to the last alert in the chat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from benchmarks.load import FIRST_USER, LoadResult, drive, ms, percentile, sandbox, seed_keys
from chatbot.storage.leases import symbol_shard
from tests.e2e.conftest import MASTER_KEY, ask
from tests.e2e.helpers import told, until
from tests.e2e.replicas import Replica, replica_set
from tests.pg_server import PostgresServer, create_database, start_server

SETUPS = [("1 replica, SQLite", False, 1), ("1 replica, PostgreSQL", True, 1)]
SETUPS += [("3 replicas, PostgreSQL", True, 3)]
# The load benchmark's settings: the bot's own limits and interval, quiet logs.
LOAD_ENV = {
    "CHATBOT_COMMAND_LIMIT": "20",
    "CHATBOT_BUTTON_LIMIT": "40",
    "CHATBOT_HEALTH_INTERVAL": "15",
    "LOG_LEVEL": "WARNING",
}
TAKEOVER_SYMBOLS = [
    "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "TRXUSDT",
    "LINKUSDT", "AVAXUSDT", "DOTUSDT", "LTCUSDT", "BCHUSDT", "SHIBUSDT", "PEPEUSDT", "TONUSDT",
    "UNIUSDT", "NEARUSDT", "ATOMUSDT", "SUIUSDT",
]  # fmt: skip
SHARDS = 16  # CHATBOT_LEASE_SHARDS, the default
TAKEOVER_LIMIT = 60.0  # seconds to wait for the last alert before saying there was no takeover


@dataclass
class Row:
    label: str
    result: LoadResult


async def load_run(
    label: str, on_postgres: bool, count: int, users: int, seconds: float, pg: PostgresServer
) -> Row:
    """The load mix for `seconds` against `count` replicas on a fresh database."""
    ids = list(range(FIRST_USER, FIRST_USER + users))
    keyed = set(ids[: users // 2])
    async with sandbox() as (sim, api):
        with tempfile.TemporaryDirectory() as tmp:
            target = pg.dsn(await create_database(pg)) if on_postgres else f"{tmp}/bot.sqlite3"
            await seed_keys(target, MASTER_KEY, sim, sorted(keyed))
            async with replica_set(api, sim, target, Path(tmp), count, **LOAD_ENV) as replicas:
                pid = replicas.replicas[0].process.pid
                return Row(label, await drive(sim, api, ids, keyed, seconds, bot_pid=pid))


@dataclass
class Takeover:
    killed_symbols: int  # of TAKEOVER_SYMBOLS, those whose market shard the killed replica held
    leases_moved: float | None  # seconds from the kill until the survivors hold every shard
    alerts_told: float | None  # seconds from the move to the last alert in the chat


async def takeover(pg: PostgresServer) -> Takeover:
    """Three replicas, twenty alerts; the replica holding the most of their symbols is killed
    with SIGKILL and every price moved past its alert at once: how long until the others hold
    its leases, and until the last alert reaches the chat (None: not within TAKEOVER_LIMIT)."""
    async with sandbox(flood_control=False) as (sim, api):
        with tempfile.TemporaryDirectory() as tmp:
            dsn = pg.dsn(await create_database(pg))
            async with replica_set(api, sim, dsn, Path(tmp), 3, LOG_LEVEL="WARNING") as replicas:
                chat = api.conversation(api.user(FIRST_USER, first_name="Taker"))
                for symbol in TAKEOVER_SYMBOLS:
                    await ask(chat, f"/alert {symbol} > {sim.price(symbol) * 2}")
                held = await _balanced(replicas.replicas)
                streams = [f"{s.lower()}@trade" for s in TAKEOVER_SYMBOLS]
                await until(lambda: all(sim.streams.listeners(s) for s in streams), 30)
                mine = [sum(symbol_shard(s, SHARDS) in h for s in TAKEOVER_SYMBOLS) for h in held]
                victim = mine.index(max(mine))
                await replicas.kill(victim, signal.SIGKILL)
                moved = time.monotonic()
                for symbol in TAKEOVER_SYMBOLS:
                    sim.set_price(symbol, sim.price(symbol) * 3)
                survivors = [r for r in replicas.replicas if r.index != victim]
                leases = asyncio.create_task(_all_held(survivors, moved))
                try:
                    await chat.wait_for(
                        lambda: len(set(told(chat))) >= len(TAKEOVER_SYMBOLS), TAKEOVER_LIMIT
                    )
                    alerts_told: float | None = time.monotonic() - moved
                except TimeoutError:
                    alerts_told = None
                return Takeover(mine[victim], await leases, alerts_told)


async def _market_leases(replica: Replica) -> set[int]:
    """The market shards a replica says it holds (its /healthz)."""
    async with aiohttp.ClientSession() as session, session.get(replica.healthz) as answer:
        return set((await answer.json())["replica"]["leases"]["market"])


async def _balanced(every: list[Replica]) -> list[set[int]]:
    """Wait until the replicas have shared the market leases out (the first to start holds
    them all until the others' first beats); what each holds then."""
    async with asyncio.timeout(TAKEOVER_LIMIT):
        while True:
            held = [await _market_leases(r) for r in every]
            if all(held) and len(set().union(*held)) == SHARDS:
                return held
            await asyncio.sleep(0.1)


async def _all_held(survivors: list[Replica], since: float) -> float | None:
    """Seconds from `since` until the survivors' /healthz together name every market shard."""
    while time.monotonic() - since < TAKEOVER_LIMIT:
        held: set[int] = set()
        for replica in survivors:
            held |= await _market_leases(replica)
        if len(held) == SHARDS:
            return time.monotonic() - since
        await asyncio.sleep(0.1)
    return None


async def measure(users: int, seconds: float) -> tuple[list[Row], Takeover]:
    pg = await asyncio.to_thread(start_server)
    try:
        rows = [
            await load_run(label, on_pg, count, users, seconds, pg)
            for label, on_pg, count in SETUPS
        ]
        return rows, await takeover(pg)
    finally:
        await asyncio.to_thread(pg.stop)


def table(rows: list[Row], takeover: Takeover) -> str:
    lines = [
        "| set-up | commands/s | p50 | p99 | unanswered | alert tick-to-chat p50 / p99 "
        "| alerts twice / never | Confirms / orders | Telegram 429s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        r, t = row.result, row.result.tally
        every = [v for values in t.latencies.values() for v in values]
        p50 = ms(statistics.median(every)) if every else "–"
        alerts = t.alert_latencies
        lines.append(
            f"| {row.label} | {t.commands / max(r.seconds, 1e-9):.1f} | {p50} "
            f"| {ms(percentile(every, 0.99))} | {sum(t.unanswered.values())} "
            f"| {ms(percentile(alerts, 0.5))} / {ms(percentile(alerts, 0.99))} "
            f"| {t.duplicate_alerts()} / {t.undelivered()} | {t.confirms} / {r.orders_placed} "
            f"| {r.flood_429} |"
        )
    lines += [
        "",
        "| takeover: 3 replicas, the one holding the most of 20 alerts' symbols killed (SIGKILL) "
        "| value |",
        "|---|---:|",
        f"| its symbols among the 20 | {takeover.killed_symbols} |",
        f"| kill -> survivors hold every market lease (CHATBOT_TAKEOVER_SECONDS=10) "
        f"| {_seconds(takeover.leases_moved)} |",
        f"| prices moved -> the last of the 20 alerts in the chat "
        f"| {_seconds(takeover.alerts_told)} |",
    ]
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return f"not within {TAKEOVER_LIMIT:.0f} s" if value is None else f"{value:.1f} s"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replicas", description=__doc__)
    parser.add_argument(
        "--users", type=int, default=int(os.environ.get("BENCH_REPLICA_USERS", 300))
    )
    parser.add_argument(
        "--duration", type=float, default=float(os.environ.get("BENCH_REPLICA_SECONDS", 60))
    )
    args = parser.parse_args(argv)
    print(table(*asyncio.run(measure(args.users, args.duration))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
