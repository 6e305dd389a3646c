"""The lease keeper: which shards of once-only work this replica does, kept in the database.

Every replica runs one `LeaseKeeper` (one implementation for both engines; on SQLite the single
replica simply ends up owning every shard). Each beat (a quarter of the takeover time) it:

1. writes its heartbeat and counts the live replicas (a heartbeat within the lease time);
2. renews the leases it holds (`UPDATE ... WHERE owner = me`);
3. gives back what it holds above its fair share, `ceil(S / live)` per kind, so a replica that
   joins finds shards free; the work stops here before the shard is released in the database;
4. claims free or expired shards up to its fair share (storage/leases.py: one conditional
   UPDATE, so two replicas never both win a shard).

Consumers (the alert feed for `market` shards, the fill feed for `users` shards) register with
`on_change` and are told, in each beat, which shard numbers were gained and lost: losses first.

Times: a lease lasts three quarters of the takeover time and is renewed every quarter, so a
killed replica's last lease ends at most 3/4 of the takeover time after it died, and another
replica's next beat (at most a quarter later) takes it: owned again within the takeover time.
A replica that cannot renew (database unreachable) drops its shards locally one beat before its
lease ends in the database, so no other replica can start the work while it still does it.
A clean stop (`stop`) drops the work and releases every lease at once: a rolling restart hands
over without waiting for expiry.

The live count also divides the bot's Telegram pace (`PrioritySendPacer.share_among`). It does
not divide Binance's request weight: every response carries Binance's count of the whole IP's
weight (`X-MBX-USED-WEIGHT-1M`), which each replica's governor already takes as what is spent,
so replicas behind one IP share its budget and replicas on IPs of their own each have one.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chatbot.health import HealthBoard
from chatbot.storage.database import StorageError
from chatbot.storage.leases import (
    LeaseRepository,
    ShardKind,
    parse_shard,
    shard_name,
    symbol_shard,
    user_shard,
)

log = logging.getLogger(__name__)

# gained, lost: shard numbers of one kind
ShardsChanged = Callable[[frozenset[int], frozenset[int]], Awaitable[None]]
LiveCount = Callable[[int], None]


def default_replica_id() -> str:
    """hostname-pid: unique among replicas on one machine and across machines."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class LeaseSettings:
    replica_id: str
    shards: int = 16  # CHATBOT_LEASE_SHARDS, per kind
    takeover: float = 10.0  # CHATBOT_TAKEOVER_SECONDS

    @property
    def lease(self) -> float:
        """How long a lease lasts after each renewal."""
        return self.takeover * 0.75

    @property
    def beat(self) -> float:
        return self.takeover / 4


class LeaseKeeper:
    """Holds this replica's share of the shards; see the module docstring."""

    def __init__(
        self,
        repo: LeaseRepository,
        settings: LeaseSettings,
        *,
        clock: Callable[[], float] = time.time,
        health: HealthBoard | None = None,
    ) -> None:
        self._repo = repo
        self.settings = settings
        self._clock = clock
        self._health = health or HealthBoard()
        self._held: dict[ShardKind, frozenset[int]] = {kind: frozenset() for kind in ShardKind}
        self._listeners: dict[ShardKind, list[ShardsChanged]] = {kind: [] for kind in ShardKind}
        self._live_listeners: list[LiveCount] = []
        self._valid_until = 0.0
        self._shards_made = False
        self.live = 1  # replicas alive at the last beat (this one included)
        self.live_ids: list[str] = [settings.replica_id]
        self.task: asyncio.Task[None] | None = None

    @property
    def replica_id(self) -> str:
        return self.settings.replica_id

    def on_change(self, kind: ShardKind, listener: ShardsChanged) -> None:
        """Call `listener(gained, lost)` whenever this replica's shards of `kind` change."""
        self._listeners[kind].append(listener)

    def on_live_count(self, listener: LiveCount) -> None:
        """Call `listener(live)` with the live replicas at each beat that could count them."""
        self._live_listeners.append(listener)

    def held(self, kind: ShardKind) -> frozenset[int]:
        return self._held[kind]

    def shard_of_symbol(self, symbol: str) -> int:
        return symbol_shard(symbol, self.settings.shards)

    def shard_of_user(self, user_id: int) -> int:
        return user_shard(user_id, self.settings.shards)

    def owns_symbol(self, symbol: str) -> bool:
        return self.shard_of_symbol(symbol) in self._held[ShardKind.MARKET]

    def owns_user(self, user_id: int) -> bool:
        return self.shard_of_user(user_id) in self._held[ShardKind.USERS]

    async def start(self) -> None:
        """Create the shard rows and take a first share (consumers hear of it before this
        returns), then keep beating in the background. A database that cannot be reached
        yet is retried at each beat."""
        await self._prepare()
        self.task = asyncio.get_running_loop().create_task(self._run(), name="lease-keeper")

    async def _prepare(self) -> None:
        if not self._shards_made:
            try:
                await self._repo.create_shards(
                    shard_name(kind, n) for kind in ShardKind for n in range(self.settings.shards)
                )
            except StorageError as exc:
                self._health.failed("leases", exc)
                return
            self._shards_made = True
        await self.beat()

    async def stop(self) -> None:
        """Stop the work, then release every lease and leave the live count."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        held = {shard_name(k, n) for k in ShardKind for n in self._held[k]}
        await self._drop_all()
        try:
            await self._repo.release(self.replica_id, held)
            await self._repo.forget_replica(self.replica_id)
        except StorageError as exc:  # they expire on their own
            log.warning("leases not released at stop: %s", type(exc).__name__)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.beat)
            await self._prepare()

    async def beat(self) -> None:
        """One round: heartbeat, renew, give back the excess, claim up to the fair share."""
        try:
            async with asyncio.timeout(self.settings.beat):
                wanted = await self._negotiate()
        except (StorageError, TimeoutError) as exc:
            self._health.failed("leases", exc)
            if self._clock() >= self._valid_until - self.settings.beat:
                await self._drop_all()  # before the database lets anyone else take them
            return
        self._health.recovered("leases")
        for kind, shards in wanted.items():
            await self._apply(kind, shards)

    async def _negotiate(self) -> dict[ShardKind, frozenset[int]]:
        me, now = self.replica_id, self._clock()
        until = now + self.settings.lease
        await self._repo.heartbeat(me, now)
        self.live_ids = await self._repo.live_replicas(now - self.settings.lease) or [me]
        self.live = len(self.live_ids)
        for listener in self._live_listeners:
            listener(self.live)
        still = await self._repo.renew(me, until)
        self._valid_until = until
        fair = math.ceil(self.settings.shards / self.live)
        wanted: dict[ShardKind, frozenset[int]] = {}
        for kind in ShardKind:
            mine = sorted(n for k, n in map(parse_shard, still) if k is kind)
            keep, excess = frozenset(mine[:fair]), mine[fair:]
            if excess:
                await self._apply(kind, self._held[kind] - set(excess))  # stop, then release
                await self._repo.release(me, (shard_name(kind, n) for n in excess))
            gained = await self._repo.claim(me, kind, now, until, fair - len(keep))
            wanted[kind] = keep | {parse_shard(s)[1] for s in gained}
        return wanted

    async def _drop_all(self) -> None:
        for kind in ShardKind:
            await self._apply(kind, frozenset())

    async def _apply(self, kind: ShardKind, shards: frozenset[int]) -> None:
        """Make `shards` this replica's shards of `kind`, telling the listeners. A listener
        that fails to take up a shard gives it back, for this or another replica to retry."""
        before = self._held[kind]
        gained, lost = shards - before, before - shards
        if not gained and not lost:
            return
        self._held[kind] = shards
        log.info("%s shards: +%s -%s", kind.value, sorted(gained), sorted(lost))
        for listener in self._listeners[kind]:
            try:
                await listener(frozenset(gained), frozenset(lost))
            except Exception as exc:
                self._health.failed(f"leases-{kind.value}", exc)
                self._held[kind] = self._held[kind] - gained
                names = [shard_name(kind, n) for n in gained]
                await asyncio.gather(self._repo.release(self.replica_id, names),
                                     return_exceptions=True)  # fmt: skip
                return
