"""The alerts this replica evaluates: which ones, the streams and the history they need, and
their firings written before anything is sent.

Active alerts live in the database and, indexed by kind, in the `AlertIndex`. With several
replicas, a replica's index holds only the alerts of the symbols whose market shard it holds
(`restrict_to`, `take_symbols`, `drop_symbols`, fed by the lease keeper through the alert feed);
an alert made on another replica reaches it by `adopt`. A symbol's trades are followed while it
has price or move alerts, its kline streams while it has indicator or volume alerts, and the
candle history a book lacks is read over REST (background weight) and given to it. A perpetual
(its key `BTCUSDT.P`, see services/futures_market.py) is followed by its mark price, which
carries its funding rate: `on_price` with the mark meets its price levels, `on_funding` its
funding levels, and after a gap both are read from every contract's premium index. A firing is
written (alert marked, message queued in the outbox) in one transaction before anything is
sent; the outbox sender does the sending.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

from chatbot.exchange.errors import BinanceError
from chatbot.exchange.market_models import Kline
from chatbot.health import HealthBoard
from chatbot.services.alert_index import AlertIndex
from chatbot.services.alert_kinds import INTERVAL_SECONDS, Firing
from chatbot.services.futures_market import FuturesMarketService, contract_of
from chatbot.services.market import MarketService
from chatbot.storage.alerts import AlertRecord, AlertRepository, AlertState
from chatbot.storage.retry import until_written

log = logging.getLogger(__name__)

CATCH_UP_CANDLES = 100  # candles of each interval read again after a stream gap
Watch = Callable[[str], Awaitable[None]]
WatchKlines = Callable[[str, str], Awaitable[None]]
SymbolFilter = Callable[[str], bool]


def _everything(_: str) -> bool:
    return True


class AlertScope:
    """The evaluating side of the alerts; see the module docstring."""

    def __init__(
        self,
        repo: AlertRepository,
        market: MarketService,
        index: AlertIndex,
        *,
        clock: Callable[[], float] = time.time,
        health: HealthBoard | None = None,
        futures: FuturesMarketService | None = None,
    ) -> None:
        self._repo = repo
        self._market = market
        self._futures = futures
        self.index = index
        self._clock = clock
        self._health = health or HealthBoard()
        self._watch: Watch | None = None
        self._unwatch: Watch | None = None
        self._watch_klines: WatchKlines | None = None
        self._unwatch_klines: WatchKlines | None = None
        self._watched: set[str] = set()  # symbols whose trades this scope asked the stream for
        self._kline_streams: set[tuple[str, str]] = set()  # (symbol, interval) asked for
        self._owns: SymbolFilter = _everything
        self.fired = asyncio.Event()  # set when the outbox has something new
        self.fired_total = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._seeding: asyncio.Lock = asyncio.Lock()

    # -- what this replica holds -------------------------------------------------------------

    def follow_with(self, watch: Watch, unwatch: Watch) -> None:
        """How symbols' trades get (un)subscribed on the market stream."""
        self._watch, self._unwatch = watch, unwatch

    def follow_klines_with(self, watch: WatchKlines, unwatch: WatchKlines) -> None:
        """How (symbol, interval) kline streams get (un)subscribed on the market stream."""
        self._watch_klines, self._unwatch_klines = watch, unwatch

    def restrict_to(self, owns: SymbolFilter) -> None:
        """Hold only the alerts of symbols `owns` selects (the market shards this replica
        holds); the rest are another replica's to evaluate."""
        self._owns = owns

    def owns(self, symbol: str) -> bool:
        return self._owns(symbol)

    async def load(self) -> int:
        """At start: put every active alert this replica evaluates back in the index and
        follow its streams. Returns how many the index holds."""
        for symbol in await self._read_active(self._owns):
            await self.follow(symbol)
        self.start_seeding()
        return len(self.index)

    async def take_symbols(self, wanted: SymbolFilter) -> list[str]:
        """Shards just gained: index the active alerts of the symbols `wanted` selects and
        follow them. Returns the symbols taken, for the caller to catch up with `on_gap`."""
        symbols = sorted(await self._read_active(wanted))
        for symbol in symbols:
            await self.follow(symbol)
        self.start_seeding()
        return symbols

    async def drop_symbols(self, unwanted: SymbolFilter) -> None:
        """Shards just lost: forget their alerts and their streams (no database call: this
        also runs when the database cannot be reached)."""
        followed = {s for s, _ in self._kline_streams} | self._watched
        for symbol in [s for s in self.index.symbols() | followed if unwanted(s)]:
            for alert_id in self.index.ids(symbol):
                self.index.remove(alert_id)
            await self.unfollow_if_idle(symbol)

    async def adopt(self, alert_id: int) -> None:
        """An alert was made on another replica: index it if this one evaluates its symbol."""
        record = await self._repo.get(alert_id)
        if record is not None and record.state is AlertState.ACTIVE and self.hold(record):
            await self.follow(record.symbol)
            self.start_seeding()

    async def forget(self, alert_id: int) -> None:
        """An alert was deleted, paused or expired (here or on another replica): drop it."""
        symbol = self.index.remove(alert_id)
        if symbol is not None:
            await self.unfollow_if_idle(symbol)

    async def reload(self) -> None:
        """Change notices may have been missed: make the index match the database's active
        alerts of the symbols this replica evaluates."""
        active: set[int] = set()
        async for page in self._repo.active_pages():
            active.update(a.id for a in page if self._owns(a.symbol))
        for symbol in list(self.index.symbols()):
            for alert_id in self.index.ids(symbol):
                if alert_id not in active:
                    await self.forget(alert_id)
        for symbol in await self._read_active(self._owns):
            await self.follow(symbol)
        self.start_seeding()

    async def _read_active(self, wanted: SymbolFilter) -> set[str]:
        """Index every active alert of the symbols `wanted` selects; their symbols."""
        symbols: set[str] = set()
        async for page in self._repo.active_pages():
            for alert in page:
                if wanted(alert.symbol) and self.hold(alert):
                    symbols.add(alert.symbol)
        return symbols

    def hold(self, alert: AlertRecord) -> bool:
        """Put an alert in the index, unless it is there already or another replica
        evaluates its symbol; whether the index holds it now. `load` runs while the bot
        already takes commands, so an alert created meanwhile can reach the index both from
        its /alert and from the start-up read (the same row either way). A row whose
        condition does not parse is reported and left out, never fatal to the others."""
        if alert.id in self.index:
            return True
        if not self._owns(alert.symbol):
            return False
        try:
            self.index.add(alert)
        except ValueError as exc:
            self._health.failed("alert-index", exc)
            return False
        return True

    # -- streams and history ------------------------------------------------------------------

    async def follow(self, symbol: str) -> None:
        """Ask the stream for what the symbol's alerts need, once each (the stream counts
        each request and wants as many removes)."""
        wanted = self.index.wants_trades(symbol)
        if self._watch is not None and symbol not in self._watched and wanted:
            self._watched.add(symbol)
            await self._watch(symbol)
        if self._watch_klines is not None:
            for interval in sorted(self.index.intervals(symbol)):
                if (symbol, interval) not in self._kline_streams:
                    self._kline_streams.add((symbol, interval))
                    await self._watch_klines(symbol, interval)

    async def unfollow_if_idle(self, symbol: str) -> None:
        idle = not self.index.wants_trades(symbol)
        if self._unwatch is not None and symbol in self._watched and idle:
            self._watched.discard(symbol)
            await self._unwatch(symbol)
        if self._unwatch_klines is not None:
            needed = self.index.intervals(symbol)
            for stream in sorted(s for s in self._kline_streams if s[0] == symbol):
                if stream[1] not in needed:
                    self._kline_streams.discard(stream)
                    await self._unwatch_klines(*stream)

    def start_seeding(self) -> None:
        """Read the history the books lack, in the background."""
        self._spawn(self.seed_history(), "alert-history")

    async def seed_history(self, only: str | None = None) -> None:
        """Give each book the closed candles it asked for (one reader at a time: a second
        call finds the needs the first one met already met). `only` reads one symbol's,
        without waiting behind a reader of every symbol's (a new alert's reply waits for
        it; reading a stream's candles twice changes nothing)."""
        if only is not None:
            for symbol, interval, since_ms in self.index.needs_history(self._now_ms()):
                if symbol == only:
                    await self._seed(symbol, interval, since_ms)
            return
        async with self._seeding:
            for symbol, interval, since_ms in self.index.needs_history(self._now_ms()):
                await self._seed(symbol, interval, since_ms)

    async def catch_up(self, symbols: list[str]) -> None:
        """After a stream gap: read the symbols' recent closed candles again, so the books
        take the closes they missed (each once) and what crossed among them fires now. The
        last `CATCH_UP_CANDLES` of each interval are read: a longer gap's older candles only
        correct references, never fire (the stream's next trades still do)."""
        async with self._seeding:
            for symbol in symbols:
                for interval in sorted(self.index.streams(symbol)):
                    span = CATCH_UP_CANDLES * INTERVAL_SECONDS[interval] * 1000
                    await self._seed(symbol, interval, self._now_ms() - span)

    async def _seed(self, symbol: str, interval: str, since_ms: int) -> None:
        klines = await self._market.closed_klines(symbol, interval, since_ms)
        now = self._clock()
        fired = self.index.seed(symbol, interval, klines, now)
        if fired:
            self._fire(fired, symbol, now)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- live data --------------------------------------------------------------------------

    def on_price(
        self, symbol: str, price: Decimal, now: float | None = None, time_ms: int | None = None
    ) -> None:
        """A trade: find the alerts it meets and record them in the background, fired at
        the tick's `now`: a book started a repeat alert's cooldown then, and the database's
        cooldown check (`AlertRepository.fire_each`) must count from the same instant."""
        now = self._clock() if now is None else now
        fired = self.index.on_trade(
            symbol, price, int(now * 1000) if time_ms is None else time_ms, now
        )
        if fired:
            self._fire(fired, symbol, now)

    def on_funding(self, key: str, rate: Decimal, now: float | None = None) -> None:
        """A perpetual's funding rate (a fraction) from its mark price stream: fire the
        funding levels it meets, at `now` like `on_price`."""
        now = self._clock() if now is None else now
        fired = self.index.on_funding(key, rate, now)
        if fired:
            self._fire(fired, key, now)

    def on_kline(self, symbol: str, interval: str, kline: Kline, closed: bool) -> None:
        now = self._clock()
        fired = self.index.on_kline(symbol, interval, kline, closed, now)
        if fired:
            self._fire(fired, symbol, now)

    async def on_gap(self, symbols: list[str]) -> None:
        """After the stream was down: evaluate the current prices once, so a crossing during
        the gap still fires, and read the candles missed (the books take each once).
        Perpetuals' keys among `symbols` are evaluated on their mark price and funding rate
        now (one read of every contract's premium index)."""
        keys = [s for s in symbols if contract_of(s) is not None]
        if keys:
            await self._marks_now(keys)
            if len(keys) == len(symbols):
                return
            symbols = [s for s in symbols if contract_of(s) is None]
        prices = await self._market.last_prices(refresh=True)
        for symbol in symbols:
            if symbol in prices and self.index.wants_trades(symbol):
                self.on_price(symbol, prices[symbol])
        await self.catch_up(symbols)
        await self.seed_history()

    async def _marks_now(self, keys: list[str]) -> None:
        if self._futures is None:
            return
        marks = await self._futures.marks(refresh=True)
        now = self._clock()
        for key in keys:
            premium = marks.get(contract_of(key) or "")
            if premium is None or not self.index.wants_trades(key):
                continue
            self.on_price(key, premium.mark_price, now)
            if premium.last_funding_rate is not None:
                self.on_funding(key, premium.last_funding_rate, now)

    def _fire(self, fired: list[Firing], symbol: str, now: float) -> None:
        self._spawn(self._record(fired, symbol, now), "alert-firing")

    def _spawn(self, work: Awaitable[None], part: str) -> None:
        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except BinanceError as exc:
                self._health.failed(part, exc)
            except Exception as exc:
                log.exception("%s failed", part)
                self._health.failed(part, exc)

        task = asyncio.get_running_loop().create_task(run(), name=part)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, fired: list[Firing], symbol: str, now: float) -> None:
        """Write the firing, retrying until the database takes it: the alerts have already
        left their books, so a failed write would lose them. A failure after the write (the
        stream's unsubscribe) is reported by `_spawn`."""
        firings = {f.alert_id: (f.price, f.measured) for f in fired}
        written = await until_written(
            lambda: self._repo.fire_each(firings, now), part="alert-firing", health=self._health
        )
        self.fired_total += len(written)
        self.fired.set()
        if any(not r.repeat for r in written):
            await self.unfollow_if_idle(symbol)

    async def stop(self) -> None:
        """Cancel firings still waiting for the database: those alerts were never written as
        fired, so they are still active in the file and the next run watches them again."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
