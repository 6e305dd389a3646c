"""The outbox sender: fired alerts' messages to Telegram, within Telegram's limits, once each.

Messages wait in the database until Telegram has accepted them, so a restart or a network error
loses nothing. Several messages due to one chat go out as one (Telegram allows about one message a
second per chat and thirty a second overall); a 429 holds that chat for `retry_after`.

Each replica runs a sender; they share the outbox by claiming whole chats in the database
(`OutboxRepository.claim`), so each message is sent by one sender, no chat is sent to by two at
once, and a chat's pacing (and a 429's hold) is kept in its rows, for every sender. A sender
that stops mid-send leaves a claim that expires after `CHATBOT_OUTBOX_CLAIM` seconds; another
sender then sends those messages (a restart mid-send has always resent, see below).

Once, not at least once: Telegram has no idempotency key, so a send whose result is unknown (the
request left, no answer came: a read timeout, a connection dropped mid-answer) is never repeated;
the message is recorded as `unknown` instead, because it most likely arrived (a slow Telegram
still delivers). A send is retried only when the failure proves nothing was delivered: a 429, an
error answer from Telegram, a connection that was never made. The one exception is a send the
process never got to record (killed between the request and the write of its result): the
message is still pending, or claimed by a sender that is gone, and is sent again, by the next
start or, once the claim expires, by another replica. The window is the time between
Telegram's answer and that write; the messages of chats a dead sender had claimed but not yet
reached are not lost.

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
import os
import secrets
import socket
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
POLL = 2.0  # seconds between looks for messages other replicas queued, when nothing woke us


class Delivery(Enum):
    SENT = "sent"
    RETRY = "retry"  # provably not delivered: try again after `retry_after`
    UNKNOWN = "unknown"  # may have been delivered (timeout): never sent again
    BLOCKED = "blocked"  # the chat is gone (blocked, kicked, not found): pause its alerts
    REFUSED = "refused"  # Telegram refused this message for good (a 400): drop it
    MUTED = "muted"  # the owner turned these alerts' messages off: settled, never sent


@dataclass(frozen=True)
class SendResult:
    delivery: Delivery
    retry_after: float = 0.0
    sent: int | None = None  # how many of the items the message held (None: all)


Send = Callable[[int, list[FiredAlert]], Awaitable[SendResult]]
Blocked = Callable[[int], Awaitable[None]]  # called with the chat id


@dataclass
class _Held:
    """What a round still holds of its claim: the rows not yet settled, and until when."""

    until: float
    ids: set[int]


class OutboxSender:
    """Drains the outbox it shares with every other replica's sender (see
    `OutboxRepository` for the claims): woken at once by a firing of its own replica
    (`wake`), it also looks every `poll` seconds for what other replicas' firings left."""

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
        owner: str | None = None,
        poll: float = POLL,
        chats_per_claim: int | None = None,
        renew_every: float | None = None,
    ) -> None:
        self._repo = repo
        self._health = health or HealthBoard()
        self._send = send
        self._on_blocked = on_blocked
        self._wake = wake
        self._gap = 1.0 / per_second
        self._chat_interval = per_chat_interval
        # the chats one claim takes (default: a quarter of a claim's life of sending at
        # `per_second`), so a round ends long before its claim runs out and a backlog is
        # shared out among the replicas' senders rather than taken whole by the first
        self._batch = chats_per_claim or max(1, int(per_second * repo.claim_for / 4))
        self._poll = poll
        self._renew_every = renew_every or repo.claim_for / 3
        self._next_send = 0.0
        self._task: asyncio.Task[None] | None = None
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
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
        """Claim the chats that are due now, send to each, settle each; returns how long
        until something more may be due. Nothing is claimed (no write) while nothing is due."""
        due = await self._repo.next_due()
        if due is None or due > self._repo.clock():
            self.backlog = 0 if due is None else await self._repo.backlog()
            return self._until(due)
        claim = await self._repo.claim(self.owner, self._batch)
        by_chat: dict[int, list[OutboxItem]] = defaultdict(list)
        for item in claim.items:
            by_chat[item.chat_id].append(item)
        held = _Held(claim.until, {item.id for item in claim.items})
        renewing = asyncio.get_running_loop().create_task(self._renew(held))
        try:
            while by_chat:
                if self._repo.clock() > held.until - self._repo.claim_for / 2:
                    break  # the claim is not being renewed: the rest goes back to the others
                chat_id = next(iter(by_chat))
                await self._pace()
                items = by_chat.pop(chat_id)
                await self._deliver(chat_id, items)
                held.ids.difference_update(item.id for item in items)
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            if left := [item.id for items in by_chat.values() for item in items]:
                with contextlib.suppress(Exception):  # else the claim expires: same outcome
                    await self._repo.settle(self.owner, left)
        self.backlog = await self._repo.backlog()
        if claim.chats >= self._batch:
            return 0.01  # the claim was full: more may be due at once
        return self._until(await self._repo.next_due())

    async def _renew(self, held: _Held) -> None:
        """Keep the round's claim while this sender is alive and sending, however slow a send
        is (a flood pause): only a sender that died or lost the database lets it expire. A
        failed renewal is left to the round's own check on `held.until`."""
        while held.ids:
            await asyncio.sleep(self._renew_every)
            with contextlib.suppress(Exception):
                until = await self._repo.renew(self.owner, sorted(held.ids))
                if until is None:
                    return  # expired already: another sender may have the chats
                held.until = until

    def _until(self, due: float | None) -> float:
        """Seconds to wait for `due` (the repository's clock), at most `poll`."""
        if due is None:
            return self._poll
        return min(max(due - self._repo.clock(), 0.01), self._poll)

    async def _pace(self) -> None:
        """At most `per_second` messages a second overall."""
        now = time.monotonic()
        if self._next_send > now:
            await asyncio.sleep(self._next_send - now)
        self._next_send = max(now, self._next_send) + self._gap

    async def _deliver(self, chat_id: int, items: list[OutboxItem]) -> None:
        """Send one message for the chat's claimed `items` (as many as one holds) and settle
        the whole claim: what Telegram did with the message, and when the chat's next message
        may go (its pacing, or a 429's retry-after), for every sender."""
        claimed = [item.id for item in items]
        message = items[:MAX_PER_MESSAGE]
        ids = [item.id for item in message]
        try:
            result = await self._send(chat_id, [item.alert for item in message])
        except Exception:
            log.warning("alert message to chat %s failed; will retry", chat_id, exc_info=True)
            crashed = [item.id for item in message if item.attempts + 1 >= MAX_CRASHES]
            rest = [i for i in ids if i not in crashed]
            await self._settle(claimed, crashed, "dropped", attempted=rest, hold=ERROR_PAUSE)
            return
        if result.delivery in (Delivery.SENT, Delivery.UNKNOWN, Delivery.MUTED):
            # the rest go in the next message; an unknown one is never sent again
            done = ids[: result.sent]
            hold = 0.0 if result.delivery is Delivery.MUTED else self._chat_interval
            await self._settle(claimed, done, result.delivery.value, hold=hold)
            if result.delivery is Delivery.UNKNOWN:
                self.send_errors += 1
                log.warning("alert message to chat %s: outcome unknown, not resent", chat_id)
        elif result.delivery is Delivery.BLOCKED:
            log.info("chat %s is gone; its alerts are paused", chat_id)
            await self._settle(claimed, ids, "dropped")
            await self._on_blocked(chat_id)
        elif result.delivery is Delivery.REFUSED:
            self.send_errors += 1
            log.warning("alert message to chat %s refused by Telegram; dropped", chat_id)
            await self._settle(claimed, ids, "dropped")
        else:
            self.send_errors += 1
            hold = max(result.retry_after, 0.5)
            await self._settle(claimed, [], None, attempted=ids, hold=hold)

    async def _settle(
        self,
        claimed: list[int],
        done: list[int],
        state: str | None,
        *,
        attempted: list[int] | None = None,
        hold: float = 0.0,
    ) -> None:
        """What Telegram did with a message is written whatever it takes: a message sent but
        still pending would be sent again."""

        async def write() -> bool:
            return await self._repo.settle(
                self.owner, claimed, done=done, state=state, attempted=attempted or (), hold=hold
            )

        if not await until_written(write, part="outbox", health=self._health):
            log.warning("outbox claim expired before its result was written; another sender has it")
