"""What the bot holds when it runs for long: memory freed by its commands goes back to the OS.

The bot runs as `chatbot run` in its own process, watched from outside through /proc, as the
load and lean benchmarks watch it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatbot.sandbox.botapi import Conversation
from chatbot.storage.db import Database
from tests.e2e.conftest import ask, bot_env

ROOT = Path(__file__).resolve().parents[2]
USERS = 20

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")


def rss_kb(pid: int) -> int:
    """The process's resident set in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


async def prices(users: list[Conversation], each: int) -> None:
    """Every user asks /price `each` times, one after another, all users at once."""

    async def one(conv: Conversation) -> None:
        for _ in range(each):
            assert "BTCUSDT" in (await ask(conv, "/price BTCUSDT")).text

    await asyncio.gather(*(one(conv) for conv in users))


async def test_commands_that_hold_nothing_leave_the_bots_memory_where_it_was(
    api, exchange, tmp_path
):
    """A command keeps nothing once answered, so a warm bot answering 400 more /price grows its
    resident set by well under the 0.45 MB it grew when glibc's malloc raised its thresholds
    as it went (freed buffers kept resident; see chatbot/memory.py)."""
    users = [api.conversation(api.user(5000 + n)) for n in range(USERS)]
    env = {
        **os.environ,
        **bot_env(api, exchange, tmp_path / "chatbot.sqlite3", CHATBOT_ALLOWED_USERS="*"),
        "CHATBOT_COMMAND_LIMIT": "10000",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatbot", "run", env=env, cwd=tmp_path
    )
    try:
        await prices(users, 10)  # first use: imports, connections, caches
        before = rss_kb(proc.pid)
        await prices(users, 20)
        grown = rss_kb(proc.pid) - before
        assert grown < 200, f"RSS grew {grown} KiB over 400 /price"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


@contextlib.asynccontextmanager
async def bot_with_alerts(api, exchange, path: Path, alerts: int) -> AsyncIterator[int]:
    """`chatbot run` on a database holding `alerts` far-away alerts, once it says it has put
    them all in its book (its log line); the process id."""
    db = await Database.open(path)  # the schema
    await db.close()
    price = exchange.price("BTCUSDT")
    rows = [
        (n, n, "BTCUSDT", "above", str(price * 2 + n), f"≥ {price * 2 + n}", time.time())
        for n in range(1, alerts + 1)
    ]
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO alerts (user_id, chat_id, symbol, direction, threshold, condition, "
            "repeat, cooldown, state, created_at) VALUES (?,?,?,?,?,?,0,900,'active',?)",
            rows,
        )
    conn.close()
    env = {
        **os.environ,
        **bot_env(api, exchange, path, CHATBOT_ALLOWED_USERS="*"),
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "INFO",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chatbot",
        "run",
        env=env,
        cwd=path.parent,
        stderr=asyncio.subprocess.PIPE,
    )
    loaded = asyncio.Event()

    async def read_log() -> None:  # and keep draining it, so the bot never blocks on the pipe
        async for line in proc.stderr:
            if b"price alerts loaded" in line:
                loaded.set()

    reader = asyncio.create_task(read_log())
    try:
        await asyncio.wait_for(loaded.wait(), 60)
        yield proc.pid
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        await reader


async def test_alerts_loaded_at_start_cost_their_book_not_the_rows_read(api, exchange, tmp_path):
    """10,000 alerts read at start once took 9 MB more of Python's arenas than the book needs:
    all rows and records at once, then freed around the book's own objects, which kept the
    arenas held. Read a page at a time, they cost about 3 MB (0.3 MB per 1,000)."""
    rss = {}
    for count in (0, 10_000):
        async with bot_with_alerts(api, exchange, tmp_path / f"{count}.sqlite3", count) as pid:
            user = api.conversation(api.user(90_000 + count))
            assert "Binance" in (await ask(user, "/start")).text
            rss[count] = rss_kb(pid)
    grown = rss[10_000] - rss[0]
    assert grown < 6 * 1024, f"10,000 alerts at start grew RSS by {grown} KiB"
