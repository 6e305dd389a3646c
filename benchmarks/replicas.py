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

from benchmarks.load import FIRST_USER, LoadResult, drive, ms, percentile, seed_keys
from chatbot.sandbox.botapi import BotApiEmulator
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.conftest import MASTER_KEY, ask
from tests.e2e.helpers import told, until
from tests.e2e.replicas import replica_set
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
TAKEOVER_LIMIT = 60.0  # seconds to wait for the last alert before saying there was no takeover


@dataclass
class Row:
    label: str
    result: LoadResult


async def load_run(
    label: str, on_postgres: bool, count: int, users: int, seconds: float, pg: PostgresServer
) -> Row:
    """The load mix for `seconds` against `count` replicas on a fresh database."""
    sim = ExchangeSimulator(seed=5, random_walk=False)
    api = BotApiEmulator(token="777:LOAD-TOKEN", bot_username="load_bot")
    await sim.start()
    await api.start()
    api.enable_flood_control()
    ids = list(range(FIRST_USER, FIRST_USER + users))
    keyed = set(ids[: users // 2])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            target = pg.dsn(await create_database(pg)) if on_postgres else f"{tmp}/bot.sqlite3"
            await seed_keys(target, MASTER_KEY, sim, sorted(keyed))
            async with replica_set(api, sim, target, Path(tmp), count, **LOAD_ENV) as replicas:
                pid = replicas.replicas[0].process.pid
                return Row(label, await drive(sim, api, ids, keyed, seconds, bot_pid=pid))
    finally:
        await api.stop()
        await sim.stop()


async def takeover(pg: PostgresServer) -> float | None:
    """Seconds from the prices' move to the last of twenty alerts, one of three replicas
    killed just before; None when some alert never came within TAKEOVER_LIMIT."""
    sim = ExchangeSimulator(seed=5, random_walk=False)
    api = BotApiEmulator(token="777:LOAD-TOKEN", bot_username="load_bot")
    await sim.start()
    await api.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            dsn = pg.dsn(await create_database(pg))
            async with replica_set(api, sim, dsn, Path(tmp), 3, LOG_LEVEL="WARNING") as replicas:
                chat = api.conversation(api.user(FIRST_USER, first_name="Taker"))
                for symbol in TAKEOVER_SYMBOLS:
                    await ask(chat, f"/alert {symbol} > {sim.price(symbol) * 2}")
                streams = [f"{s.lower()}@trade" for s in TAKEOVER_SYMBOLS]
                await until(lambda: all(sim.streams.listeners(s) for s in streams), 30)
                await replicas.kill(0, signal.SIGKILL)
                moved = time.monotonic()
                for symbol in TAKEOVER_SYMBOLS:
                    sim.set_price(symbol, sim.price(symbol) * 3)
                try:
                    await chat.wait_for(
                        lambda: len(set(told(chat))) >= len(TAKEOVER_SYMBOLS), TAKEOVER_LIMIT
                    )
                except TimeoutError:
                    return None
                return time.monotonic() - moved
    finally:
        await api.stop()
        await sim.stop()


async def measure(users: int, seconds: float) -> tuple[list[Row], float | None]:
    pg = await asyncio.to_thread(start_server)
    try:
        rows = [
            await load_run(label, on_pg, count, users, seconds, pg)
            for label, on_pg, count in SETUPS
        ]
        return rows, await takeover(pg)
    finally:
        await asyncio.to_thread(pg.stop)


def table(rows: list[Row], takeover_seconds: float | None) -> str:
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
    told_in = "no takeover" if takeover_seconds is None else f"{takeover_seconds:.1f} s"
    lines += ["", f"Takeover (3 replicas, one killed with SIGKILL, 20 symbols): {told_in}"]
    return "\n".join(lines)


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
