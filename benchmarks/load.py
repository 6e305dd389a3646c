"""Load: many users at once against the real bot, the exchange simulator and the Bot API
emulator on real sockets; prints a Markdown table of what they got.

    python -m benchmarks.load --users 1000 --duration 180     # or BENCH_LOAD_USERS / _SECONDS

Half the users (by default) have a key, sealed into the database before the bot starts, so the
run begins like a restart of a bot with that many users. The bot runs in its own process
(`python -m chatbot run`) so its RSS and CPU are its own; the simulator, the emulator (with
Telegram's flood limits on) and the users share this process. The Binance columns are counted
by the simulator, independently of the client: the most weight spent in one minute, and every
429 (weight or order count) and 418 it answered.

`drive()` is the run itself, for any started simulator, emulator and bot: the end-to-end test
(tests/e2e/test_load.py) runs a short one against the in-process bot of its fixtures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr

from benchmarks.load_users import PriceMover, Tally, User, busiest
from chatbot.key_types import KeyType
from chatbot.sandbox.botapi import BotApiEmulator
from chatbot.sandbox.exchange import ExchangeSimulator
from chatbot.storage.database import open_database
from chatbot.storage.vault import CredentialVault

FIRST_USER = 100_000
FUNDS = {"USDT": Decimal("100000"), "BTC": Decimal("10")}
ROOT = str(Path(__file__).resolve().parents[1])  # the bot's process imports from here
ALERT_GRACE = 30.0  # seconds after the run for alerts already due to reach their chats


def key_pair(user_id: int) -> tuple[str, str]:
    return f"LoadKey{user_id:010d}" + "k" * 47, f"LoadSecret{user_id:010d}" + "s" * 44


async def seed_keys(database: str, master_key: str, sim: ExchangeSimulator, ids: list[int]) -> None:
    """Fund a simulator account per user and seal its key into the bot's database (CHATBOT_DB:
    a SQLite path or a postgresql:// URL)."""
    db = await open_database(database)
    try:
        vault = CredentialVault(db, base64.urlsafe_b64decode(master_key))
        rights = {"trade": True, "withdraw": False, "ip_restricted": False}
        for user_id in ids:
            key, secret = key_pair(user_id)
            sim.add_account(key, secret=secret, balances=FUNDS)
            await vault.store(user_id, KeyType.HMAC, SecretStr(key), SecretStr(secret), rights)
    finally:
        await db.close()


@dataclass
class LoadResult:
    users: int
    keyed: int
    planned: float  # seconds during which commands were started
    seconds: float  # until the last one was answered (or given up)
    tally: Tally
    weight_peak: int
    weight_limit: int
    refused_429: int
    unheeded_429: int
    banned_418: int
    flood_429: int
    orders_placed: int
    rss_mb: float
    peak_rss_mb: float
    cpu_seconds: float

    @property
    def answered_all(self) -> bool:
        return not sum(self.tally.unanswered.values())

    @property
    def max_sends_per_second(self) -> int:
        """The most bot messages in any one second (a sliding window, not clock seconds)."""
        return busiest(self.tally.sends, 1.0)


async def drive(
    sim: ExchangeSimulator,
    api: BotApiEmulator,
    user_ids: Sequence[int],
    keyed: set[int],
    seconds: float,
    *,
    bot_pid: int,
    seed: int = 11,
    move_interval: float = 1.0,
) -> LoadResult:
    """Run the users for `seconds` against a started bot, then wait for due alerts."""
    from benchmarks.load_users import ChatFeed

    rng = random.Random(seed)
    tally = Tally()
    feed = ChatFeed(api, tally)
    users = [
        User(
            api.conversation(api.user(uid, first_name=f"User{uid}")),
            feed,
            sim,
            tally,
            random.Random(rng.random()),
            keyed=uid in keyed,
        )
        for uid in user_ids
    ]
    cpu_before, started = cpu_seconds(bot_pid), time.perf_counter()
    until = started + seconds
    mover = PriceMover(sim, tally, random.Random(rng.random()))
    await asyncio.gather(mover.run(move_interval, until), *(user.run(until) for user in users))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(bot_pid) - cpu_before
    with contextlib.suppress(TimeoutError):  # the table shows how many never arrived
        await api.world.signal.wait_for(
            lambda: True if tally.undelivered() == 0 else None, ALERT_GRACE, "due alerts"
        )
    rss, peak = memory_mb(bot_pid)
    return LoadResult(
        users=len(user_ids),
        keyed=len(keyed),
        planned=seconds,
        seconds=elapsed,
        tally=tally,
        weight_peak=sim.limits.peak_weight,
        weight_limit=sim.limits.weight_per_minute,
        refused_429=sim.limits.refused_weight + sim.limits.refused_orders,
        unheeded_429=sim.limits.unheeded,
        banned_418=sim.faults.ban_answers,
        flood_429=api.flood_refusals,
        orders_placed=sum(len(sim.orders_for(key_pair(uid)[0])) for uid in keyed),
        rss_mb=rss,
        peak_rss_mb=peak,
        cpu_seconds=cpu,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident memory now and at its peak (VmRSS, VmHWM), in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else float("nan")


def table(r: LoadResult) -> str:
    """The Markdown tables: the run as a whole, then latency per command."""
    t = r.tally
    lines = ["| measure | value |", "|---|---:|", *(f"| {a} | {b} |" for a, b in _rows(r))]
    lines += ["", "| command | served | unanswered | p50 | p99 |", "|---|---:|---:|---:|---:|"]
    for name, values in sorted(t.latencies.items()):
        p50, p99 = ms(statistics.median(values)), ms(percentile(values, 0.99))
        lines.append(f"| {name} | {len(values):,} | {t.unanswered[name]} | {p50} | {p99} |")
    if t.unanswered_presses:
        lines += ["", "Confirm presses with no outcome, by the press's answer:"]
        lines += [f"- {count} × {text!r}" for text, count in t.unanswered_presses.most_common()]
    return "\n".join(lines)


def _rows(r: LoadResult) -> list[tuple[str, str]]:
    t, served = r.tally, r.tally.commands
    mean_sends = len(t.sends) / max(r.seconds, 1e-9)
    chat_second = max((busiest(times, 1.0) for times in t.chat_sends.values()), default=0)
    chat_minute = max((busiest(times, 60.0) for times in t.chat_sends.values()), default=0)
    alerts = t.alert_latencies
    alert_counts = [len(t.alerts), len(t.alerts_due()), t.duplicate_alerts(), t.undelivered()]
    cpu_ms = 1000 * r.cpu_seconds / max(served, 1)
    return [
        ("users (with a key)", f"{r.users:,} ({r.keyed:,})"),
        ("run: commands started for / last answer at", f"{r.planned:.0f} s / {r.seconds:.0f} s"),
        ("commands served", f"{served:,} ({served / r.seconds:.1f}/s)"),
        ("unanswered", f"{sum(t.unanswered.values())}"),
        ("internal errors (must be 0)", f"{t.internal_errors}"),
        ("'request limit' replies", f"{t.rate_limited_replies}"),
        ("Binance weight peak / limit per minute", f"{r.weight_peak:,} / {r.weight_limit:,}"),
        ("Binance 429s / 418s (must be 0)", f"{r.refused_429} / {r.banned_418}"),
        ("calls sent into a standing 429 (Binance bans for these)", f"{r.unheeded_429}"),
        (
            "Telegram sends/s: peak / mean (limit 30)",
            f"{r.max_sends_per_second} / {mean_sends:.1f}",
        ),
        ("Telegram sends per chat: peak per second / minute", f"{chat_second} / {chat_minute}"),
        ("Telegram edits", f"{t.edits:,}"),
        ("Telegram 429s (flood limits)", f"{r.flood_429}"),
        ("alerts set / due / delivered twice / never", " / ".join(map(str, alert_counts))),
        (
            "alert tick-to-chat p50 / p99",
            f"{ms(percentile(alerts, 0.5))} / {ms(percentile(alerts, 0.99))}",
        ),
        ("Confirm presses / orders on the exchange", f"{t.confirms} / {r.orders_placed}"),
        ("previews left at 'Sending to Binance…'", f"{t.stuck_previews}"),
        ("bot RSS at end / peak", f"{r.rss_mb:.0f} MB / {r.peak_rss_mb:.0f} MB"),
        ("bot CPU per command", f"{cpu_ms:.2f} ms ({r.cpu_seconds:.1f} s in all)"),
    ]


def ms(seconds: float) -> str:
    return "–" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


Sandbox = tuple[ExchangeSimulator, BotApiEmulator]


@contextlib.asynccontextmanager
async def sandbox(*, flood_control: bool = True) -> AsyncIterator[Sandbox]:
    """The simulator and the Bot API emulator (with Telegram's flood limits on) the bot runs
    against in a benchmark, started in this process and stopped after it."""
    sim = ExchangeSimulator(seed=5, random_walk=False)
    api = BotApiEmulator(token="777:LOAD-TOKEN", bot_username="load_bot")
    await sim.start()
    await api.start()
    if flood_control:
        api.enable_flood_control()
    try:
        yield sim, api
    finally:
        await api.stop()
        await sim.stop()


async def run(users: int, seconds: float, *, keyed_share: float = 0.5) -> LoadResult:
    """The whole benchmark: simulator, emulator, the bot in its own process, the users."""
    ids = list(range(FIRST_USER, FIRST_USER + users))
    keyed = set(ids[: round(users * keyed_share)])
    master = base64.urlsafe_b64encode(os.urandom(32)).decode()
    async with sandbox() as (sim, api):
        with tempfile.TemporaryDirectory() as tmp:
            db_path = str(Path(tmp) / "load.sqlite3")
            await seed_keys(db_path, master, sim, sorted(keyed))
            env = {
                **os.environ,
                "PYTHONPATH": ROOT,
                "TELEGRAM_BOT_TOKEN": api.token,
                "TELEGRAM_API_URL": api.url,
                "CHATBOT_MASTER_KEY": master,
                "CHATBOT_DB": db_path,
                "BINANCE_API_URL": sim.rest_url,
                "BINANCE_STREAM_URL": sim.stream_url,
                "BINANCE_WS_API_URL": sim.ws_api_url,
                "BINANCE_FUTURES_API_URL": sim.futures_rest_url,
                "BINANCE_FUTURES_STREAM_URL": sim.futures_stream_url,
                "CHATBOT_ALLOWED_USERS": "*",
                "LOG_LEVEL": "WARNING",
            }
            log_path = Path(tmp) / "bot.log"
            with log_path.open("wb") as log:
                bot = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "chatbot", "run", env=env, cwd=tmp, stderr=log
                )
                try:
                    await api.wait_for_call("getUpdates", timeout=60)
                    return await drive(sim, api, ids, keyed, seconds, bot_pid=bot.pid)
                finally:
                    bot.terminate()
                    await bot.wait()
                    if keep := os.environ.get("BENCH_LOAD_LOG"):
                        shutil.copyfile(log_path, keep)  # the bot's log (LOG_LEVEL=WARNING)
                    errors = [ln for ln in log_path.read_text().splitlines() if "ERROR" in ln]
                    if errors:
                        print(f"bot log: {len(errors)} ERROR lines, first: {errors[0][:300]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--users", type=int, default=int(os.environ.get("BENCH_LOAD_USERS", 1000)))
    parser.add_argument(
        "--duration", type=float, default=float(os.environ.get("BENCH_LOAD_SECONDS", 180))
    )
    args = parser.parse_args(argv)
    print(table(asyncio.run(run(args.users, args.duration))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
