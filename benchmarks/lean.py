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
- Memory per alert set with /alert, by 50 users at once, raw and net. Raw: the first 1,000 after
  start (each user has set one). It also pays for the bot's first use at this pace, which any
  command pays: pages of the heap and of Python's arenas touched for the first time,
  connection pools and caches filled. The control shows that part: 1,000 /price instead, on a
  fresh process after the same start. Net: a second 1,000 /alert after the first, on the same
  warm process: what 1,000 more alerts held cost once the bot has run a while, which is the
  number the target is about. Both are printed so neither hides the other.
"""

from __future__ import annotations

import argparse
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
async def bot_process(
    sim: ExchangeSimulator, api: BotApiEmulator, db: Path, *, loaded: bool = False
) -> AsyncIterator[int]:
    """`chatbot run` in a child process against the simulator and the emulator; its pid. With
    `loaded`, once the bot has logged that its alerts are all in its book."""
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
        "BINANCE_FUTURES_API_URL": sim.futures_rest_url,
        "BINANCE_FUTURES_STREAM_URL": sim.futures_stream_url,
        "CHATBOT_ALLOWED_USERS": "*",
        "CHATBOT_COMMAND_LIMIT": "10000",  # one user sends a thousand commands a minute
        "LOG_LEVEL": "INFO" if loaded else "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chatbot",
        "run",
        env=env,
        cwd=db.parent,
        stderr=asyncio.subprocess.PIPE if loaded else None,
    )
    book_loaded = asyncio.Event()

    async def read_log() -> None:  # and keep draining it, so the bot never blocks on the pipe
        if proc.stderr is not None:
            async for line in proc.stderr:
                if b"price alerts loaded" in line:
                    book_loaded.set()

    reader = asyncio.create_task(read_log())
    try:
        if loaded:
            await asyncio.wait_for(book_loaded.wait(), 120)
        yield proc.pid
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await reader


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
    has them, read once the bot has logged that its book is loaded (the probe's alert firing
    alone did not say so: it could fire before the last page was read) and the probe user's
    own alert, near the price, has fired."""
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
        async with bot_process(sim, api, db, loaded=True) as pid:
            probe = api.conversation(api.user(PROBE, first_name="probe"))
            await ask(probe, "/start")
            await _fire_probe(sim, probe, threshold)
            rss = rss_mb(pid)
        sim.set_price("BTCUSDT", price)
        return rss


async def created_rss(
    sim: ExchangeSimulator, api: BotApiEmulator, alerts: int, *, control: bool = False
) -> tuple[float, float, float]:
    """The bot's RSS once each of its users (one per 20 alerts: 50 for 1,000) has set one
    alert, then after they set `alerts` more with /alert, then after `alerts` more again (each
    user stays under the 100 alerts a user may hold). With `control`, the first batch is as
    many /price commands instead, and there is no second batch."""
    users = [api.conversation(api.user(FIRST_SETTER + n)) for n in range(max(1, alerts // 20))]
    each = alerts // len(users)
    with tempfile.TemporaryDirectory() as tmp:
        async with bot_process(sim, api, Path(tmp) / "lean.sqlite3") as pid:
            await _set_alerts(users, 1, 0)  # first use: exchangeInfo, caches, imports
            before = rss_mb(pid)
            if control:
                await _ask_prices(users, each)
                return before, rss_mb(pid), rss_mb(pid)
            await _set_alerts(users, each, 1)
            first = rss_mb(pid)
            await _set_alerts(users, each, 1 + each)
            return before, first, rss_mb(pid)


async def _ask_prices(users: list[Conversation], each: int) -> None:
    """Each user asks /price `each` times, all users at once: the control for /alert."""

    async def one(conv: Conversation) -> None:
        for i in range(each):
            await ask(conv, f"/price {SYMBOLS[i % len(SYMBOLS)]}")

    await asyncio.gather(*(one(conv) for conv in users))


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
    """/price latency, the bot's RSS with each count of `alerts` held, and its growth per
    `created_alerts` alerts set with /alert (raw, control, net); 0 or () skips a part."""
    sim = ExchangeSimulator(seed=5, random_walk=False)
    api = BotApiEmulator(token="777:LEAN-TOKEN", bot_username="lean_bot")
    await sim.start()
    await api.start()
    try:
        latencies = sorted(await price_latency(sim, api, price_rounds)) if price_rounds else []
        rss = {count: await held_rss(sim, api, count) for count in alerts}
        created = control = None
        if created_alerts:
            created = (created_alerts, *await created_rss(sim, api, created_alerts))
            control = await created_rss(sim, api, created_alerts, control=True)
    finally:
        await api.stop()
        await sim.stop()
    result: dict = {"rss_mb": rss, "created": created, "control": control}
    if latencies:
        result |= {
            "rounds": len(latencies),
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
            "max_ms": latencies[-1] * 1000,
        }
    return result


def tables(result: dict) -> str:
    """The Markdown tables `make bench` prints: latency, RSS per alerts held, per alert set."""
    sections = []
    if "rounds" in result:
        sections.append(
            "| /price commands (20/s, one user) | p50 | p99 | max | target p99 |\n"
            "|---:|---:|---:|---:|---:|\n"
            f"| {result['rounds']:,} | {result['p50_ms']:.1f} ms | {result['p99_ms']:.1f} ms "
            f"| {result['max_ms']:.1f} ms | ≤ 25 ms |"
        )
    rows = _held_rows(result["rss_mb"]) + _created_rows(result["created"], result["control"])
    if rows:
        head = "| alerts | bot RSS | growth per 1,000 alerts | target |\n|---|---:|---:|---:|\n"
        sections.append(head + "\n".join(rows))
    return "\n\n".join(sections)


def _held_rows(rss: dict[int, float]) -> list[str]:
    """A fresh bot on a database holding each count of alerts."""
    counts = sorted(rss)
    rows = [f"| {counts[0]:,} held at start | {rss[counts[0]]:.1f} MB | | |"] if counts else []
    for before, after in itertools.pairwise(counts):
        per_k = (rss[after] - rss[before]) / (after - before) * 1000
        rows.append(
            f"| {after:,} held at start | {rss[after]:.1f} MB | {per_k:.2f} MB | ≤ 0.5 MB |"
        )
    return rows


def _created_rows(created: tuple | None, control: tuple | None) -> list[str]:
    """Raw (the first batch after start), the /price control, and net (a second batch)."""
    if created is None or control is None:
        return []
    count, before, first, second = created
    c_before, c_after, _ = control

    def per_k(grown: float) -> str:
        return f"{grown / count * 1000:.2f} MB"

    return [
        f"| {count:,} set with /alert, first after start (raw) | {first:.1f} MB "
        f"| {per_k(first - before)} | |",
        f"| control: {count:,} /price instead, first after start | {c_after:.1f} MB "
        f"| {per_k(c_after - c_before)} | |",
        f"| {count:,} more set with /alert, bot warm (net) | {second:.1f} MB "
        f"| {per_k(second - first)} | ≤ 0.5 MB |",
    ]


def main(argv: list[str] | None = None) -> None:
    """`python -m benchmarks.lean [--only memory|alerts|latency]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=("latency", "memory", "alerts"),
        help="latency: /price only; memory: RSS only; alerts: the alerts set with /alert only",
    )
    only = parser.parse_args(argv).only
    options: dict = {}
    if only in ("memory", "alerts"):
        options["price_rounds"] = 0
    if only in ("latency", "alerts"):
        options["alerts"] = ()
    if only == "latency":
        options["created_alerts"] = 0
    print(tables(asyncio.run(measure(**options))))


if __name__ == "__main__":
    main()
