"""What the bot holds when it runs for long, watched from outside through /proc as the load and
lean benchmarks watch it (`chatbot run` in its own process).

Only a difference of megabytes is asserted here. What a few hundred commands leave behind (the
malloc thresholds of chatbot/memory.py) is a few hundred KiB, within what a busy machine moves
a process's resident set by; `benchmarks/lean.py` measures it, and
tests/unit/test_malloc_thresholds.py checks the thresholds against the real allocator.

SQLite only: the alerts are seeded into the file with sqlite3 in bulk, and what is measured is
the bot's own memory, whichever engine holds its rows."""

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

from chatbot.storage.sqlite import SqliteDatabase as Database
from tests.e2e.conftest import ask, bot_env

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")


def rss_kb(pid: int) -> int:
    """The process's resident set in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


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
