"""Price alerts kept live: the market streams in, the outbox out.

The market stream feeds every trade to the alert service, and a second one on Binance's
futures streams (`markPrice@1s`) every followed perpetual's mark price and funding rate: a
symbol the scope follows goes to the stream of its market (a perpetual's key `BTCUSDT.P` to the
futures stream, as `BTCUSDT`; see services/futures_market.py), and what that stream reports
comes back under the key. Firings land in the outbox; the outbox sender delivers them through
an `AlertNotifier` (implemented by the handlers). Prices count as down while either stream is
down; the feed counts such outages and, after a long one (the alert service decides how
long), asks the notifier to tell each chat with alerts, once, that prices are live again.
`chatbot/app.py` builds it and gives it what it needs.

With a lease keeper, the book and the stream hold only the symbols of the market shards this
replica holds: a gained shard's alerts are read and caught up as after a stream gap, a lost
one's dropped, and alerts made or removed on another replica arrive as change notices. Every
replica runs an outbox sender (each message is claimed by one).
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import Protocol

from chatbot.exchange.errors import BinanceError
from chatbot.exchange.market_stream.group import FundingHandler, KlineHandler, PriceHandler
from chatbot.exchange.market_stream.stream import GapHandler, MarketStream, StateHandler
from chatbot.health import HealthBoard
from chatbot.services.alerts import AlertService
from chatbot.services.futures_market import contract_of, futures_key
from chatbot.services.keys import KeyService
from chatbot.services.leases import LeaseKeeper
from chatbot.services.notices import AlertChange, AlertNotice, ChangeNotices
from chatbot.services.outbox import OutboxSender, SendResult
from chatbot.storage.alerts import AlertRepository
from chatbot.storage.leases import ShardKind, symbol_shard
from chatbot.storage.outbox import FiredAlert

log = logging.getLogger(__name__)

PRUNE_EVERY = 6 * 3600.0  # seconds between clean-ups of long-fired alerts
EXPIRY_EVERY = 30.0  # seconds between sweeps for alerts past their `until`/`for`


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
        self,
        *,
        on_price: PriceHandler,
        on_kline: KlineHandler,
        on_gap: GapHandler,
        on_state: StateHandler,
    ) -> MarketStream: ...


class OpenFuturesStream(Protocol):
    """Builds the futures mark price stream with the feed's handlers."""

    def __call__(
        self,
        *,
        on_price: PriceHandler,
        on_funding: FundingHandler,
        on_gap: GapHandler,
        on_state: StateHandler,
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
        leases: LeaseKeeper | None = None,
        notices: ChangeNotices | None = None,
        expiry_every: float = EXPIRY_EVERY,
        open_futures_stream: OpenFuturesStream | None = None,
    ) -> None:
        self._expiry_every = expiry_every
        self._alerts = alerts
        self._leases = leases
        self._notices = notices
        self._health = health
        self._pruning: asyncio.Task[None] | None = None
        self._expiring: asyncio.Task[None] | None = None
        self._catching_up: set[asyncio.Task[None]] = set()
        self._keys = keys
        self.outages = 0
        self._repo = repo
        self._notifier = notifier
        self._down: set[str] = set()  # the streams down now: "spot", "futures"
        self._up = True  # the feed's state as last acted on
        scope = alerts.scope
        self.stream = open_stream(
            on_price=self._on_price,
            on_kline=scope.on_kline,
            on_gap=scope.on_gap,
            on_state=self._state_of("spot"),
        )
        self.futures_stream = (
            None
            if open_futures_stream is None
            else open_futures_stream(
                on_price=self._on_mark,
                on_funding=self._on_funding,
                on_gap=self._on_futures_gap,
                on_state=self._state_of("futures"),
            )
        )
        self.sender = OutboxSender(
            repo.outbox, self._send, alerts.pause_chat, alerts.fired, health=health
        )
        scope.follow_with(self._watch, self._unwatch)
        scope.follow_klines_with(self.stream.add_klines, self.stream.remove_klines)
        if leases is not None:
            scope.restrict_to(leases.owns_symbol)
            leases.on_change(ShardKind.MARKET, self._shards_changed)

    async def start(self) -> None:
        if self._notices is not None:
            await self._notices.on_alerts(self._heard)
            await self._notices.on_chats(self._alerts.chat_heard)
        await self.stream.start()
        if self.futures_stream is not None:
            await self.futures_stream.start()
        count = await self._alerts.load()
        log.info("price alerts loaded: %d active", count)
        self.sender.start()
        self._alerts.fired.set()  # send what a previous run left in the outbox
        loop = asyncio.get_running_loop()
        self._pruning = loop.create_task(self._prune(), name="alert-prune")
        self._expiring = loop.create_task(self._expire(), name="alert-expiry")

    async def stop(self) -> None:
        tasks = [*self._catching_up, *(t for t in (self._pruning, self._expiring) if t)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.sender.stop()
        await self._alerts.stop()
        await self.stream.stop()
        if self.futures_stream is not None:
            await self.futures_stream.stop()

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

    async def _expire(self) -> None:
        """Expire the alerts past their `until`/`for` every `expiry_every` seconds (any
        replica may: each alert is expired, and told, once)."""
        while True:
            try:
                if expired := await self._alerts.expire():
                    log.info("%d alerts expired", len(expired))
                self._health.recovered("alert-expiry")
            except Exception as exc:
                self._health.failed("alert-expiry", exc)
            await asyncio.sleep(self._expiry_every)

    async def _shards_changed(self, gained: frozenset[int], lost: frozenset[int]) -> None:
        """The keeper moved market shards: drop the lost ones' alerts, take the gained ones'
        and catch them up from REST in the background (the keeper's beat must not wait for
        Binance)."""
        shards = self._leases.settings.shards if self._leases else 1

        def shard(symbol: str) -> int:
            return symbol_shard(symbol, shards)

        if lost:
            await self._alerts.scope.drop_symbols(lambda symbol: shard(symbol) in lost)
        if gained:
            try:
                taken = await self._alerts.scope.take_symbols(
                    lambda symbol: shard(symbol) in gained
                )
            except BaseException:  # not taken up: the keeper gives the shards back
                await self._alerts.scope.drop_symbols(lambda symbol: shard(symbol) in gained)
                raise
            log.info("market shards %s taken: %d symbols", sorted(gained), len(taken))
            if taken:
                task = asyncio.get_running_loop().create_task(self._catch_up(taken))
                self._catching_up.add(task)
                task.add_done_callback(self._catching_up.discard)

    async def _catch_up(self, symbols: list[str]) -> None:
        """As after a stream gap: the current prices once, so what crossed while nobody held
        these symbols fires now. A failure is reported: the stream's next trades still fire
        what stays beyond its level."""
        try:
            await self._alerts.scope.on_gap(symbols)
            self._health.recovered("alert-catch-up")
        except BinanceError as exc:
            self._health.failed("alert-catch-up", exc)

    async def _heard(self, notice: AlertNotice | None) -> None:
        """Another replica changed alerts (None: notices may have been missed)."""
        if notice is None:
            await self._alerts.scope.reload()
        elif notice.change is AlertChange.CREATED:
            for alert_id in notice.alert_ids:
                await self._alerts.scope.adopt(alert_id)
        else:
            for alert_id in notice.alert_ids:
                await self._alerts.scope.forget(alert_id)

    async def _send(self, chat_id: int, alerts: list[FiredAlert]) -> SendResult:
        """A single spot alert's owner with a key gets a Trade button (no futures orders
        from the chat: a perpetual's alert never does)."""
        can_trade = (
            len(alerts) == 1
            and contract_of(alerts[0].symbol) is None
            and await self._keys.has_key(alerts[0].user_id)
        )
        return await self._notifier.alerts_fired(chat_id, alerts, can_trade=can_trade)

    # -- the two streams ---------------------------------------------------------------------

    async def _watch(self, symbol: str) -> None:
        """Follow a symbol on the stream of its market (a perpetual's key on the futures one)."""
        contract = contract_of(symbol)
        if contract is None:
            await self.stream.add(symbol)
        elif self.futures_stream is not None:
            await self.futures_stream.add(contract)
        else:
            log.warning("no futures stream: %s is not followed", symbol)

    async def _unwatch(self, symbol: str) -> None:
        contract = contract_of(symbol)
        if contract is None:
            await self.stream.remove(symbol)
        elif self.futures_stream is not None:
            await self.futures_stream.remove(contract)

    def _on_price(self, symbol: str, price: Decimal, event_time_ms: int) -> None:
        self._alerts.scope.on_price(symbol, price, time_ms=event_time_ms)

    def _on_mark(self, contract: str, mark: Decimal, event_time_ms: int) -> None:
        self._alerts.scope.on_price(futures_key(contract), mark, time_ms=event_time_ms)

    def _on_funding(self, contract: str, rate: Decimal, event_time_ms: int) -> None:
        self._alerts.scope.on_funding(futures_key(contract), rate)

    async def _on_futures_gap(self, contracts: list[str]) -> None:
        await self._alerts.scope.on_gap([futures_key(c) for c in contracts])

    def _state_of(self, stream: str) -> StateHandler:
        """One stream's up/down, folded into the feed's: down while spot's stream is, or the
        futures stream while it carries some perpetual (a futures host that cannot be reached,
        as in a region Binance serves no futures to, must not mark spot prices delayed)."""

        async def changed(up: bool) -> None:
            if up:
                self._down.discard(stream)
            else:
                self._down.add(stream)
            feed_up = not self._feed_down()
            if feed_up != self._up:
                self._up = feed_up
                await self._on_state(feed_up)

        return changed

    def _feed_down(self) -> bool:
        futures = self.futures_stream
        carrying = futures is not None and bool(futures.symbols)
        return "spot" in self._down or ("futures" in self._down and carrying)

    async def _on_state(self, up: bool) -> None:
        if not up:
            self.outages += 1
            self._alerts.prices_stopped()
            return
        delayed_for = self._alerts.prices_resumed()
        if delayed_for is not None:
            # the chats of this replica's alerts, less those another replica already told
            # about this outage (a chat with alerts on two replicas' symbols hears it once)
            mine = {a.chat_id for a in await self._repo.active() if a.id in self._alerts.book}
            now = time.time()
            chats = await self._repo.claim_prices_back(sorted(mine), now - delayed_for, now)
            await self._notifier.prices_back(chats, delayed_for)
