"""`chatbot run` as a process: the bot runs until SIGINT or SIGTERM, and a second instance
polling the same token exits at start instead of stealing the first one's updates."""

from __future__ import annotations

import asyncio
import signal

from chatbot.app import running_bot
from chatbot.config import Settings
from chatbot.runtime import runtime


class AnotherInstance(RuntimeError):
    """Another process polls the same bot token."""


async def serve(settings: Settings) -> None:
    """`chatbot run`: run until SIGINT or SIGTERM, then stop cleanly. Raises AnotherInstance
    when, just after start, Telegram says another process polls this token."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_bot(settings) as app:
        conflict = runtime(app).conflict
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(conflict.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waits:
            waiter.cancel()
    if conflict.is_set():
        raise AnotherInstance(
            "another instance of the bot is already polling this TELEGRAM_BOT_TOKEN; stop it "
            "first (two instances would steal each other's updates)"
        )
