"""Writes that must not be lost: retried until the database takes them.

A database refuses a write when another process holds SQLite's write lock past the busy timeout
("database is locked") or when the disk is full. For most writes the caller's error is the right
answer, but some record a fact that already happened elsewhere: an alert that fired (it has left
the in-memory book), an order Binance already answered. Dropping those loses work silently, so
they are retried with back-off until the database is back; each failure is reported to the
`HealthBoard`, so `/healthz` and the log show the outage while it lasts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from chatbot.health import HealthBoard
from chatbot.storage.database import StorageError

T = TypeVar("T")

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)  # seconds between attempts; the last one repeats


async def until_written(
    write: Callable[[], Awaitable[T]],
    *,
    part: str,
    health: HealthBoard,
    delays: Sequence[float] = RETRY_DELAYS,
) -> T:
    """Run `write` until it does not raise a database error; returns its result.

    Only `StorageError` (locked, busy, disk full, I/O, connection lost) is retried: anything
    else is a bug and propagates at once. Cancellation (the bot stopping) ends the retries."""
    attempt = 0
    while True:
        try:
            result = await write()
        except StorageError as exc:
            health.failed(part, exc)
            await asyncio.sleep(delays[min(attempt, len(delays) - 1)])
            attempt += 1
            continue
        if attempt:
            health.recovered(part)
        return result
