"""Public market answers shared by every user for a moment: a thousand users asking for the
same symbol within that moment cost the weight budget one read.

Keys already being fetched are waited for, not fetched again; a failed fetch fails its waiters
too (they asked at the same moment, the same answer is right for them). Spot's `/price` quotes
and the perpetuals' quotes and funding (services/market.py, futures_market.py) share answers
this way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedAnswers(Generic[K, V]):
    """Answers by key, fetched by `fetch(keys) -> {key: answer}` (a key it leaves out has no
    answer) and kept `ttl` seconds."""

    def __init__(self, fetch: Callable[[list[K]], Awaitable[dict[K, V]]], ttl: float) -> None:
        self._fetch_many = fetch
        self._ttl = ttl
        self._answers: dict[K, tuple[float, V]] = {}
        self._fetching: dict[K, asyncio.Future[None]] = {}

    async def get(self, keys: list[K]) -> dict[K, V]:
        now = time.monotonic()
        stale = [k for k in keys if now - self._answers.get(k, (-1e9, None))[0] > self._ttl]
        waits = {self._fetching[k] for k in stale if k in self._fetching}
        missing = [k for k in stale if k not in self._fetching]
        if missing:
            await self._fetch(missing)
        for fetch in waits:
            await asyncio.shield(fetch)
        return {k: self._answers[k][1] for k in keys if k in self._answers}

    async def _fetch(self, keys: list[K]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._fetching.update(dict.fromkeys(keys, done))
        try:
            answers = await self._fetch_many(keys)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                done.cancel()
            else:
                done.set_exception(exc)
                done.exception()  # retrieved here: nobody may be waiting
            raise
        else:
            at = time.monotonic()
            self._answers.update({key: (at, answer) for key, answer in answers.items()})
            done.set_result(None)
        finally:
            for key in keys:
                self._fetching.pop(key, None)
