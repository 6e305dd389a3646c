"""Turning raw user-data events into records, and handing them to callbacks user by user.

Each user's callbacks run one at a time in the order they were queued, so a consumer sees a
fill after the order's NEW, while different users never wait for each other: a slow callback
for one user (a chat message being sent) holds up only that user's later events.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from chatbot.exchange.events import (
    AccountPosition,
    BalanceChange,
    ExecutionReport,
    ListStatus,
    UserEvent,
)

log = logging.getLogger(__name__)

_PARSERS: dict[str, Callable[[dict[str, Any]], UserEvent]] = {
    "executionReport": ExecutionReport.from_json,
    "outboundAccountPosition": AccountPosition.from_json,
    "balanceUpdate": BalanceChange.from_json,
    "listStatus": ListStatus.from_json,
}

Job = Callable[[], Awaitable[None]]


def parse_user_event(event: dict[str, Any]) -> UserEvent | None:
    """The record for an order, order-list or balance event; None for kinds the bot does not
    use (`externalLockUpdate`, ...) and for a malformed event (logged)."""
    parser = _PARSERS.get(event.get("e", ""))
    if parser is None:
        return None
    try:
        return parser(event)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        log.warning("malformed %s event ignored", event.get("e"))
        return None


def event_key(event: dict[str, Any]) -> Hashable:
    """What makes two copies of an event the same event (the same event can arrive on two
    connections while one replaces the other): an execution report by its order and execution
    ids, any other event by its whole content (it carries its own event time). A `listStatus`
    has no execution id: two copies are equal in full, while two updates of one list differ in
    their status or transaction time, so the whole content tells them apart."""
    if event.get("e") == "executionReport" and "I" in event:
        return ("executionReport", event.get("s"), event.get("i"), event.get("I"))
    return repr(event)


class UserQueues:
    """Per-user FIFO queues of callback jobs, each drained by its own short-lived task."""

    def __init__(self) -> None:
        self._queues: dict[int, deque[Job]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}

    def push(self, user_id: int, job: Job) -> None:
        """Queue a job behind the user's earlier ones; never blocks."""
        self._queues.setdefault(user_id, deque()).append(job)
        if user_id not in self._workers:
            self._workers[user_id] = asyncio.create_task(
                self._drain(user_id), name=f"userdata-user-{user_id}"
            )

    def discard(self, user_id: int) -> None:
        """Forget the user's queued jobs (a running one finishes)."""
        queue = self._queues.get(user_id)
        if queue is not None:
            queue.clear()

    async def _drain(self, user_id: int) -> None:
        queue = self._queues[user_id]
        try:
            while queue:
                job = queue.popleft()
                try:
                    await job()
                except Exception:  # the consumer's bug must not stop this user's later events
                    log.exception("user-data callback failed for user %s", user_id)
        finally:
            # No await between the last emptiness check and this: a push cannot slip between.
            del self._workers[user_id]
            if not queue:
                self._queues.pop(user_id, None)

    async def close(self) -> None:
        """Drop everything queued and cancel the running callbacks."""
        for queue in self._queues.values():
            queue.clear()
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
