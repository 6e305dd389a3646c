"""Price alerts: created from the chat, evaluated on every trade, fired exactly once.

Active alerts live in the database and, indexed, in the `AlertBook`, which finds the alerts a
price fires by bisection. With several replicas, a replica's book holds only the alerts of the
symbols whose market shard it holds (`restrict_to`, `take_symbols`, `drop_symbols`, fed by the
lease keeper through the alert feed); an alert made on another replica reaches it by
`adopt`. A firing is written (alert marked, message queued in the outbox) in one
transaction before anything is sent; the outbox sender does the sending. Percent alerts are
turned into absolute thresholds when they are set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from chatbot.errors import UserError
from chatbot.health import HealthBoard
from chatbot.services.alert_book import AlertBook
from chatbot.services.alert_kinds import AlertSpec, PriceLevel
from chatbot.services.alert_levels import alert_level
from chatbot.services.market import MarketService
from chatbot.services.notices import AlertChange, ChangeNotices
from chatbot.services.order_intent import OrderIntent
from chatbot.storage.alerts import (
    AlertDirection,
    AlertLimitReached,
    AlertRecord,
    AlertRepository,
    AlertState,
)
from chatbot.storage.database import StorageError
from chatbot.storage.retry import until_written

log = logging.getLogger(__name__)

DEFAULT_COOLDOWN = 900.0  # seconds before a `repeat` alert may fire again
PER_USER_LIMIT = 100
DEFAULT_RETENTION_DAYS = 30.0  # fired one-shot alerts are forgotten after this long
DELAY_NOTICE_AFTER = 60.0  # seconds of market stream outage before users hear of it
HUNDRED = Decimal(100)

Watch = Callable[[str], Awaitable[None]]
SymbolFilter = Callable[[str], bool]


def _everything(_: str) -> bool:
    return True


@dataclass(frozen=True)
class NewAlert:
    record: AlertRecord
    price: Decimal  # the price when it was set

    @property
    def distance_pct(self) -> Decimal:
        return (self.record.threshold - self.price) / self.price * HUNDRED


class AlertService:
    def __init__(
        self,
        repo: AlertRepository,
        market: MarketService,
        book: AlertBook,
        *,
        per_user_limit: int = PER_USER_LIMIT,
        cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.time,
        health: HealthBoard | None = None,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        delay_notice_after: float = DELAY_NOTICE_AFTER,
        notices: ChangeNotices | None = None,
    ) -> None:
        self._repo = repo
        self._notices = notices
        self._retention = retention_days * 86_400
        self._paused: set[int] = set()
        self._health = health or HealthBoard()
        self._market = market
        self._book = book
        self._limit = per_user_limit
        self._cooldown = cooldown
        self._clock = clock
        self._watch: Watch | None = None
        self._unwatch: Watch | None = None
        self._watched: set[str] = set()  # symbols this service asked the stream for
        self._owns: SymbolFilter = _everything
        self.fired = asyncio.Event()  # set when the outbox has something new
        self._tasks: set[asyncio.Task[None]] = set()
        self._delay_after = delay_notice_after
        self._down_since: float | None = None
        self.fired_total = 0

    @property
    def book(self) -> AlertBook:
        return self._book

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

    def follow_with(self, watch: Watch, unwatch: Watch) -> None:
        """How symbols get (un)subscribed on the market stream."""
        self._watch, self._unwatch = watch, unwatch

    def restrict_to(self, owns: SymbolFilter) -> None:
        """Hold only the alerts of symbols `owns` selects (the market shards this replica
        holds); the rest are another replica's to evaluate."""
        self._owns = owns

    async def load(self) -> int:
        """At start: put every active alert this replica evaluates back in the book and
        watch its symbol. Returns how many the book holds."""
        self._paused = await self._repo.paused_chats()
        symbols = await self._read_active(self._owns)
        for symbol in symbols:
            await self._watch_symbol(symbol)
        return len(self._book)

    async def take_symbols(self, wanted: SymbolFilter) -> list[str]:
        """Shards just gained: index the active alerts of the symbols `wanted` selects and
        watch those symbols. Returns the symbols taken, for the caller to catch up with
        `on_gap` (what crossed while nobody held them fires then)."""
        symbols = sorted(await self._read_active(wanted))
        for symbol in symbols:
            await self._watch_symbol(symbol)
        return symbols

    async def drop_symbols(self, unwanted: SymbolFilter) -> None:
        """Shards just lost: forget their alerts and stop watching their symbols (no database
        call: this also runs when the database cannot be reached)."""
        for symbol in [s for s in self._book.symbols() | self._watched if unwanted(s)]:
            for alert_id in self._book.ids(symbol):
                self._book.remove(alert_id)
            await self._unwatch_if_idle(symbol)

    async def adopt(self, alert_id: int) -> None:
        """An alert was made on another replica: index it if this one evaluates its symbol."""
        record = await self._repo.get(alert_id)
        if record is not None and record.state is AlertState.ACTIVE and self._index(record):
            await self._watch_symbol(record.symbol)

    async def forget(self, alert_id: int) -> None:
        """An alert was deleted or paused (here or on another replica): drop it from this
        book."""
        view = self._book.get(alert_id)
        if view is not None and self._book.remove(alert_id):
            await self._unwatch_if_idle(view.symbol)

    async def reload(self) -> None:
        """Change notices may have been missed: make the book match the database's active
        alerts of the symbols this replica evaluates."""
        active: set[int] = set()
        async for page in self._repo.active_pages():
            active.update(a.id for a in page if self._owns(a.symbol))
        for symbol in list(self._book.symbols()):
            for alert_id in self._book.ids(symbol):
                if alert_id not in active:
                    await self.forget(alert_id)
        for symbol in await self._read_active(self._owns):
            await self._watch_symbol(symbol)

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

    async def _read_active(self, wanted: SymbolFilter) -> set[str]:
        """Index every active alert of the symbols `wanted` selects; their symbols."""
        symbols: set[str] = set()
        async for page in self._repo.active_pages():
            for alert in page:
                if wanted(alert.symbol) and self._index(alert):
                    symbols.add(alert.symbol)
        return symbols

    def _index(self, alert: AlertRecord) -> bool:
        """Put an alert in the book, unless it is there already or another replica evaluates
        its symbol; whether the book holds it now. `load` runs while the bot already takes
        commands, so an alert created meanwhile can reach the book both from its /alert and
        from the start-up read (the same row either way)."""
        if alert.id in self._book:
            return True
        if not self._owns(alert.symbol):
            return False
        self._book.add(
            alert.id,
            alert.symbol,
            alert.direction,
            alert.threshold,
            repeat=alert.repeat,
            cooldown=alert.cooldown,
            # a repeat alert that fired before a restart waits to re-arm, not to fire at once
            fired_at=alert.fired_at if alert.repeat else None,
        )
        return True

    # -- the commands ------------------------------------------------------------------------

    async def create(self, user_id: int, chat_id: int, spec: AlertSpec) -> NewAlert:
        rules = await self._market.resolve(spec.symbol)
        if await self._repo.count_active(user_id) >= self._limit:  # spare Binance the quote
            raise self._limit_reached()
        price = (await self._market.quotes([rules.symbol]))[0].ticker.last_price
        direction, threshold, condition = alert_level(spec.condition, price, rules)
        if (direction is AlertDirection.ABOVE and price >= threshold) or (
            direction is AlertDirection.BELOW and price <= threshold
        ):
            raise UserError(
                f"That alert would fire at once: {rules.symbol} is at {price.normalize():f} now. "
                f"Example: /alert {rules.symbol} > {(price * Decimal('1.05')).quantize(Decimal(1))}"
            )
        try:
            record = await self._repo.create(
                user_id=user_id,
                chat_id=chat_id,
                symbol=rules.symbol,
                direction=direction,
                threshold=threshold,
                condition=condition,
                note=spec.note,
                repeat=spec.repeat,
                cooldown=self._cooldown,
                limit=self._limit,  # the check that counts: atomic with the insert
            )
        except AlertLimitReached:
            raise self._limit_reached() from None
        if self._index(record):
            await self._watch_symbol(rules.symbol)
        await self._announce(AlertChange.CREATED, [record.id], rules.symbol)
        return NewAlert(record, price)

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
            self._book.remove(record.id)
        for symbol in {record.symbol for record in deleted}:
            await self._unwatch_if_idle(symbol)
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
            await self.forget(alert_id)
        self._paused.add(chat_id)
        await self._announce(AlertChange.DELETED, paused, "-")
        await self._announce_chat(chat_id, paused=True)

    async def resume_chat(self, chat_id: int) -> int:
        """Someone wrote from a paused chat: it works again, so its alerts fire again. Returns
        how many were resumed."""
        self._paused.discard(chat_id)
        records = await self._repo.resume_chat(chat_id)
        await self._announce_chat(chat_id, paused=False)
        for symbol in {r.symbol for r in records if self._index(r)}:
            await self._watch_symbol(symbol)
        for symbol in {r.symbol for r in records}:
            ids = [r.id for r in records if r.symbol == symbol]
            await self._announce(AlertChange.CREATED, ids, symbol)
        return len(records)

    async def prune(self) -> int:
        """Forget one-shot alerts that fired more than the retention period ago."""
        return await self._repo.prune(self._clock() - self._retention)

    async def stop(self) -> None:
        """Cancel firings still waiting for the database: those alerts were never written as
        fired, so they are still active in the file and the next run watches them again."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- prices --------------------------------------------------------------------------------

    def on_price(self, symbol: str, price: Decimal, now: float | None = None) -> None:
        """A trade: find the alerts it fires (bisection) and record them in the background,
        fired at the tick's `now`: the book started a repeat alert's cooldown then, and the
        database's cooldown check (`AlertRepository.fire`) must count from the same instant."""
        now = self._clock() if now is None else now
        fired = self._book.on_price(symbol, price, now)
        if fired:
            task = asyncio.get_running_loop().create_task(self._record(fired, symbol, price, now))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def on_gap(self, symbols: list[str]) -> None:
        """After the stream was down: evaluate the current prices once, so a crossing during
        the gap still fires."""
        prices = await self._market.last_prices(refresh=True)
        for symbol in symbols:
            if symbol in prices:
                self.on_price(symbol, prices[symbol])

    async def _record(self, alert_ids: list[int], symbol: str, price: Decimal, now: float) -> None:
        """Write the firing, retrying until the database takes it: the alerts have already
        left the book, so a failed write would lose them. A failure after the write (the
        stream's unsubscribe) is reported, never left to "Task exception was never
        retrieved"."""
        try:
            fired = await until_written(
                lambda: self._write_firing(alert_ids, price, now),
                part="alert-firing",
                health=self._health,
            )
            self.fired_total += len(fired)
            self.fired.set()
            if any(not r.repeat for r in fired):
                await self._unwatch_if_idle(symbol)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._health.failed("alert-firing", exc)

    async def _write_firing(
        self, alert_ids: list[int], price: Decimal, now: float
    ) -> list[AlertRecord]:
        return await self._repo.fire(alert_ids, price, now)

    async def _watch_symbol(self, symbol: str) -> None:
        """Ask the stream for a symbol once, however many alerts it has (the stream counts
        each request and wants as many removes)."""
        if self._watch is not None and symbol not in self._watched:
            self._watched.add(symbol)
            await self._watch(symbol)

    async def _unwatch_if_idle(self, symbol: str) -> None:
        if self._unwatch is not None and symbol in self._watched and not self._book.count(symbol):
            self._watched.discard(symbol)
            await self._unwatch(symbol)


def _spec_of(record: AlertRecord) -> AlertSpec:
    operator = ">" if record.direction is AlertDirection.ABOVE else "<"
    return AlertSpec(
        record.symbol, PriceLevel(operator, record.threshold), record.note, record.repeat
    )
