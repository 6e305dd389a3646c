"""The lease keeper on a real database (each keeper with its own connection, as replicas have):
shards split evenly, a killed keeper's shards taken over within the takeover time, a newcomer
given its fair share, a clean stop handing over at once, a shard never held by two keepers, and
a keeper that loses the database stopping its work before its lease ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from chatbot.services.leases import LeaseKeeper, LeaseSettings
from chatbot.storage.database import Database, open_database
from chatbot.storage.leases import LeaseRepository, ShardKind, shard_name, symbol_shard

SHARDS = 16
KINDS = tuple(ShardKind)


class Cluster:
    """Keepers on one database, each on a connection of its own, stopped at the end."""

    def __init__(self, target: str, takeover: float) -> None:
        self.target = target
        self.takeover = takeover
        self.keepers: list[LeaseKeeper] = []
        self.dbs: list[Database] = []
        self.overlaps: list[str] = []  # shards two running keepers held at once

    async def add(self, name: str) -> LeaseKeeper:
        db = await open_database(self.target)
        self.dbs.append(db)
        keeper = LeaseKeeper(LeaseRepository(db), LeaseSettings(name, SHARDS, self.takeover))
        for kind in KINDS:
            keeper.on_change(kind, self._checker(kind))
        self.keepers.append(keeper)
        await keeper.start()
        return keeper

    def _checker(self, kind: ShardKind) -> Callable[..., Awaitable[None]]:
        async def changed(gained: frozenset[int], _: frozenset[int]) -> None:
            self.check(kind)

        return changed

    def running(self) -> list[LeaseKeeper]:
        return [k for k in self.keepers if k.task is not None and not k.task.done()]

    def check(self, kind: ShardKind) -> None:
        """Record any shard that two running keepers both hold right now."""
        seen: dict[int, str] = {}
        for keeper in self.running():
            for n in keeper.held(kind):
                if n in seen:
                    self.overlaps.append(f"{shard_name(kind, n)}: {seen[n]}, {keeper.replica_id}")
                seen[n] = keeper.replica_id

    def covered(self, keepers: list[LeaseKeeper]) -> bool:
        return all(
            set().union(*(k.held(kind) for k in keepers)) == set(range(SHARDS)) for kind in KINDS
        )

    async def close(self) -> None:
        for keeper in self.running():
            await keeper.stop()
        for db in self.dbs:
            await db.close()


@pytest.fixture
async def cluster(database_target: str) -> AsyncIterator[Cluster]:
    made = Cluster(database_target, takeover=1.2)
    try:
        yield made
    finally:
        await made.close()


async def until(fact: Callable[[], bool], within: float) -> float:
    """Wait for `fact`; how many seconds it took."""
    start = time.monotonic()
    while not fact():
        if time.monotonic() - start > within:
            raise AssertionError("the fact never held")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def kill(keeper: LeaseKeeper) -> None:
    """Stop beating without releasing anything, as SIGKILL would."""
    assert keeper.task is not None
    keeper.task.cancel()


def sizes(keepers: list[LeaseKeeper], kind: ShardKind) -> list[int]:
    return sorted(len(k.held(kind)) for k in keepers)


async def test_a_lone_keeper_holds_every_shard(cluster: Cluster) -> None:
    keeper = await cluster.add("a")
    assert keeper.held(ShardKind.MARKET) == keeper.held(ShardKind.USERS) == set(range(SHARDS))
    assert keeper.owns_symbol("BTCUSDT") and keeper.owns_user(42) and keeper.live == 1


async def test_two_and_three_keepers_split_the_shards_evenly(cluster: Cluster) -> None:
    a, b = await cluster.add("a"), await cluster.add("b")
    await until(
        lambda: sizes([a, b], ShardKind.MARKET) == [8, 8] == sizes([a, b], ShardKind.USERS), 5
    )
    c = await cluster.add("c")
    fair = -(-SHARDS // 3)
    await until(
        lambda: (
            cluster.covered([a, b, c])
            and all(max(sizes([a, b, c], kind)) <= fair for kind in KINDS)
            and all(min(sizes([a, b, c], kind)) >= SHARDS - 2 * fair for kind in KINDS)
        ),
        5,
    )
    assert a.live == b.live == c.live == 3 and not cluster.overlaps


async def test_a_killed_keepers_shards_are_taken_within_the_takeover_time(
    database_target: str,
) -> None:
    # 3 s, not the other tests' 1.2 s: the slack for a busy machine's loop and database (1 s)
    # then stays well short of what a missed beat would add
    cluster = Cluster(database_target, takeover=3.0)
    try:
        a, b, c = [await cluster.add(name) for name in "abc"]
        await until(lambda: cluster.covered([a, b, c]) and len(c.held(ShardKind.MARKET)) >= 4, 10)
        kill(c)
        took = await until(lambda: cluster.covered([a, b]), 10)
        assert took <= cluster.takeover + 1.0, took
        assert all(max(sizes([a, b], kind)) <= SHARDS // 2 for kind in KINDS)  # the fair share
        assert not cluster.overlaps
    finally:
        await cluster.close()


async def test_a_clean_stop_hands_over_at_once(database_target: str) -> None:
    slow = Cluster(database_target, takeover=4.0)  # a lease outlives the wait below
    try:
        a, b = await slow.add("a"), await slow.add("b")
        await until(lambda: sizes([a, b], ShardKind.USERS) == [8, 8], 8)
        await b.stop()
        took = await until(lambda: slow.covered([a]), 3)
        assert took < slow.takeover * 0.75, took  # before b's lease could have expired
    finally:
        await slow.close()


async def test_a_joining_keeper_gets_its_fair_share(cluster: Cluster) -> None:
    a = await cluster.add("a")
    b = await cluster.add("b")
    await until(lambda: len(b.held(ShardKind.MARKET)) == len(b.held(ShardKind.USERS)) == 8, 5)
    assert len(a.held(ShardKind.MARKET)) == 8 and not cluster.overlaps


async def test_no_shard_has_two_owners_while_keepers_come_and_go(cluster: Cluster) -> None:
    """Keepers join, stop cleanly and are killed; at every change any keeper sees, and at
    every poll, no shard is held by two running keepers."""
    keepers = [await cluster.add(f"k{i}") for i in range(3)]

    async def watch() -> None:
        while True:
            for kind in KINDS:
                cluster.check(kind)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        for round_ in range(3):
            keepers.append(await cluster.add(f"j{round_}"))
            await asyncio.sleep(cluster.takeover / 2)  # churn while the keepers beat
            kill(keepers.pop(0))
            keepers.append(await cluster.add(f"n{round_}"))
            await asyncio.sleep(cluster.takeover / 2)
            await keepers.pop(0).stop()
        await until(lambda: cluster.covered(cluster.running()), 5)
    finally:
        watcher.cancel()
    assert not cluster.overlaps, cluster.overlaps[:5]


async def test_a_shard_is_claimed_once_by_replicas_claiming_together(pg_dsn: str) -> None:
    """Ten replicas claim every market shard at the same instant: each shard is won once."""
    dbs = [await open_database(pg_dsn) for _ in range(10)]
    try:
        repos = [LeaseRepository(db) for db in dbs]
        await repos[0].create_shards(shard_name(ShardKind.MARKET, n) for n in range(SHARDS))
        now = time.time()
        won = await asyncio.gather(
            *(r.claim(f"r{i}", ShardKind.MARKET, now, now + 5, SHARDS) for i, r in enumerate(repos))
        )
        assert sum(len(w) for w in won) == SHARDS
        assert set().union(*won) == {shard_name(ShardKind.MARKET, n) for n in range(SHARDS)}
        owners = {row.shard: row.owner for row in await repos[0].all()}
        assert all(owners[s] == f"r{i}" for i, w in enumerate(won) for s in w)
    finally:
        for db in dbs:
            await db.close()


async def test_a_keeper_that_loses_the_database_stops_before_its_lease_ends(
    pg_dsn: str,
) -> None:
    """The database goes away under a keeper: it drops its work while its lease still
    stands, so the keeper that takes the shards over never overlaps it."""
    cluster = Cluster(pg_dsn, takeover=1.2)
    try:
        a = await cluster.add("a")
        await cluster.dbs[0].close()  # a's connection is gone; every call now fails
        watcher = await open_database(pg_dsn)
        try:
            await until(lambda: not a.held(ShardKind.MARKET), 5)
            dropped_at = time.time()
            leases = await LeaseRepository(watcher).all()
            assert all(row.owner == "a" and row.expires_at > dropped_at for row in leases)
            b = await cluster.add("b")
            await until(lambda: cluster.covered([b]), 5)
        finally:
            await watcher.close()
        cluster.dbs.pop(0)
    finally:
        await cluster.close()


def test_a_symbols_shard_is_the_same_in_every_process() -> None:
    assert symbol_shard("BTCUSDT", 16) == 3  # crc32, not the salted str hash
