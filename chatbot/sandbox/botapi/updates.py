"""The bot's update queue, served by long polling (getUpdates) or pushed to a webhook.

Semantics follow Telegram's Bot API server: an update stays queued until a getUpdates call
with a higher offset confirms it; a long poll that has to wait takes over from any poll already
waiting, which is answered 409 "Conflict: terminated by other getUpdates request" (so of two
bot instances each keeps kicking the other); polling while a webhook is set is a 409 too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field

import aiohttp

from .errors import conflict
from .models import JsonDict
from .state import Signal

TERMINATED = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)
WEBHOOK_ACTIVE = (
    "can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
DEFAULT_ALLOWED = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
    }
)


@dataclass(frozen=True)
class QueuedUpdate:
    update_id: int
    kind: str
    payload: JsonDict

    def to_json(self) -> JsonDict:
        return {"update_id": self.update_id, self.kind: self.payload}


@dataclass
class WaitingPoll:
    """A getUpdates call holding its connection open until an update arrives."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    terminated_by: str | None = None


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class UpdateQueue:
    """Pending updates plus the one long poll or webhook sender that drains them."""

    def __init__(self, signal: Signal, first_update_id: int = 1000) -> None:
        self._pending: deque[QueuedUpdate] = deque()
        self._next_id = first_update_id
        self._poll: WaitingPoll | None = None
        self._signal = signal
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED
        self.webhook: WebhookConfig | None = None

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def put(self, kind: str, payload: JsonDict) -> int:
        """Queue an update; wakes a waiting long poll or the webhook sender. Its update_id."""
        update = QueuedUpdate(self._next_id, kind, payload)
        self._next_id += 1
        self._pending.append(update)
        if self._poll is not None:
            self._poll.wake.set()
        self._signal.notify()
        return update.update_id

    def confirm(self, offset: int) -> None:
        """Forget updates below `offset`; a negative offset keeps only the last -offset."""
        if offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()
            return
        while self._pending and self._pending[0].update_id < offset:
            self._pending.popleft()

    def drop_pending(self) -> None:
        self._pending.clear()

    def set_allowed(self, allowed: list[str] | None) -> None:
        """Like Telegram: an absent list keeps the previous setting, an empty one resets it."""
        if allowed is None:
            return
        self.allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED

    def take(self, limit: int) -> list[JsonDict]:
        """Up to `limit` pending updates of allowed types; others are dropped, as Telegram does."""
        self._drop_disallowed()
        return [u.to_json() for u in list(self._pending)[:limit]]

    def peek(self) -> QueuedUpdate | None:
        """The oldest pending update of an allowed type."""
        self._drop_disallowed()
        return self._pending[0] if self._pending else None

    def _drop_disallowed(self) -> None:
        if any(u.kind not in self.allowed_updates for u in self._pending):
            kept = [u for u in self._pending if u.kind in self.allowed_updates]
            self._pending = deque(kept)

    async def get_updates(
        self, offset: int | None, limit: int, hold: float, allowed: list[str] | None
    ) -> list[JsonDict]:
        """One getUpdates call: confirm, answer at once if there is anything, else wait."""
        if self.webhook is not None:
            raise conflict(WEBHOOK_ACTIVE)
        self.set_allowed(allowed)
        if offset:
            self.confirm(offset)
        updates = self.take(limit)
        if updates or hold <= 0:
            return updates
        self.terminate_poll(TERMINATED)
        poll = self._poll = WaitingPoll()
        try:
            return await self._wait(poll, limit, time.monotonic() + hold)
        finally:
            if self._poll is poll:
                self._poll = None

    async def _wait(self, poll: WaitingPoll, limit: int, deadline: float) -> list[JsonDict]:
        while (remaining := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await poll.wake.wait()
            poll.wake.clear()
            if poll.terminated_by is not None:
                raise conflict(poll.terminated_by)
            if updates := self.take(limit):
                return updates
        return []

    def terminate_poll(self, reason: str) -> None:
        """Answer the waiting long poll, if any, with 409 Conflict: `reason`."""
        if self._poll is not None:
            self._poll.terminated_by = reason
            self._poll.wake.set()
            self._poll = None


class WebhookSender:
    """Posts queued updates one at a time to the webhook, in order, retrying until a 2xx.

    Each POST carries the update as JSON and, when a secret token was set, the header
    X-Telegram-Bot-Api-Secret-Token. A failure is recorded for getWebhookInfo and retried after
    `retry_delay` seconds (Telegram backs off too, much longer).
    """

    def __init__(
        self, queue: UpdateQueue, signal: Signal, retry_delay: float, timeout: float
    ) -> None:
        self._queue = queue
        self._signal = signal
        self._retry_delay = retry_delay
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="botapi-webhook-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=self._timeout, trust_env=False) as session:
            while True:
                update = await self._signal.wait_for(self._queue.peek, None, "an update")
                webhook = self._queue.webhook
                if webhook is None:
                    return
                if await self._post(session, webhook, update):
                    self._queue.confirm(update.update_id + 1)
                    self._signal.notify()
                else:
                    await asyncio.sleep(self._retry_delay)

    async def _post(
        self, session: aiohttp.ClientSession, webhook: WebhookConfig, update: QueuedUpdate
    ) -> bool:
        headers = {}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        try:
            async with session.post(webhook.url, json=update.to_json(), headers=headers) as resp:
                if 200 <= resp.status < 300:
                    return True
                error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
        except TimeoutError:
            error = "Connection timed out"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except aiohttp.ClientError as exc:
            error = str(exc) or type(exc).__name__
        webhook.last_error_date = int(time.time())
        webhook.last_error_message = error
        self._signal.notify()
        return False


def poll_limit(limit: int | None) -> int:
    """getUpdates' limit clamped to 1..100 (default 100), as Telegram clamps it."""
    return 100 if limit is None else max(1, min(100, limit))
