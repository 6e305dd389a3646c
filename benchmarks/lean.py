"""Lean per command and per alert: /price reply latency and the bot's memory per alert held,
measured from outside.

The bot runs in its own process (`python -m chatbot run`), as in production; this process runs
the exchange simulator and the Bot API emulator on real sockets and plays the users.

- Latency: from the user's /price entering the emulator to the bot's reply arriving there, one
  /price after another from one user, paced at 20 commands a second. The pace keeps the run
  under Telegram's 30 messages a second per bot (which PTB's rate limiter enforces); flat out,
  every reply would wait its turn in that limiter and the number would be Telegram's limit,
  not the bot's work.
- Memory: the bot's resident set (VmRSS in /proc) once it holds 0, 1,000 and 10,000 alerts of
  5,000 users: a fresh process each time, on a database holding that many active alerts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

from benchmarks.tick_to_chat import SYMBOLS, _seed_alerts
from chatbot.sandbox.botapi import BotApiEmulator, Conversation
from chatbot.sandbox.exchange import ExchangeSimulator

ROOT = Path(__file__).resolve().parent.parent
QUOTER, PROBE, FIRST_SETTER = 7001, 7002, 8000
PACE = 0.05  # seconds between the starts of two /price commands (20 a second)


def rss_mb(pid: int) -> float:
    """The process's resident set in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@contextlib.asynccontextmanager
async def bot_process(sim: ExchangeSimulator, api: BotApiEmulator, db: Path) -> AsyncIterator[int]:
    """`chatbot run` in a child process against the simulator and the emulator; its pid."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.url,
        "CHATBOT_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "CHATBOT_DB": str(db),
        "BINANCE_API_URL": sim.rest_url,
        "BINANCE_STREAM_URL": sim.stream_url,
        "BINANCE_WS_API_URL": sim.ws_api_url,
        "CHATBOT_ALLOWED_USERS": "*",
        "CHATBOT_COMMAND_LIMIT": "10000",  # one user sends a thousand commands a minute
        "LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatbot", "run", env=env, cwd=db.parent
    )
    try:
        yield proc.pid
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def ask(conv: Conversation, text: str) -> float:
    """Seconds from sending `text` to the bot's reply; raises if the bot answers with an error."""
    start = time.perf_counter()
    await conv.send(text)
    reply = await conv.reply(timeout=30)
    elapsed = time.perf_counter() - start
    if "went wrong" in reply.text:
        raise RuntimeError(f"{text!r} got {reply.text!r}")
    return elapsed


async def price_latency(sim: ExchangeSimulator, api: BotApiEmulator, rounds: int) -> list[float]:
    """One /price after another from one user, paced at `PACE`, after a short warm-up."""
    with tempfile.TemporaryDirectory() as tmp:
        async with bot_process(sim, api, Path(tmp) / "lean.sqlite3"):
            conv = api.conversation(api.user(QUOTER, first_name="quoter"))
            await ask(conv, "/start")
            latencies = []
            for i in range(rounds + 20):  # the first 20 warm up imports and caches
                started = time.perf_counter()
                latencies.append(await ask(conv, "/price BTCUSDT"))
                await asyncio.sleep(max(0.0, PACE - (time.perf_counter() - started)))
                if i == 19:
                    latencies.clear()
            return latencies


async def held_rss(sim: ExchangeSimulator, api: BotApiEmulator, alerts: int) -> float:
    """The bot's RSS once it holds `alerts` alerts: a fresh process started on a database that
    has them. The probe user's own alert, near the price, is made to fire: the bot indexes
    every alert before it watches their symbols, so that message says the book is loaded."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "lean.sqlite3"
        price = sim.price("BTCUSDT")
        await _seed_alerts(db, alerts, {s: sim.price(s) for s in SYMBOLS})
        threshold = price + Decimal(5)
        with sqlite3.connect(db) as conn:
            conn.execute(
                "INSERT INTO alerts (user_id, chat_id, symbol, direction, threshold, condition, "
                "repeat, cooldown, state, created_at) VALUES (?,?,'BTCUSDT','above',?,?,0,900,"
                "'active',?)",
                (PROBE, PROBE, str(threshold), f"≥ {threshold}", time.time()),
            )
        conn.close()
        async with bot_process(sim, api, db) as pid:
            probe = api.conversation(api.user(PROBE, first_name="probe"))
            await ask(probe, "/start")
            await _fire_probe(sim, probe, threshold)
            rss = rss_mb(pid)
        sim.set_price("BTCUSDT", price)
        return rss


async def created_rss(sim: ExchangeSimulator, api: BotApiEmulator, alerts: int) -> tuple:
    """The bot's RSS before and after its users set `alerts` alerts with /alert, 50 each. Each
    user has set one alert before the first reading, so the growth is the alerts' own."""
    users = [api.conversation(api.user(FIRST_SETTER + n)) for n in range(max(1, alerts // 50))]
    with tempfile.TemporaryDirectory() as tmp:
        async with bot_process(sim, api, Path(tmp) / "lean.sqlite3") as pid:
            await _set_alerts(users, 1, 0)  # first use: exchangeInfo, caches, imports
            before = rss_mb(pid)
            await _set_alerts(users, alerts // len(users), 1)
            return before, rss_mb(pid)


async def _set_alerts(users: list[Conversation], each: int, skip: int) -> None:
    """Each user sets `each` more alerts far above the price, all users at once."""

    async def one(n: int, conv: Conversation) -> None:
        for i in range(skip, skip + each):
            symbol = SYMBOLS[i % len(SYMBOLS)]
            await conv.send(f"/alert {symbol} +{50 + n}.{i:03d}%")
            reply = await conv.reply(timeout=60)
            if "set:" not in reply.text:
                raise RuntimeError(f"/alert {symbol} got {reply.text!r}")

    await asyncio.gather(*(one(n, conv) for n, conv in enumerate(users)))


async def _fire_probe(sim: ExchangeSimulator, probe: Conversation, threshold: Decimal) -> None:
    """Trade through the probe's alert until it fires (the bot may not watch BTCUSDT yet)."""
    for attempt in range(120):
        sim.set_price("BTCUSDT", threshold + Decimal("0.01") * (attempt + 1))
        with contextlib.suppress(TimeoutError):
            await probe.wait_for(lambda: any("crossed" in m.text for m in probe.messages), 0.5)
            return
    raise TimeoutError("the probe alert never fired")


async def measure(
    price_rounds: int = 1000, alerts: tuple[int, ...] = (0, 1000, 10_000), created_alerts=1000
) -> dict:
    """/price latency, and the bot's RSS with each count of `alerts` held."""
    sim = ExchangeSimulator(seed=5, random_walk=False)
    api = BotApiEmulator(token="777:LEAN-TOKEN", bot_username="lean_bot")
    await sim.start()
    await api.start()
    try:
        latencies = sorted(await price_latency(sim, api, price_rounds))
        rss = {count: await held_rss(sim, api, count) for count in alerts}
        created = await created_rss(sim, api, created_alerts)
    finally:
        await api.stop()
        await sim.stop()
    return {
        "rounds": len(latencies),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "max_ms": latencies[-1] * 1000,
        "rss_mb": rss,
        "created": (created_alerts, *created),
    }


def tables(result: dict) -> str:
    """The two Markdown tables `make bench` prints."""
    rss: dict[int, float] = result["rss_mb"]
    counts = sorted(rss)
    lines = [
        "| /price commands (20/s, one user) | p50 | p99 | max | target p99 |",
        "|---:|---:|---:|---:|---:|",
        f"| {result['rounds']:,} | {result['p50_ms']:.1f} ms | {result['p99_ms']:.1f} ms "
        f"| {result['max_ms']:.1f} ms | ≤ 25 ms |",
        "",
        "| alerts held | bot RSS | growth per 1,000 alerts | target |",
        "|---:|---:|---:|---:|",
        f"| {counts[0]:,} | {rss[counts[0]]:.1f} MB | | |",
    ]
    for before, after in itertools.pairwise(counts):
        per_k = (rss[after] - rss[before]) / (after - before) * 1000
        lines.append(f"| {after:,} | {rss[after]:.1f} MB | {per_k:.2f} MB | ≤ 0.5 MB |")
    count, before, after = result["created"]
    per_k = (after - before) / count * 1000
    lines.append(
        f"| {count:,} more, set with /alert | {after:.1f} MB | {per_k:.2f} MB | ≤ 0.5 MB |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(tables(asyncio.run(measure())))
