"""Price alerts kept live: the market stream in, the outbox out.

The market stream feeds every trade to the alert service; firings land in the outbox; the
outbox sender delivers them through an `AlertNotifier` (implemented by the handlers). The feed
also counts stream outages and, after a long one (the alert service decides how long), asks the
notifier to tell each chat with alerts, once, that prices are live again. `chatbot/app.py`
builds it and gives it what it needs.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Protocol

from chatbot.exchange.market_stream.group import PriceHandler
from chatbot.exchange.market_stream.stream import GapHandler, MarketStream, StateHandler
from chatbot.health import HealthBoard
from chatbot.services.alerts import AlertService
from chatbot.services.keys import KeyService
from chatbot.services.outbox import OutboxSender, SendResult
from chatbot.storage.alerts import AlertRepository
from chatbot.storage.outbox import FiredAlert

log = logging.getLogger(__name__)

PRUNE_EVERY = 6 * 3600.0  # seconds between clean-ups of long-fired alerts


class AlertNotifier(Protocol):
    """How the alert feed reaches the chat (implemented by the handlers)."""

    async def alerts_fired(
        self, chat_id: int, alerts: list[FiredAlert], *, can_trade: bool
    ) -> SendResult:
        """Send one message for what the outbox holds for `chat_id` (as much as fits), and
        say what became of it; `can_trade` when a single alert's owner has a key."""
        ...

    async def prices_back(self, chat_ids: list[int], delayed_for: float) -> None:
        """Tell these chats (each listed once, however many users have alerts in it) that
        live prices are back after `delayed_for` seconds."""


class OpenMarketStream(Protocol):
    """Builds the market stream with the feed's handlers (the URL and limits are the app's)."""

    def __call__(
        self, *, on_price: PriceHandler, on_gap: GapHandler, on_state: StateHandler
    ) -> MarketStream: ...


class AlertFeed:
    """Keeps the alert book fed with live prices and the outbox sending."""

    def __init__(
        self,
        open_stream: OpenMarketStream,
        alerts: AlertService,
        repo: AlertRepository,
        keys: KeyService,
        notifier: AlertNotifier,
        health: HealthBoard,
    ) -> None:
        self._alerts = alerts
        self._health = health
        self._pruning: asyncio.Task[None] | None = None
        self._keys = keys
        self.outages = 0
        self._repo = repo
        self._notifier = notifier
        self.stream = open_stream(
            on_price=self._on_price, on_gap=alerts.on_gap, on_state=self._on_state
        )
        self.sender = OutboxSender(
            repo.outbox, self._send, alerts.pause_chat, alerts.fired, health=health
        )
        alerts.follow_with(self.stream.add, self.stream.remove)

    async def start(self) -> None:
        await self.stream.start()
        count = await self._alerts.load()
        log.info("price alerts loaded: %d active", count)
        self.sender.start()
        self._alerts.fired.set()  # send what a previous run left in the outbox
        self._pruning = asyncio.get_running_loop().create_task(self._prune(), name="alert-prune")

    async def stop(self) -> None:
        if self._pruning is not None:
            self._pruning.cancel()
            await asyncio.gather(self._pruning, return_exceptions=True)
        await self.sender.stop()
        await self._alerts.stop()
        await self.stream.stop()

    async def _prune(self) -> None:
        """Forget long-fired one-shot alerts now and every `PRUNE_EVERY` seconds."""
        while True:
            try:
                if count := await self._alerts.prune():
                    log.info("forgot %d alerts fired before the retention period", count)
                self._health.recovered("alert-prune")
            except Exception as exc:
                self._health.failed("alert-prune", exc)
            await asyncio.sleep(PRUNE_EVERY)

    async def _send(self, chat_id: int, alerts: list[FiredAlert]) -> SendResult:
        can_trade = len(alerts) == 1 and await self._keys.has_key(alerts[0].user_id)
        return await self._notifier.alerts_fired(chat_id, alerts, can_trade=can_trade)

    def _on_price(self, symbol: str, price: Decimal, event_time_ms: int) -> None:
        self._alerts.on_price(symbol, price)

    async def _on_state(self, up: bool) -> None:
        if not up:
            self.outages += 1
            self._alerts.prices_stopped()
            return
        delayed_for = self._alerts.prices_resumed()
        if delayed_for is not None:
            chats = sorted({alert.chat_id for alert in await self._repo.active()})
            await self._notifier.prices_back(chats, delayed_for)
