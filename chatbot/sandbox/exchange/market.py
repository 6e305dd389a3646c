"""The simulated market: one price driver per symbol, its public trades, book top and depth.

A symbol's price moves only by printing a trade: `set_price` (a test or the control API) or one
step of the seeded random walk. Every print is recorded on the symbol's tape (klines, 24 h
statistics, recent trades) and handed to the listeners: the stream hub (trade, aggTrade,
bookTicker, kline and ticker events) and the matching engine (resting LIMIT orders it crosses).

The book is synthetic and infinitely deep: ask = price × (1 + spread) rounded up to the tick,
bid = price × (1 − spread) rounded down. The account's own fills do not print on the tape and
never move the price, so a test's prices stay exactly where it put them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from .candles import SyntheticHistory, round_to_tick
from .pricepath import PPM, step_ppm, symbol_key, unit_fraction, walk_step
from .symbols import Catalog, SymbolSpec
from .tape import Tape, Trade
from .wire import Clock, fmt, quantize_down, quantize_up

DEFAULT_SPREAD = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class BookTop:
    """Best bid and ask with their quantities, and the book's update id."""

    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    update_id: int


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
        boundary = clock.now_ms() // 60_000 * 60_000
        self._symbols = {
            spec.name: SymbolMarket(spec, seed, boundary, tick_interval_ms) for spec in catalog
        }
        self._listeners: list[TradeListener] = []

    def add_listener(self, listener: TradeListener) -> None:
        """Call `listener(symbol, trade)` synchronously after every print."""
        self._listeners.append(listener)

    def symbol(self, name: str) -> SymbolMarket:
        """The symbol's state; KeyError for an unknown name (the REST layer checks first)."""
        return self._symbols[name]

    def symbols(self) -> list[SymbolMarket]:
        return list(self._symbols.values())

    def price(self, name: str) -> Decimal:
        return self._symbols[name].price

    def set_price(self, name: str, price: Decimal, qty: Decimal | None = None) -> Trade:
        """Print a trade at `price` now (it must be positive and on the tick grid)."""
        market = self._symbols[name]
        tick = market.spec.tick
        if price <= 0 or price % tick:
            raise ValueError(
                f"{name} price must be a positive multiple of its tick {tick}: {price}"
            )
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
        return trade

    def book(self, name: str) -> BookTop:
        """Best bid/ask around the last price with the configured relative spread."""
        market = self._symbols[name]
        tick = market.spec.tick
        price = market.price
        bid = max(quantize_down(price * (1 - self.spread), tick), tick)
        ask = quantize_up(price * (1 + self.spread), tick)
        return BookTop(bid, market.level_qty(0), ask, market.level_qty(1), market.update_id)

    def avg_price(self, name: str) -> Decimal:
        """`GET /api/v3/avgPrice`: the VWAP of the last `avgPriceMins` of live trades, or the
        last price when nothing traded then. Filters compare against this same number."""
        market = self._symbols[name]
        since = self.clock.now_ms() - market.spec.avg_price_mins * 60_000
        vwap = market.tape.vwap(since)
        return quantize_down(vwap if vwap is not None else market.price)

    def depth(self, name: str, limit: int) -> tuple[int, list[list[str]], list[list[str]]]:
        """A synthetic order book: `limit` levels each side, spaced about 1 bp apart."""
        market = self._symbols[name]
        top = self.book(name)
        tick = market.spec.tick
        gap = max(tick, quantize_down(market.price / 10_000, tick))
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        for level in range(limit):
            bid = top.bid - gap * level
            if bid > 0:
                bids.append([fmt(bid), fmt(market.level_qty(2, level))])
            ask = top.ask + gap * level
            asks.append([fmt(ask), fmt(market.level_qty(3, level))])
        return top.update_id, bids, asks

    def user_trade_id(self, name: str) -> int:
        """A trade id for an account's fill, from the same sequence as the tape's."""
        return self._symbols[name].next_trade_id()
