"""The synthetic order book of a symbol, and how a taker walks it.

Each side has `BOOK_LEVELS` levels around the last price. Level 0 is the book top: ask =
price × (1 + spread) rounded up to the tick, bid = price × (1 − spread) rounded down; further
levels are about one basis point apart (at least one tick). Quantities are deterministic (see
`SymbolMarket.level_qty`), so the same market state always shows, and fills, the same book.

A taker takes levels best first, one fill per level touched, each at that level's price, the
way Binance's engine matches a MARKET order or a marketable LIMIT order. The book is refreshed
from the last price at every print and the account's own fills do not deplete it (they never
move the price either): a test's order fills at prices it can compute from the book it read.
If the visible levels cannot fill an order the remainder is what Binance calls insufficient
liquidity: a MARKET order expires with what it got.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .wire import ZERO, quantize_down, quantize_up

BOOK_LEVELS = 20


@dataclass(frozen=True, slots=True)
class BookTop:
    """Best bid and ask with their quantities, and the book's update id."""

    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    update_id: int


@dataclass(frozen=True, slots=True)
class Level:
    """One price level: a price and the quantity offered there (or one fill's share of it)."""

    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Both sides of one symbol's book, best level first, and the book's update id."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    update_id: int

    def top(self) -> BookTop:
        bid, ask = self.bids[0], self.asks[0]
        return BookTop(bid.price, bid.qty, ask.price, ask.qty, self.update_id)

    def against(self, side: str) -> tuple[Level, ...]:
        """The levels an order on `side` takes from: the asks for a BUY, the bids for a SELL."""
        return self.asks if side == "BUY" else self.bids


def build_book(
    price: Decimal,
    spread: Decimal,
    tick: Decimal,
    quantities: Sequence[tuple[Decimal, Decimal]],
    update_id: int,
) -> OrderBook:
    """The book around `price`; `quantities[i]` is (bid qty, ask qty) of level i. Bids stop
    before reaching zero, so a very cheap symbol may show fewer bid levels."""
    bid0 = max(quantize_down(price * (1 - spread), tick), tick)
    ask0 = quantize_up(price * (1 + spread), tick)
    gap = max(tick, quantize_down(price / 10_000, tick))
    bids = tuple(
        Level(bid0 - gap * index, bid_qty)
        for index, (bid_qty, _) in enumerate(quantities)
        if bid0 - gap * index > 0
    )
    asks = tuple(
        Level(ask0 + gap * index, ask_qty) for index, (_, ask_qty) in enumerate(quantities)
    )
    return OrderBook(bids, asks, update_id)


def crosses(side: str, level_price: Decimal, limit: Decimal | None) -> bool:
    """Whether an order on `side` with limit price `limit` (None: MARKET) may take a level."""
    if limit is None:
        return True
    return level_price <= limit if side == "BUY" else level_price >= limit


def take_quantity(
    levels: Sequence[Level], side: str, quantity: Decimal, limit: Decimal | None = None
) -> list[Level]:
    """The fills of taking `quantity`, best level first, at prices no worse than `limit`."""
    fills: list[Level] = []
    left = quantity
    for level in levels:
        if left <= 0 or not crosses(side, level.price, limit):
            break
        qty = min(left, level.qty)
        fills.append(Level(level.price, qty))
        left -= qty
    return fills


def take_quote(
    levels: Sequence[Level], side: str, amount: Decimal, step: Decimal
) -> tuple[list[Level], Decimal]:
    """The fills of a `quoteOrderQty` order: spend (BUY) or receive (SELL) up to `amount`,
    each level's quantity rounded down to `step` so LOT_SIZE holds. The walk stops at the
    first level it does not empty (a worse level is never touched while a better one has
    quantity left). Also returns what the amount would still buy at the last level's price
    when the whole visible book was taken (zero otherwise): the part that expires."""
    fills: list[Level] = []
    left = amount
    for level in levels:
        qty = min(level.qty, quantize_down(left / level.price, step))
        if qty <= 0:
            return fills, ZERO
        fills.append(Level(level.price, qty))
        value = qty * level.price
        left -= quantize_up(value) if side == "BUY" else quantize_down(value)
        if qty < level.qty:
            return fills, ZERO
    last = levels[-1].price if levels else None
    return fills, quantize_down(left / last, step) if last else ZERO


def filled(fills: Sequence[Level]) -> Decimal:
    """The total quantity of some fills."""
    return sum((fill.qty for fill in fills), ZERO)


def cost(fills: Sequence[Level]) -> Decimal:
    """What some BUY fills cost in the quote asset (each rounded up, as it is charged)."""
    return sum((quantize_up(fill.qty * fill.price) for fill in fills), ZERO)
