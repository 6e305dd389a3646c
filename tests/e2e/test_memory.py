"""What the bot holds when it runs for long: memory freed by its commands goes back to the OS.

The bot runs as `chatbot run` in its own process, watched from outside through /proc, as the
load and lean benchmarks watch it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from chatbot.sandbox.botapi import Conversation
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
