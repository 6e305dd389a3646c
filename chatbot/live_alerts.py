"""Wiring of price alerts: the market stream in, the outbox out.

Like `app.py`, this module knows every layer. The market stream feeds every trade to the alert
service; firings land in the outbox; the outbox sender delivers them through the handlers'
`send_fired`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from telegram.error import TelegramError

from chatbot.exchange.connection_attempts import ConnectionAttempts
from chatbot.exchange.streams import MarketStream
from chatbot.health import HealthBoard
from chatbot.services.alerts import AlertService
from chatbot.services.keys import KeyService
from chatbot.services.outbox import OutboxSender, SendResult
from chatbot.storage.alerts import AlertRepository
from chatbot.telegram_pacing import PacedBot, SendPriority
from handlers import alerts as alert_handlers

log = logging.getLogger(__name__)

DELAY_NOTICE_AFTER = 60.0  # seconds of stream outage before users are told it is back
PRUNE_EVERY = 6 * 3600.0  # seconds between clean-ups of long-fired alerts


class LiveAlerts:
    def __init__(
        self,
        stream_url: str,
        alerts: AlertService,
        repo: AlertRepository,
        keys: KeyService,
        bot: PacedBot,
        health: HealthBoard,
        *,
        attempts: ConnectionAttempts | None = None,
    ) -> None:
        self._alerts = alerts
        self._health = health
        self._pruning: asyncio.Task[None] | None = None
        self._keys = keys
        self.outages = 0
        self._repo = repo
        self._bot = bot
        self.stream = MarketStream(
            stream_url,
            on_price=self._on_price,
            on_gap=alerts.on_gap,
            on_state=self._on_state,
            attempts=attempts,
        )
        self.sender = OutboxSender(repo, self._send, alerts.pause_chat, alerts.fired, health=health)
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

    async def _send(self, chat_id: int, payloads: list[dict[str, Any]]) -> SendResult:
        owner = payloads[0].get("user_id")
        can_trade = len(payloads) == 1 and owner is not None and await self._keys.has_key(owner)
        return await alert_handlers.send_fired(self._bot, chat_id, payloads, can_trade=can_trade)

    def _on_price(self, symbol: str, price: object, event_time_ms: int) -> None:
        self._alerts.on_price(symbol, price)  # type: ignore[arg-type]

    async def _on_state(self, up: bool) -> None:
        if not up:
            self.outages += 1
            self._alerts.down_since = self._alerts.down_since or time.time()
            return
        since, self._alerts.down_since = self._alerts.down_since, None
        if since is not None and time.time() - since > DELAY_NOTICE_AFTER:
            await self._tell_back(since)

    async def _tell_back(self, since: float) -> None:
        users = {(a.user_id, a.chat_id) for a in await self._repo.active()}
        text = (
            "✅ Live prices are back (they were delayed for "
            f"{(time.time() - since) / 60:.0f} min); your alerts were checked against the "
            "prices now."
        )
        for _, chat_id in users:
            with contextlib.suppress(TelegramError):
                await self._bot.send_message(chat_id, text, rate_limit_args=SendPriority.BULK)
