"""The outbox sender: fired alerts' messages to Telegram, within Telegram's limits, once each.

Messages wait in SQLite until Telegram has accepted them, so a restart or a network error loses
nothing. Several messages due to one chat go out as one (Telegram allows about one message a
second per chat and thirty a second overall); a 429 holds that chat for `retry_after`.

Once, not at least once: Telegram has no idempotency key, so a send whose result is unknown (the
request left, no answer came: a read timeout, a connection dropped mid-answer) is never repeated;
the message is recorded as `unknown` instead, because it most likely arrived (a slow Telegram
still delivers). A send is retried only when the failure proves nothing was delivered: a 429, an
error answer from Telegram, a connection that was never made.

A permanent refusal ends the retries: a chat that is gone (403 blocked or kicked, 400 chat not
found) has its message dropped and its alerts paused until someone writes from that chat again
(`AlertService.resume_chat`); any other 400 drops just that message. Nothing in the loop can end
it: a failure (the database locked, a bug) is reported to the `HealthBoard` and the next round
tries again.
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

from chatbot.health import HealthBoard
from chatbot.storage.outbox import FiredAlert, OutboxItem, OutboxRepository
from chatbot.storage.retry import until_written

log = logging.getLogger(__name__)

MAX_PER_MESSAGE = 500  # alerts merged into one message at most (the text is cut to fit)
MAX_CRASHES = 5  # attempts that raised (a bug, not Telegram) before a message is dropped
ERROR_PAUSE = 2.0  # seconds before the next round after a round failed


class Delivery(Enum):
    SENT = "sent"
    RETRY = "retry"  # provably not delivered: try again after `retry_after`
    UNKNOWN = "unknown"  # may have been delivered (timeout): never sent again
    BLOCKED = "blocked"  # the chat is gone (blocked, kicked, not found): pause its alerts
    REFUSED = "refused"  # Telegram refused this message for good (a 400): drop it


@dataclass(frozen=True)
class SendResult:
    delivery: Delivery
    retry_after: float = 0.0
    sent: int | None = None  # how many of the items the message held (None: all)


Send = Callable[[int, list[FiredAlert]], Awaitable[SendResult]]
Blocked = Callable[[int], Awaitable[None]]  # called with the chat id


class OutboxSender:
    def __init__(
        self,
        repo: OutboxRepository,
        send: Send,
        on_blocked: Blocked,
        wake: asyncio.Event,
        *,
        per_second: float = 30.0,
        per_chat_interval: float = 1.0,
        health: HealthBoard | None = None,
    ) -> None:
        self._repo = repo
        self._health = health or HealthBoard()
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
            try:
                wait = await self.drain()
                self._health.recovered("outbox")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database, a bug: report it, never end the loop
                self._health.failed("outbox", exc)
                wait = ERROR_PAUSE
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
            result = await self._send(chat_id, [item.alert for item in items])
        except Exception:
            log.warning("alert message to chat %s failed; will retry", chat_id, exc_info=True)
            crashed = [item.id for item in items if item.attempts + 1 >= MAX_CRASHES]
            await self._record(crashed, "dropped")
            result = SendResult(Delivery.RETRY, ERROR_PAUSE)
        if result.delivery in (Delivery.SENT, Delivery.UNKNOWN):
            # the rest go in the next message; an unknown one is never sent again
            await self._record(ids[: result.sent], result.delivery.value)
            self._next_for_chat[chat_id] = time.monotonic() + self._chat_interval
            if result.delivery is Delivery.UNKNOWN:
                self.send_errors += 1
                log.warning("alert message to chat %s: outcome unknown, not resent", chat_id)
        elif result.delivery is Delivery.BLOCKED:
            log.info("chat %s is gone; its alerts are paused", chat_id)
            await self._record(ids, "dropped")
            await self._on_blocked(chat_id)
        elif result.delivery is Delivery.REFUSED:
            self.send_errors += 1
            log.warning("alert message to chat %s refused by Telegram; dropped", chat_id)
            await self._record(ids, "dropped")
        else:
            self.send_errors += 1
            await self._repo.count_attempt(ids)
            self._next_for_chat[chat_id] = time.monotonic() + max(result.retry_after, 0.5)

    async def _record(self, ids: list[int], state: str) -> None:
        """What Telegram did with a message is written whatever it takes: a message sent but
        still pending would be sent again."""
        if ids:
            await until_written(
                lambda: self._repo.mark(ids, state), part="outbox", health=self._health
            )
