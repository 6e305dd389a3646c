"""Alerts: created from the chat, evaluated live, fired exactly once, expired on time.

This module holds the commands (/alert, /alerts, /unalert, the buttons under a fired alert,
a chat's pause and resume, the expiry sweep); `alert_scope.py` the evaluating side (which
alerts this replica holds, the streams and history they need, firings written before anything
is sent). Percent alerts are turned into absolute thresholds when they are set; the kinds after
price levels keep their condition as JSON (`alert_kinds.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from chatbot.errors import UserError
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.health import HealthBoard
from chatbot.services.alert_index import AlertIndex
from chatbot.services.alert_kinds import (
    AlertKind,
    AlertSpec,
    FundingLevel,
    Move,
    PriceLevel,
    condition_from_json,
    to_json,
)
from chatbot.services.alert_levels import alert_level, expiry_instant, kind_level
from chatbot.services.alert_perpetuals import FUNDING_ON_SPOT, Terms, perpetual_terms
from chatbot.services.alert_scope import AlertScope
from chatbot.services.futures_market import FuturesMarketService, contract_of
from chatbot.services.market import MarketService
from chatbot.services.notices import AlertChange, ChangeNotices
from chatbot.services.order_intent import OrderIntent
from chatbot.storage.alerts import (
    AlertDirection,
    AlertLimitReached,
    AlertRecord,
    AlertRepository,
)
from chatbot.storage.database import StorageError

log = logging.getLogger(__name__)

DEFAULT_COOLDOWN = 900.0  # seconds before a `repeat` alert may fire again
PER_USER_LIMIT = 100
DEFAULT_RETENTION_DAYS = 30.0  # fired one-shot alerts are forgotten after this long
DELAY_NOTICE_AFTER = 60.0  # seconds of market stream outage before users hear of it
HUNDRED = Decimal(100)
UTC_ZONE = ZoneInfo("UTC")

ZoneOf = Callable[[int], Awaitable[ZoneInfo]]  # a user's time zone (their /settings)


async def _utc(_: int) -> ZoneInfo:
    return UTC_ZONE


@dataclass(frozen=True)
class NewAlert:
    record: AlertRecord
    price: Decimal  # the price when it was set (a perpetual's: its mark price)
    change: Decimal | None = None  # a move alert's change over its window then, in %
    rate: Decimal | None = None  # a perpetual's funding rate then (a fraction)

    @property
    def distance_pct(self) -> Decimal:
        return (self.record.threshold - self.price) / self.price * HUNDRED


class AlertService:
    def __init__(
        self,
        repo: AlertRepository,
        market: MarketService,
        index: AlertIndex | None = None,
        *,
        per_user_limit: int = PER_USER_LIMIT,
        cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.time,
        health: HealthBoard | None = None,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        delay_notice_after: float = DELAY_NOTICE_AFTER,
        notices: ChangeNotices | None = None,
        zone_of: ZoneOf = _utc,
        futures: FuturesMarketService | None = None,
    ) -> None:
        self._repo = repo
        self._futures = futures
        self._notices = notices
        self._retention = retention_days * 86_400
        self._paused: set[int] = set()
        self._health = health or HealthBoard()
        self._market = market
        self._limit = per_user_limit
        self._cooldown = cooldown
        self._clock = clock
        self._zone_of = zone_of
        self._delay_after = delay_notice_after
        self._down_since: float | None = None
        self.scope = AlertScope(
            repo, market, index or AlertIndex(), clock=clock, health=self._health, futures=futures
        )

    @property
    def book(self) -> AlertIndex:
        """The alerts this replica evaluates, by kind."""
        return self.scope.index

    @property
    def fired(self) -> asyncio.Event:
        """Set when the outbox has something new."""
        return self.scope.fired

    @property
    def fired_total(self) -> int:
        return self.scope.fired_total

    @property
    def repository(self) -> AlertRepository:
        """Where the alerts and, through `repository.outbox`, their messages are kept."""
        return self._repo

    # -- live prices ---------------------------------------------------------------------------

    def delayed_since(self) -> float | None:
        """When live prices stopped, if they have been down longer than the delay notice."""
        since = self._down_since
        return since if since is not None and self._clock() - since > self._delay_after else None

    def prices_stopped(self) -> None:
        """The market stream is down; an outage counts from its first drop until it is back."""
        if self._down_since is None:
            self._down_since = self._clock()

    def prices_resumed(self) -> float | None:
        """The market stream is back: how many seconds prices were delayed, when that was
        longer than the delay notice (users are then told); None for a short outage."""
        since, self._down_since = self._down_since, None
        if since is None:
            return None
        delayed_for = self._clock() - since
        return delayed_for if delayed_for > self._delay_after else None

    async def load(self) -> int:
        """At start: the paused chats, then every active alert this replica evaluates."""
        self._paused = await self._repo.paused_chats()
        return await self.scope.load()

    async def _announce(self, change: AlertChange, alert_ids: list[int], symbol: str) -> None:
        """Tell the other replicas; the change is already written, so a failure here only
        delays the owner's book until its next reload, and the command still succeeds."""
        if self._notices is None or not alert_ids:
            return
        try:
            await self._notices.alerts_changed(change, alert_ids, symbol)
        except StorageError as exc:
            self._health.failed("change-notices", exc)

    async def _announce_chat(self, chat_id: int, *, paused: bool) -> None:
        """Every replica's guard asks `is_paused` of its own memory: tell them all."""
        if self._notices is None:
            return
        try:
            await self._notices.chat_paused(chat_id, paused)
        except StorageError as exc:
            self._health.failed("change-notices", exc)

    async def chat_heard(self, chat_id: int | None, paused: bool) -> None:
        """Another replica paused or resumed a chat (None: notices may have been missed, so
        the paused chats are read again)."""
        if chat_id is None:
            self._paused = await self._repo.paused_chats()
        elif paused:
            self._paused.add(chat_id)
        else:
            self._paused.discard(chat_id)

    # -- the commands ------------------------------------------------------------------------

    async def create(self, user_id: int, chat_id: int, spec: AlertSpec) -> NewAlert:
        """A new alert on a spot symbol, or on a perpetual's key (`BTCUSDT.P`: its mark
        price or its funding rate, see alert_perpetuals.py)."""
        contract = contract_of(spec.symbol)
        if contract is not None:
            if self._futures is None:
                raise UserError("Alerts on perpetual futures are not available here.")
            terms = await perpetual_terms(self._futures, spec, contract)
            await self._check_limit(user_id)
        else:
            if isinstance(spec.condition, FundingLevel):
                raise UserError(FUNDING_ON_SPOT)
            rules = await self._market.resolve(spec.symbol)
            await self._check_limit(user_id)  # before the quote: spare Binance the weight
            terms = await self._spot_terms(spec, rules)
        now = self._clock()
        expires_at = None
        if spec.expiry is not None:
            expires_at = expiry_instant(spec.expiry, now, await self._zone_of(user_id))
        condition, symbol = spec.condition, terms.symbol
        try:
            record = await self._repo.create(
                user_id=user_id,
                chat_id=chat_id,
                symbol=symbol,
                direction=terms.direction,
                threshold=terms.threshold,
                condition=terms.shown,
                note=spec.note,
                repeat=spec.repeat,
                cooldown=self._cooldown,
                limit=self._limit,  # the check that counts: atomic with the insert
                kind=condition.kind.value,
                params=None if isinstance(condition, PriceLevel) else to_json(condition),
                expires_at=expires_at,
            )
        except AlertLimitReached:
            raise self._limit_reached() from None
        if self.scope.hold(record):
            await self.scope.follow(symbol)
            if record.kind not in (AlertKind.PRICE, AlertKind.FUNDING):
                await self._read_history(symbol)
        await self._announce(AlertChange.CREATED, [record.id], symbol)
        return NewAlert(record, terms.price, terms.change, terms.rate)

    async def _check_limit(self, user_id: int) -> None:
        if await self._repo.count_active(user_id) >= self._limit:
            raise self._limit_reached()

    async def _spot_terms(self, spec: AlertSpec, rules: SymbolRules) -> Terms:
        """A spot alert's level against the last price (a move's against its window too)."""
        price = (await self._market.quotes([rules.symbol]))[0].ticker.last_price
        condition = spec.condition
        if isinstance(condition, PriceLevel):
            direction, threshold, shown = alert_level(condition, price, rules)
            _refuse_met(rules.symbol, price, direction, threshold)
            return Terms(rules.symbol, price, direction, threshold, shown)
        direction, threshold, shown = kind_level(condition)
        change = None
        if isinstance(condition, Move):
            change = await self._move_now(rules.symbol, condition, price)
        return Terms(rules.symbol, price, direction, threshold, shown, change)

    async def _read_history(self, symbol: str) -> None:
        """A new move, indicator or volume alert is live when the reply says it is set: its
        book has the candles it reads. Binance failing here leaves the book to start from
        the stream's candles (the history is read again after the next gap or start)."""
        try:
            await self.scope.seed_history(only=symbol)
        except BinanceError as exc:
            self._health.failed("alert-history", exc)

    async def _move_now(self, symbol: str, move: Move, price: Decimal) -> Decimal:
        """The change over the move's window now; refused when it already meets the move
        (like a price level already crossed), since the alert would fire at once."""
        reference = await self._market.price_before(symbol, move.window)
        if reference is None or reference <= 0:
            raise UserError(f"{symbol} has no price history that far back. Try a shorter window.")
        change = (price / reference - 1) * HUNDRED
        if (move.pct > 0 and change >= move.pct) or (move.pct < 0 and change <= move.pct):
            raise UserError(
                f"That alert would fire at once: {symbol} has moved {change:+.2f}% over that "
                "window already. Pick a larger move."
            )
        return change

    def _limit_reached(self) -> UserError:
        return UserError(
            f"You have {self._limit} active alerts, the most allowed. Remove some with "
            "/unalert ID or /unalert all."
        )

    async def list(self, user_id: int) -> list[AlertRecord]:
        return await self._repo.for_user(user_id)

    async def delete(self, user_id: int, alert_ids: list[int] | None) -> list[int]:
        """Remove the user's alerts (all when `alert_ids` is None); returns those removed."""
        deleted = await self._repo.delete(user_id, alert_ids)
        for record in deleted:
            self.scope.index.remove(record.id)
        for symbol in {record.symbol for record in deleted}:
            await self.scope.unfollow_if_idle(symbol)
            ids = [r.id for r in deleted if r.symbol == symbol]
            await self._announce(AlertChange.DELETED, ids, symbol)
        return [record.id for record in deleted]

    async def again(self, user_id: int, alert_id: int) -> NewAlert:
        """The "Set again" button: the same condition, from the price now."""
        record = await self._repo.get(alert_id)
        if record is None or record.user_id != user_id:
            raise UserError("This alert is not yours, or no longer exists.")
        spec = _spec_of(record)
        return await self.create(user_id, record.chat_id, spec)

    async def trade_intent(self, user_id: int, alert_id: int) -> OrderIntent:
        """The "Trade" button: a market order in the alert's direction (buy after a fall, sell
        after a rise) for twice the symbol's minimum order value, for the user to confirm."""
        record = await self._repo.get(alert_id)
        if record is None or record.user_id != user_id:
            raise UserError("This alert is not yours, or no longer exists.")
        if contract_of(record.symbol) is not None:
            raise UserError("Futures orders cannot be placed from the chat.")
        rules = await self._market.resolve(record.symbol)
        minimum = max(
            (f.min_notional for f in (rules.notional, rules.min_notional) if f is not None),
            default=Decimal(5),
        )
        amount = (minimum * 2).to_integral_value(rounding="ROUND_CEILING")
        side = "BUY" if record.direction is AlertDirection.BELOW else "SELL"
        return OrderIntent(side, rules.symbol, max(amount, Decimal(1)), in_quote=False,
                           unit=rules.quote_asset)  # fmt: skip

    def is_paused(self, chat_id: int) -> bool:
        """Whether the chat's alerts are paused because the chat was gone (kept in memory:
        every update asks)."""
        return chat_id in self._paused

    async def pause_chat(self, chat_id: int) -> None:
        """The chat is gone for the bot (blocked, kicked, not found): keep its alerts, stop
        firing them into it until someone writes from it again."""
        paused = await self._repo.pause_chat(chat_id)
        for alert_id in paused:
            await self.scope.forget(alert_id)
        self._paused.add(chat_id)
        await self._announce(AlertChange.DELETED, paused, "-")
        await self._announce_chat(chat_id, paused=True)

    async def resume_chat(self, chat_id: int) -> int:
        """Someone wrote from a paused chat: it works again, so its alerts fire again. Returns
        how many were resumed."""
        self._paused.discard(chat_id)
        records = await self._repo.resume_chat(chat_id)
        await self._announce_chat(chat_id, paused=False)
        for symbol in {r.symbol for r in records if self.scope.hold(r)}:
            await self.scope.follow(symbol)
        self.scope.start_seeding()
        for symbol in {r.symbol for r in records}:
            ids = [r.id for r in records if r.symbol == symbol]
            await self._announce(AlertChange.CREATED, ids, symbol)
        return len(records)

    async def prune(self) -> int:
        """Forget one-shot alerts that fired more than the retention period ago."""
        return await self._repo.prune(self._clock() - self._retention)

    async def expire(self) -> list[AlertRecord]:
        """The expiry sweep: alerts whose `until`/`for` passed are marked expired and their
        message queued (one replica does each), then dropped from this replica's index and
        the others told."""
        expired = await self._repo.expire_due(self._clock())
        for record in expired:
            await self.scope.forget(record.id)
        for symbol in sorted({r.symbol for r in expired}):
            ids = [r.id for r in expired if r.symbol == symbol]
            await self._announce(AlertChange.DELETED, ids, symbol)
        if expired:
            self.scope.fired.set()
        return expired

    async def stop(self) -> None:
        await self.scope.stop()


def _refuse_met(symbol: str, price: Decimal, direction: AlertDirection, level: Decimal) -> None:
    if (direction is AlertDirection.ABOVE and price >= level) or (
        direction is AlertDirection.BELOW and price <= level
    ):
        raise UserError(
            f"That alert would fire at once: {symbol} is at {price.normalize():f} now. "
            f"Example: /alert {symbol} > {(price * Decimal('1.05')).quantize(Decimal(1))}"
        )


def _spec_of(record: AlertRecord) -> AlertSpec:
    """The alert's condition, to be set again (without its expiry)."""
    kind = AlertKind(record.kind)
    if kind is not AlertKind.PRICE and record.params:
        condition = condition_from_json(kind, record.params)
        return AlertSpec(record.symbol, condition, record.note, record.repeat)
    operator = ">" if record.direction is AlertDirection.ABOVE else "<"
    return AlertSpec(
        record.symbol, PriceLevel(operator, record.threshold), record.note, record.repeat
    )
