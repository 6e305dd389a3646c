"""The futures side of the one market engine: prices, open interest and the futures tape.

Nothing trades on its own here: every number follows the spot symbol's tape.
- index price = the spot last price (8 decimals, as Binance prints it);
- futures last price = spot × (1 + basis), rounded to the contract's tick;
- mark price = index × (1 + basis × 0.9) (between index and last), 8 decimals;
- each spot print is also a futures trade (same id and time, that price, the spot quantity
  rounded down to the contract's step, at least one step), and moves open interest by its
  quantity: up for even trade ids, down for odd ones (never below one step);
- klines and the 24 h ticker are the spot ones with prices moved by the basis.
The basis is deterministic per contract (1 to 5 bp); `set_basis(symbol, 0)` makes last, mark
and index equal to the spot price, which is what a test of an exact mark price wants.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ..candles import Candle, round_to_tick
from ..market import Market, SymbolMarket
from ..pricepath import DAY_MS, hash_parts
from ..tape import Tape, Trade
from ..wire import EIGHT_PLACES, Clock, fmt, quantize_down
from .contracts import Contract, Contracts
from .funding import FundingBook, Settlement, next_funding_time

INTEREST_RATE = Decimal("0.00010000")  # Binance's 0.01 % per 8 h for USDT-M contracts
_MARK_SHARE = Decimal("0.9")
_BASIS_UNIT = Decimal("0.0001")

MarkListener = Callable[[str], None]


class FuturesMarket:
    """Contracts, their prices, funding and open interest, driven by the spot market.

    Control API (also on the simulator as `sim.futures`): `set_funding_rate`,
    `set_open_interest`, `set_basis`; readers `last_price`, `mark_price`, `index_price`,
    `funding_rate`, `open_interest`, `funding_history`.
    """

    def __init__(self, market: Market, contracts: Contracts, clock: Clock, seed: int) -> None:
        self._market = market
        self._clock = clock
        self.contracts = contracts
        self.onboard_ms = clock.now_ms() // DAY_MS * DAY_MS - 365 * DAY_MS
        keys = {c.name: market.symbol(c.name).key ^ seed for c in contracts}
        self._basis = {
            name: (hash_parts(key, 1) % 5 + 1) * _BASIS_UNIT for name, key in keys.items()
        }
        self._open_interest = {c.name: self._seed_open_interest(c, keys[c.name]) for c in contracts}
        self._mark_listeners: list[MarkListener] = []
        self.funding = FundingBook(keys, clock.now_ms(), self._mark_at)
        market.add_listener(self._on_spot_trade)

    # -- prices -----------------------------------------------------------------------------

    def index_price(self, name: str) -> Decimal:
        self.contracts.get(name)
        return self._market.price(name).quantize(EIGHT_PLACES)

    def last_price(self, name: str) -> Decimal:
        return self.futures_price(self.contracts.get(name), self._market.price(name))

    def mark_price(self, name: str) -> Decimal:
        self.contracts.get(name)
        return self._mark_of(name, self._market.price(name))

    def futures_price(self, contract: Contract, spot: Decimal) -> Decimal:
        """A spot price moved by the basis onto the contract's tick grid."""
        return round_to_tick(spot * (1 + self._basis[contract.name]), contract.tick)

    def _mark_of(self, name: str, spot: Decimal) -> Decimal:
        factor = 1 + self._basis[name] * _MARK_SHARE
        return (spot * factor).quantize(EIGHT_PLACES, rounding=ROUND_DOWN)

    def _mark_at(self, name: str, at: int) -> Decimal:
        return self._mark_of(name, self._market.symbol(name).tape.price_at(at))

    def set_basis(self, name: str, basis: Decimal) -> None:
        """Futures last = spot × (1 + basis); the mark follows at 0.9 of it. Publishes."""
        self.contracts.get(name)
        self._basis[name] = Decimal(basis)
        self._moved(name)

    # -- funding ----------------------------------------------------------------------------

    def settle(self) -> None:
        """Record the funding settlements the clock has passed (see funding.py)."""
        self.funding.settle(self._clock.now_ms())

    def funding_rate(self, name: str) -> Decimal:
        self.contracts.get(name)
        self.settle()
        return self.funding.rates[name]

    def set_funding_rate(self, name: str, rate: Decimal) -> None:
        """The rate in force from now on: the next settlement records it. Publishes."""
        self.contracts.get(name)
        self.settle()
        self.funding.rates[name] = Decimal(rate)
        self._moved(name)

    def funding_history(self, name: str) -> list[Settlement]:
        self.contracts.get(name)
        self.settle()
        return self.funding.history(name)

    def next_funding_time(self) -> int:
        return next_funding_time(self._clock.now_ms())

    # -- open interest ----------------------------------------------------------------------

    def open_interest(self, name: str) -> Decimal:
        self.contracts.get(name)
        return self._open_interest[name]

    def set_open_interest(self, name: str, quantity: Decimal) -> None:
        """Open interest in contracts (base asset), rounded down to the step."""
        contract = self.contracts.get(name)
        self._open_interest[name] = max(
            contract.step, quantize_down(Decimal(quantity), contract.step)
        )

    def _seed_open_interest(self, contract: Contract, key: int) -> Decimal:
        notional = Decimal(100_000_000 + hash_parts(key, 2) % 9 * 50_000_000)
        return max(
            contract.step, quantize_down(notional / contract.spot.start_price, contract.step)
        )

    # -- the tape ---------------------------------------------------------------------------

    def add_mark_listener(self, listener: MarkListener) -> None:
        """Call `listener(symbol)` whenever a contract's mark price or rate may have moved."""
        self._mark_listeners.append(listener)

    def _moved(self, name: str) -> None:
        for listener in self._mark_listeners:
            listener(name)

    def _on_spot_trade(self, state: SymbolMarket, trade: Trade) -> None:
        name = state.spec.name
        if name not in self.contracts:
            return
        contract = self.contracts.get(name)
        qty = self.trade_qty(contract, trade)
        change = qty if trade.id % 2 == 0 else -qty
        self._open_interest[name] = max(contract.step, self._open_interest[name] + change)
        self.settle()
        self._moved(name)

    def trade_qty(self, contract: Contract, trade: Trade) -> Decimal:
        return max(contract.step, quantize_down(trade.qty, contract.step))

    def trade_row(self, contract: Contract, trade: Trade) -> dict[str, Any]:
        """The element of `GET /fapi/v1/trades`."""
        price = self.futures_price(contract, trade.price)
        qty = self.trade_qty(contract, trade)
        return {
            "id": trade.id,
            "price": contract.price(price),
            "qty": contract.qty(qty),
            "quoteQty": contract.price(price * qty),
            "time": trade.time,
            "isBuyerMaker": trade.buyer_is_maker,
            "isRPITrade": False,  # the simulator's book has no Retail Price Improvement orders
        }

    def trades(self, contract: Contract) -> list[Trade]:
        return self._market.symbol(contract.name).tape.trades

    def spot_tape(self, contract: Contract) -> Tape:
        """The spot symbol's tape, which the contract's klines and ticker are moved from."""
        return self._market.symbol(contract.name).tape

    def candle(self, contract: Contract, spot: Candle, *, mark: bool = False) -> Candle:
        """A spot candle as the contract's (or, with `mark`, its mark price's) candle."""

        def move(price: Decimal) -> Decimal:
            if mark:
                return self._mark_of(contract.name, price)
            return self.futures_price(contract, price)

        factor = 1 + self._basis[contract.name]
        candle = spot.copy()
        candle.open, candle.high = move(spot.open), move(spot.high)
        candle.low, candle.close = move(spot.low), move(spot.close)
        candle.volume = quantize_down(spot.volume, contract.step)
        candle.taker_volume = quantize_down(spot.taker_volume, contract.step)
        candle.quote_volume = spot.quote_volume * factor
        candle.taker_quote = spot.taker_quote * factor
        return candle

    def premium_index(self, contract: Contract) -> dict[str, Any]:
        """`GET /fapi/v1/premiumIndex`'s object for one contract."""
        name = contract.name
        self.settle()
        return {
            "symbol": name,
            "markPrice": fmt(self.mark_price(name)),
            "indexPrice": fmt(self.index_price(name)),
            "estimatedSettlePrice": fmt(self.index_price(name)),
            "lastFundingRate": fmt(self.funding.rates[name]),
            "interestRate": fmt(INTEREST_RATE),
            "nextFundingTime": self.next_funding_time(),
            "time": self._clock.now_ms(),
        }

    def mark_price_event(self, name: str) -> dict[str, Any]:
        """A `markPriceUpdate` event of `<symbol>@markPrice[@1s]`."""
        self.settle()
        mark = fmt(self.mark_price(name))
        return {
            "e": "markPriceUpdate",
            "E": self._clock.now_ms(),
            "s": name,
            "p": mark,
            "ap": mark,  # Binance documents it without a description; its examples equal `p`
            "i": fmt(self.index_price(name)),
            "P": fmt(self.index_price(name)),
            "r": fmt(self.funding.rates[name]),
            "T": self.next_funding_time(),
        }
