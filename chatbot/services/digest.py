"""The daily or weekly digest: what it holds (`DigestService.build`) and when it goes
(`DigestScheduler`).

A digest holds the total balance in USDT and its change since the previous digest, the open
orders, the alerts fired since the previous digest and the holdings without protection
(`RiskService`); a user without a key gets the alerts alone. Its Binance reads are background
work of the shared weight budget: a digest waits behind users' own commands.

The scheduler runs on every replica. Every `poll` seconds (CHATBOT_DIGEST_POLL_SECONDS) it reads
the digests due on the bot's clock and claims each with a conditional UPDATE
(`PreferenceRepository.claim_digest`) that moves its next instant on: whichever replica or poll
moves it sends that digest, and no other does. A digest that fails to build after its claim is
not retried (the user gets the next one): a duplicate would be worse than a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from chatbot.errors import UserFacingError
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.models import Order
from chatbot.exchange.weight_governor import background
from chatbot.health import HealthBoard
from chatbot.services.account import AccountService
from chatbot.services.delivery import DigestEvery, MessageKind, Mode, UserSettings
from chatbot.services.keys import KeyService
from chatbot.services.risk import RiskService
from chatbot.storage.alerts import AlertRecord, AlertRepository
from chatbot.storage.preferences import PreferenceRepository

log = logging.getLogger(__name__)

DAY = 86_400.0
DUE_PER_POLL = 200  # digests one poll takes at most; the rest are due at the next poll


@dataclass(frozen=True)
class Digest:
    """One digest, for the handlers to word. `total_usdt` None: no key, or Binance could not
    be read (`unreadable`); `previous_usdt` None: no earlier digest showed a balance."""

    user_id: int
    at: float
    since: float
    has_key: bool
    every: DigestEvery = DigestEvery.DAILY
    time_zone: str = "UTC"
    total_usdt: Decimal | None = None
    previous_usdt: Decimal | None = None
    open_orders: list[Order] = field(default_factory=list)
    fired: list[AlertRecord] = field(default_factory=list)
    unprotected: list[str] = field(default_factory=list)
    unreadable: bool = False

    @property
    def change_usdt(self) -> Decimal | None:
        if self.total_usdt is None or self.previous_usdt is None:
            return None
        return self.total_usdt - self.previous_usdt


class DigestNotifier(Protocol):
    async def digest(self, digest: Digest) -> None:
        """Send the digest, as the user's settings for digests say (on, silent, off)."""


class DigestService:
    def __init__(
        self,
        account: AccountService,
        risk: RiskService,
        keys: KeyService,
        alerts: AlertRepository,
    ) -> None:
        self._account = account
        self._risk = risk
        self._keys = keys
        self._alerts = alerts

    async def build(self, settings: UserSettings, now: float) -> Digest:
        """The digest due at `now` for the user of `settings` (which say when the last was)."""
        user_id = settings.user_id
        period = 7 * DAY if settings.digest and settings.digest.every is DigestEvery.WEEKLY else DAY
        since = settings.digest_last or now - period
        fired = [a for a in await self._alerts.for_user(user_id) if (a.fired_at or 0) > since]
        every = settings.digest.every if settings.digest else DigestEvery.DAILY
        base = Digest(user_id, now, since, False, every, settings.time_zone, fired=fired)
        if not await self._keys.has_key(user_id):
            return base
        try:
            with background():
                report = await self._risk.report(user_id)
                _, orders = await self._account.open_orders(user_id)
        except (BinanceError, UserFacingError) as exc:
            log.info("digest for user_id=%s without balances: %s", user_id, type(exc).__name__)
            return replace(base, has_key=True, unreadable=True)
        return replace(
            base,
            has_key=True,
            total_usdt=report.total_usdt,
            previous_usdt=settings.digest_last_usdt,
            open_orders=orders,
            unprotected=report.unprotected,
        )


class DigestScheduler:
    """Sends each due digest once, whichever replica's poll claims it (module docstring)."""

    def __init__(
        self,
        repo: PreferenceRepository,
        service: DigestService,
        notifier: DigestNotifier,
        *,
        clock: Callable[[], float],
        poll: float,
        health: HealthBoard | None = None,
    ) -> None:
        self._repo = repo
        self._service = service
        self._notifier = notifier
        self._clock = clock
        self._poll = poll
        self._health = health or HealthBoard()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="digests")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.send_due()
                self._health.recovered("digests")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database, a bug: report it, poll again
                self._health.failed("digests", exc)
            await asyncio.sleep(self._poll)

    async def send_due(self) -> int:
        """Claim and send every digest due now; returns how many this call sent."""
        now = self._clock()
        sent = 0
        for settings in await self._repo.due_digests(now, DUE_PER_POLL):
            if settings.digest is None or settings.digest_next is None:
                continue
            next_due = settings.digest.next_after(now, settings.zone)
            if not await self._repo.claim_digest(settings.user_id, settings.digest_next, next_due):
                continue  # another replica or poll has it
            if settings.mode(MessageKind.DIGESTS) is Mode.OFF:
                continue  # nothing to read from Binance for a digest nobody will see
            try:
                digest = await self._service.build(settings, now)
                await self._notifier.digest(digest)
                await self._repo.record_digest(settings.user_id, now, digest.total_usdt)
            except Exception as exc:  # this user's digest only: the others still go
                log.warning("digest for user_id=%s failed", settings.user_id, exc_info=True)
                self._health.failed("digests", exc)
                continue
            sent += 1
        return sent
