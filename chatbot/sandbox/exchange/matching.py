"""Resting orders in priority, and what one fill does to an order and its account.

Kept apart from engine.py, which reads as an order's life (plan, place, rest, cancel): here are
the two mechanical parts it relies on. `RestingBook` answers "which resting orders does a print
at this price reach, and in which order" (price-time priority, as Binance's engine matches);
`settle` moves the money of one fill, whether the order is taking on arrival (paid from the
free balance) or resting (paid from its lock, which shrinks to what the remainder needs).
"""

from __future__ import annotations

from bisect import insort
from decimal import Decimal

from .accounts import Account
from .book import Level
from .orders import Fill, Order
from .symbols import SymbolSpec
from .wire import quantize_down, quantize_up


class RestingBook:
    """One symbol's resting LIMIT orders, best price first, then oldest first."""

    def __init__(self) -> None:
        # (sort key, order id, order): ids are unique, so orders themselves are never compared
        self._bids: list[tuple[Decimal, int, Order]] = []
        self._asks: list[tuple[Decimal, int, Order]] = []

    def add(self, order: Order) -> None:
        if order.side == "BUY":
            insort(self._bids, (-order.price, order.order_id, order))
        else:
            insort(self._asks, (order.price, order.order_id, order))

    def crossed_by(self, price: Decimal) -> list[Order]:
        """The open orders a print at `price` reaches, in priority order. Orders that closed
        since (filled or cancelled) are dropped here, lazily."""
        self._bids = [entry for entry in self._bids if entry[2].is_open]
        self._asks = [entry for entry in self._asks if entry[2].is_open]
        reached: list[Order] = []
        for _, _, order in self._bids:
            if order.price < price:
                break
            reached.append(order)
        for _, _, order in self._asks:
            if order.price > price:
                break
            reached.append(order)
        return reached


def settle(
    account: Account,
    order: Order,
    spec: SymbolSpec,
    level: Level,
    *,
    is_maker: bool,
    trade_id: int,
    now: int,
) -> Fill:
    """Fill `level.qty` of `order` at `level.price`: move the balances, charge the commission
    (in the asset received, rounded up to 8 decimals) and update the order's totals."""
    qty, price = level.qty, level.price
    rate = account.maker_commission if is_maker else account.taker_commission
    left = order.remaining - qty
    if order.side == "BUY":
        quote = quantize_up(qty * price)
        commission, asset = quantize_up(qty * rate), spec.base
        _pay(account, order, spec.quote, quote, keep=quantize_up(left * order.price))
        account.credit(spec.base, qty - commission)
    else:
        quote = quantize_down(qty * price)
        commission, asset = quantize_up(quote * rate), spec.quote
        _pay(account, order, spec.base, qty, keep=left)
        account.credit(spec.quote, quote - commission)
    fill = Fill(
        trade_id=trade_id,
        price=price,
        qty=qty,
        quote_qty=quote,
        commission=commission,
        commission_asset=asset,
        time=now,
        is_maker=is_maker,
        is_buyer=order.side == "BUY",
    )
    order.fills.append(fill)
    order.executed_qty += qty
    order.cumm_quote += quote
    order.status = "FILLED" if left <= 0 else "PARTIALLY_FILLED"
    order.update_time = now
    return fill


def _pay(account: Account, order: Order, asset: str, amount: Decimal, *, keep: Decimal) -> None:
    """Take `amount` of `asset` for a fill. A resting order pays from its lock, which shrinks
    to `keep` (what its remainder still needs); the few units of rounding between the two
    settle on the free balance. An order filling on arrival pays from the free balance."""
    if not order.locked:
        account.debit(asset, amount)
        return
    keep = min(keep, order.locked)
    release = order.locked - keep
    account.debit(asset, release, locked=True)
    order.locked = keep
    account.credit(asset, release - amount)
