"""Stop and take-profit orders waiting for their trigger, and trailing stops.

Binance triggers a contingent order on the **last trade price** (the tape's prints):

| type / side                                   | stop is   | triggers when      |
|-----------------------------------------------|-----------|--------------------|
| STOP_LOSS* BUY, TAKE_PROFIT* SELL             | above     | last >= stopPrice  |
| STOP_LOSS* SELL, TAKE_PROFIT* BUY             | below     | last <= stopPrice  |

A stop already on its trigger's side at placement is refused: -2010 "Order would trigger
immediately." (the reference's trigger-direction rule).

Trailing stops (Binance's "Trailing Stop FAQ"): `trailingDelta` is in basis points. A SELL
trails the highest price, a BUY the lowest, and triggers once the price moves back by the delta
from that best price. With a `stopPrice` the trailing starts (activation, `trailingTime`) when
the stop condition above is met; without one it starts at placement. The TRAILING_DELTA filter
bounds the delta with its "above" pair for the orders whose stop is above the market and its
"below" pair for the others (filters.md).
"""

from __future__ import annotations

from decimal import Decimal

from .orders import Order
from .wire import order_rejected

BIPS = Decimal(10_000)
WOULD_TRIGGER = "Order would trigger immediately."
_ABOVE = frozenset(
    {
        ("STOP_LOSS", "BUY"),
        ("STOP_LOSS_LIMIT", "BUY"),
        ("TAKE_PROFIT", "SELL"),
        ("TAKE_PROFIT_LIMIT", "SELL"),
    }
)


def stop_above(order_type: str, side: str) -> bool:
    """Whether the order's stop sits above the market (see the module's table)."""
    return (order_type, side) in _ABOVE


def reached(order_type: str, side: str, stop_price: Decimal, last: Decimal) -> bool:
    """Whether a print at `last` meets the stop condition."""
    return last >= stop_price if stop_above(order_type, side) else last <= stop_price


def check_not_triggered(order_type: str, side: str, stop_price: Decimal, last: Decimal) -> None:
    """-2010 "Order would trigger immediately." for a stop already on its trigger's side."""
    if stop_price and reached(order_type, side, stop_price, last):
        raise order_rejected(WOULD_TRIGGER)


class StopBook:
    """One symbol's untriggered stop orders, in placement order."""

    def __init__(self) -> None:
        self._orders: list[Order] = []

    def add(self, order: Order, last: Decimal, now: int) -> None:
        """Wait for the trigger; a trailing stop without stopPrice trails from `last` at once."""
        if order.trailing_delta is not None and not order.stop_price:
            order.trail_best, order.trailing_time = last, now
        self._orders.append(order)

    def triggered_by(self, last: Decimal, now: int) -> list[Order]:
        """The orders a print at `last` triggers, oldest first; trailing stops update their
        best price. Orders closed since (cancelled) are dropped here, lazily."""
        self._orders = [o for o in self._orders if o.is_open and not o.is_working]
        fired = [order for order in self._orders if _fires(order, last, now)]
        if fired:
            self._orders = [o for o in self._orders if o not in fired]
        return fired


def _fires(order: Order, last: Decimal, now: int) -> bool:
    if order.trailing_delta is None:
        return reached(order.type, order.side, order.stop_price, last)
    if order.trail_best is None:  # waiting for activation at its stopPrice
        if reached(order.type, order.side, order.stop_price, last):
            order.trail_best, order.trailing_time = last, now
        return False
    move = Decimal(order.trailing_delta) / BIPS
    if order.side == "SELL":
        order.trail_best = max(order.trail_best, last)
        return last <= order.trail_best * (1 - move)
    order.trail_best = min(order.trail_best, last)
    return last >= order.trail_best * (1 + move)
