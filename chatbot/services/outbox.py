"""The outbox sender: fired alerts' messages to Telegram, within Telegram's limits, once each.

Messages wait in SQLite until Telegram has accepted them, so a restart or a network error loses
nothing. Several messages due to one chat go out as one (Telegram allows about one message a
second per chat and thirty a second overall); a 429 holds that chat for `retry_after`; a user
who blocked the bot has their alerts paused instead of being retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from chatbot.storage.alerts import AlertRepository, OutboxItem

log = logging.getLogger(__name__)

MAX_PER_MESSAGE = 500  # alerts merged into one message at most (the text is cut to fit)


class Delivery(Enum):
    SENT = "sent"
    RETRY = "retry"  # try again after `retry_after`
    BLOCKED = "blocked"  # the user blocked the bot: give up on this chat


@dataclass(frozen=True)
class SendResult:
    delivery: Delivery
    retry_after: float = 0.0
    sent: int | None = None  # how many of the items the message held (None: all)


Send = Callable[[int, list[dict[str, Any]]], Awaitable[SendResult]]
Blocked = Callable[[int], Awaitable[None]]


class OutboxSender:
    def __init__(
        self,
        repo: AlertRepository,
        send: Send,
        on_blocked: Blocked,
        wake: asyncio.Event,
        *,
        per_second: float = 30.0,
        per_chat_interval: float = 1.0,
    ) -> None:
        self._repo = repo
        self._send = send
        self._on_blocked = on_blocked
        self._wake = wake
        self._gap = 1.0 / per_second
        self._chat_interval = per_chat_interval
        self._next_for_chat: dict[int, float] = {}
        self._next_send = 0.0
        self._task: asyncio.Task[None] | None = None
        self.send_errors = 0
        self.backlog = 0  # messages waiting, as of the last round

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before draining: a firing meanwhile wakes the next round
            wait = await self.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def drain(self) -> float:
        """Send what is due now; returns how long until something more may be due."""
        by_chat: dict[int, list[OutboxItem]] = defaultdict(list)
        pending = await self._repo.pending()
        self.backlog = len(pending)
        for item in pending:
            by_chat[item.chat_id].append(item)
        soonest = 5.0
        for chat_id, items in by_chat.items():
            ready_at = self._next_for_chat.get(chat_id, 0.0)
            now = time.monotonic()
            if ready_at > now:
                soonest = min(soonest, ready_at - now)
                continue
            await self._pace()
            await self._deliver(chat_id, items[:MAX_PER_MESSAGE])
            soonest = min(soonest, self._chat_interval)  # more may be left for this chat
        return max(soonest, 0.01)

    async def _pace(self) -> None:
        """At most `per_second` messages a second overall."""
        now = time.monotonic()
        if self._next_send > now:
            await asyncio.sleep(self._next_send - now)
        self._next_send = max(now, self._next_send) + self._gap

    async def _deliver(self, chat_id: int, items: list[OutboxItem]) -> None:
        ids = [item.id for item in items]
        try:
            result = await self._send(chat_id, [item.payload for item in items])
        except Exception:
            log.warning("alert message to chat %s failed; will retry", chat_id, exc_info=True)
            result = SendResult(Delivery.RETRY, 2.0)
        if result.delivery is Delivery.SENT:
            await self._repo.mark(ids[: result.sent], "sent")  # the rest go in the next one
            self._next_for_chat[chat_id] = time.monotonic() + self._chat_interval
        elif result.delivery is Delivery.BLOCKED:
            await self._repo.mark(ids, "dropped")
            await self._on_blocked(items[0].user_id)
        else:
            self.send_errors += 1
            await self._repo.count_attempt(ids)
            self._next_for_chat[chat_id] = time.monotonic() + max(result.retry_after, 0.5)
