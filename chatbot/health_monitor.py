"""What `/healthz` answers, computed in the background so that a hit costs nothing.

A health endpoint is hit by anyone who can reach it, as often as they like. Each hit used to
ping Binance (one request weight of the bot's per-IP budget: about 20 hits a second would get
the bot's IP banned) and take the database's write lock. Now a background task checks the
database and the exchange every CHATBOT_HEALTH_INTERVAL seconds and a hit only reads the result,
with what is cheap to read live: the market stream, the outbox backlog, the failures of
background parts kept on the `HealthBoard`, and this replica's name, the live replicas and the
shards it holds (as of the lease keeper's last beat).

The exchange is pinged only when the bot has had no successful answer from it for a whole
interval: a busy bot proves Binance answers without spending anything on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chatbot.exchange.client import BinanceClient
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.weight_governor import background
from chatbot.health import HealthBoard
from chatbot.services.alert_feed import AlertFeed
from chatbot.services.leases import LeaseKeeper
from chatbot.storage.database import Database
from chatbot.storage.leases import ShardKind

log = logging.getLogger(__name__)

OUTBOX_BACKLOG_LIMIT = 1000  # messages waiting before /healthz calls the bot unhealthy
PING_TIMEOUT = 3.0  # seconds
OK = "ok"


class HealthMonitor:
    """Checks the database and the exchange at an interval; `report()` reads the result."""

    def __init__(
        self,
        db: Database,
        client: BinanceClient,
        alerts: AlertFeed,
        board: HealthBoard,
        *,
        interval: float,
        clock: Callable[[], float] = time.time,
        leases: LeaseKeeper | None = None,
    ) -> None:
        self._db = db
        self._leases = leases
        self._client = client
        self._alerts = alerts
        self._board = board
        self._interval = interval
        self._clock = clock
        self._database = "unknown"
        self._exchange = "unknown"
        self._checked_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Check once (so the first hit has an answer), then keep checking in the background."""
        await self.check()
        self._task = asyncio.create_task(self._run(), name="health-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        with background():  # a periodic check waits behind users' calls to Binance
            await self._check_forever()

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except Exception as exc:  # the monitor itself must not die quietly
                self._board.failed("health-monitor", exc)

    async def check(self) -> None:
        """One round: can the database take a write, and does Binance answer."""
        self._database = await self._check_database()
        self._exchange = await self._check_exchange()
        self._checked_at = self._clock()

    async def _check_database(self) -> str:
        try:
            await self._db.check_writable()
        except Exception as exc:  # any failure to write is the answer, not a crash
            return f"error: {type(exc).__name__}"
        return OK

    async def _check_exchange(self) -> str:
        last = self._client.last_success
        if last is not None and self._clock() - last < self._interval:
            return OK
        try:
            await asyncio.wait_for(self._client.ping(), timeout=PING_TIMEOUT)
        except (BinanceError, TimeoutError) as exc:
            return f"error: {type(exc).__name__}"
        return OK

    def report(self) -> tuple[bool, dict[str, Any]]:
        """The /healthz answer: healthy or not, and the checks as JSON-ready values. Failures
        of background parts are shown; they do not by themselves make the bot unhealthy."""
        stream, futures = self._alerts.stream, self._alerts.futures_stream
        backlog = self._alerts.sender.backlog
        watching = bool(stream.symbols or stream.klines)
        # a futures host nobody needs (no perpetual followed) does not make the bot unhealthy
        futures_down = futures is not None and bool(futures.symbols) and not futures.connected
        checks: dict[str, Any] = {
            "database": self._database,
            "exchange": self._exchange,
            "exchange_last_contact": _iso(self._client.last_success),
            "market_stream": OK if stream.connected or not watching else "down",
            "futures_stream": "down" if futures_down else OK,
            "outbox_backlog": backlog,
            "failures": {
                part: {"error": failure.error, "count": failure.count, "at": _iso(failure.at)}
                for part, failure in self._board.failures().items()
            },
            "checked_at": _iso(self._checked_at),
        }
        if self._leases is not None:
            checks["replica"] = {
                "id": self._leases.replica_id,
                "live": self._leases.live_ids,
                "leases": {k.value: sorted(self._leases.held(k)) for k in ShardKind},
            }
        vital = ("database", "exchange", "market_stream", "futures_stream")
        healthy = all(checks[k] == OK for k in vital)
        return healthy and backlog < OUTBOX_BACKLOG_LIMIT, checks


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
