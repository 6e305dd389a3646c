"""Per-user rate-limit counts in the database, so every replica counts one user's burst once.

The window is sliding, as `services/access.py` promises: a row per counted hit in `rate_hits`
(at most the limit's worth per user and kind live inside a window), and the time a user was
last told they are over the limit in `rate_warnings`. Each decision is one short transaction:
`Transaction.lock` on the user and kind first (PostgreSQL: an advisory lock; SQLite's single
writer already serialises), then a conditional INSERT that adds the hit only while fewer than
the limit are in the window. Without the lock, two PostgreSQL replicas counting one burst under
READ COMMITTED could both see one slot left and both take it.

A refused hit is not counted; the warning is a conditional upsert that writes (and so says
"warn") only when the last warning is a window old or missing, so the user hears once per
window whichever replica they reach. `sweep` drops what no window can still see.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.storage.database import Database, Transaction

_COUNT_IF_UNDER = """
    INSERT INTO rate_hits (user_id, kind, at)
    SELECT ?, ?, ?
    WHERE (SELECT COUNT(*) FROM rate_hits WHERE user_id = ? AND kind = ? AND at > ?) < ?
"""
_FIRST_HIT = "SELECT MIN(at) AS first FROM rate_hits WHERE user_id = ? AND kind = ? AND at > ?"
_WARN_ONCE = """
    INSERT INTO rate_warnings (user_id, kind, warned_at) VALUES (?, ?, ?)
    ON CONFLICT (user_id, kind) DO UPDATE SET warned_at = excluded.warned_at
    WHERE rate_warnings.warned_at <= ?
"""
_WARNED_AT = "SELECT warned_at FROM rate_warnings WHERE user_id = ? AND kind = ?"


@dataclass(frozen=True)
class Hit:
    """What one hit came to: `counted` (under the limit), else when the window's oldest
    counted hit (or, for a refusal without hits, the last warning) was, and whether this
    refusal is the window's first (`warn`)."""

    counted: bool
    since: float | None = None
    warn: bool = False


class RateLimitRepository:
    """Hits and warnings per user and kind ("command", "button", "stranger")."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def hit(self, user_id: int, kind: str, limit: int, now: float, window: float) -> Hit:
        """Count a hit at `now` if fewer than `limit` were counted in the `window` seconds
        before it; otherwise refuse it, uncounted. `limit` 0 refuses every hit (a stranger)."""
        start = now - window
        async with self._db.transaction() as tx:
            await tx.lock(f"rate:{kind}:{user_id}")
            if limit > 0 and await tx.execute(
                _COUNT_IF_UNDER, (user_id, kind, now, user_id, kind, start, limit)
            ):
                return Hit(counted=True)
            first = await tx.fetch_one(_FIRST_HIT, (user_id, kind, start))
            warn = await tx.execute(_WARN_ONCE, (user_id, kind, now, start)) > 0
            since = first["first"] if first and first["first"] is not None else None
            if since is None:
                since = now if warn else await _warned_at(tx, user_id, kind)
        return Hit(counted=False, since=since, warn=warn)

    async def sweep(self, before: float) -> None:
        """Forget hits and warnings older than `before` (no window reaches back that far)."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM rate_hits WHERE at <= ?", (before,))
            await tx.execute("DELETE FROM rate_warnings WHERE warned_at <= ?", (before,))


async def _warned_at(tx: Transaction, user_id: int, kind: str) -> float | None:
    row = await tx.fetch_one(_WARNED_AT, (user_id, kind))
    return float(row["warned_at"]) if row else None
