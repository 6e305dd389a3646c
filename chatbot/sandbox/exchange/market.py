"""The simulated market: one price driver per symbol, its public trades and its order book.

A symbol's price moves only by printing a trade: `set_price` (a test or the control API) or one
step of the seeded random walk. Every print is recorded on the symbol's tape (klines, 24 h
statistics, recent trades) and handed to the listeners (the stream hub: trade, aggTrade,
bookTicker, kline and ticker events), then to the matchers (the engine: the resting LIMIT
orders the print reaches, with the print's size when the caller gave one).

The book is synthetic (book.py): `BOOK_LEVELS` levels each side around the last price, the
same book for `/depth`, `bookTicker` and the orders that take from it. The account's own fills
do not print on the tape and never move the price, so a test's prices stay where it put them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

from .book import BOOK_LEVELS, BookTop, OrderBook, build_book
from .candles import SyntheticHistory, round_to_tick
from .pricepath import PPM, step_ppm, symbol_key, unit_fraction, walk_step
from .symbols import Catalog, SymbolSpec
from .tape import Tape, Trade
from .wire import Clock, fmt, quantize_down

DEFAULT_SPREAD = Decimal("0.0001")


class SymbolMarket:
    """The state of one symbol: its spec, tape, random source and id counters."""

    def __init__(self, spec: SymbolSpec, seed: int, boundary: int, tick_ms: int) -> None:
        self.spec = spec
        self.key = symbol_key(seed, spec.name)
        self.rng = random.Random(self.key)
        history = SyntheticHistory(spec, self.key, boundary)
        self.tape = Tape(history, boundary, round_to_tick(spec.start_price, spec.tick))
        self.sigma_ppm = max(1, step_ppm(spec.daily_volatility, tick_ms))
        self.last_trade_id = 100_000_000 + self.key % 900_000_000
        self.last_agg_id = 10_000_000 + self.key % 90_000_000
        self.update_id = 1_000_000_000 + self.key % 1_000_000_000
        self.last_time = 0
        self._seed_tape(history, boundary)

    def _seed_tape(self, history: SyntheticHistory, boundary: int) -> None:
        """A minute of trades along the synthetic path before the start (one every 2 s, the
        last at the starting price), so recent trades and the average price exist at once."""
        count = 30
        for index in range(count):
            at = boundary - (count - index) * 2_000
            last = index == count - 1
            price = self.tape.start_price if last else history.price_at(at)
            trade = Trade(self.next_trade_id(), price, self.random_qty(), at, index % 2 == 0)
            self.tape.record(trade)
            self.last_agg_id += 1

    @property
    def price(self) -> Decimal:
        return self.tape.last_price

    def next_trade_id(self) -> int:
        self.last_trade_id += 1
        return self.last_trade_id

    def random_qty(self) -> Decimal:
        """A trade size around the symbol's typical per-second volume (1 % to 200 %)."""
        per_second = self.spec.volume_24h / 86_400
        qty = quantize_down(per_second * self.rng.randint(1, 200) / 100, self.spec.step)
        return max(qty, self.spec.step)

    def level_qty(self, *parts: int) -> Decimal:
        """A deterministic book quantity (0.5 to 20 typical trades) for a level."""
        per_second = self.spec.volume_24h / 86_400
        scale = Decimal(PPM // 40 + unit_fraction(self.key, 9, self.update_id, *parts)) / PPM * 20
        return max(quantize_down(per_second * scale, self.spec.step), self.spec.step)


TradeListener = Callable[[SymbolMarket, Trade], None]
# (symbol, print, size available to resting orders: None for "as much as they want")
Matcher = Callable[[SymbolMarket, Trade, Decimal | None], None]


class Market:
    """Every listed symbol's price driver, tape and book."""

    def __init__(
        self,
        catalog: Catalog,
        clock: Clock,
        *,
        seed: int = 1,
        spread: Decimal = DEFAULT_SPREAD,
        tick_interval_ms: int = 1_000,
    ) -> None:
        self.clock = clock
        self.spread = spread
        self.book_levels = BOOK_LEVELS
        boundary = clock.now_ms() // 60_000 * 60_000
        self._symbols = {
            spec.name: SymbolMarket(spec, seed, boundary, tick_interval_ms) for spec in catalog
        }
        self._listeners: list[TradeListener] = []
        self._matchers: list[Matcher] = []
        self._books: dict[str, tuple[tuple[object, ...], OrderBook]] = {}

    def add_listener(self, listener: TradeListener) -> None:
        """Call `listener(symbol, trade)` synchronously after every print."""
        self._listeners.append(listener)

    def add_matcher(self, matcher: Matcher) -> None:
        """Call `matcher(symbol, trade, size)` after the listeners, for every print; `size`
        is the quantity the print may fill of resting orders (None: every order it reaches
        fills completely)."""
        self._matchers.append(matcher)

    def symbol(self, name: str) -> SymbolMarket:
        """The symbol's state; KeyError for an unknown name (the REST layer checks first)."""
        return self._symbols[name]

    def symbols(self) -> list[SymbolMarket]:
        return list(self._symbols.values())

    def price(self, name: str) -> Decimal:
        return self._symbols[name].price

    def set_price(self, name: str, price: Decimal, qty: Decimal | None = None) -> Trade:
        """Print a trade at `price` now (it must be positive and on the tick grid). With `qty`
        the print is that large: resting orders it reaches fill by at most `qty` in total."""
        market = self._symbols[name]
        tick = market.spec.tick
        if price <= 0 or price % tick:
            raise ValueError(
                f"{name} price must be a positive multiple of its tick {tick}: {price}"
            )
        if qty is not None and qty <= 0:
            raise ValueError(f"a print's quantity must be positive: {qty}")
        return self._print(market, price, qty)

    def walk(self) -> None:
        """One step of every symbol's seeded random walk."""
        for market in self._symbols.values():
            moved = walk_step(market.rng, market.price, market.sigma_ppm)
            self._print(market, round_to_tick(moved, market.spec.tick), None)

    def _print(self, market: SymbolMarket, price: Decimal, qty: Decimal | None) -> Trade:
        previous = market.price
        # a downtick means sellers hit the bids (the buyer was the maker); flat is a coin toss
        buyer_is_maker = price < previous if price != previous else bool(market.rng.getrandbits(1))
        market.last_time = max(self.clock.now_ms(), market.last_time)
        trade = Trade(
            market.next_trade_id(),
            price,
            qty if qty is not None else market.random_qty(),
            market.last_time,
            buyer_is_maker,
        )
        market.last_agg_id += 1
        market.update_id += 1
        market.tape.record(trade)
        for listener in self._listeners:
            listener(market, trade)
        for matcher in self._matchers:
            matcher(market, trade, qty)
        return trade

    def order_book(self, name: str) -> OrderBook:
        """The symbol's book now: `book_levels` levels each side around the last price."""
        market = self._symbols[name]
        key = (market.price, market.update_id, self.spread, self.book_levels)
        cached = self._books.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        quantities = [
            (market.level_qty(2, level), market.level_qty(3, level))
            for level in range(max(1, self.book_levels))
        ]
        book = build_book(market.price, self.spread, market.spec.tick, quantities, market.update_id)
        self._books[name] = (key, book)
        return book

    def book(self, name: str) -> BookTop:
        """Level 0 of the book: best bid/ask around the last price, with their quantities."""
        return self.order_book(name).top()

    def avg_price(self, name: str) -> Decimal:
        """`GET /api/v3/avgPrice`: the VWAP of the last `avgPriceMins` of live trades, or the
        last price when nothing traded then. Filters compare against this same number."""
        market = self._symbols[name]
        since = self.clock.now_ms() - market.spec.avg_price_mins * 60_000
        vwap = market.tape.vwap(since)
        return quantize_down(vwap if vwap is not None else market.price)

    def depth(self, name: str, limit: int) -> tuple[int, list[list[str]], list[list[str]]]:
        """`GET /api/v3/depth`: the first `limit` levels of each side (at most the book's)."""
        book = self.order_book(name)
        bids = [[fmt(level.price), fmt(level.qty)] for level in book.bids[:limit]]
        asks = [[fmt(level.price), fmt(level.qty)] for level in book.asks[:limit]]
        return book.update_id, bids, asks

    def user_trade_id(self, name: str) -> int:
        """A trade id for an account's fill, from the same sequence as the tape's."""
        return self._symbols[name].next_trade_id()
