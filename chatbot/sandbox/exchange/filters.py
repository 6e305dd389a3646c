"""Binance's symbol filters, implemented from the rules in filters.md and nothing else.

This is deliberately independent of `chatbot/exchange/filters.py`: the client rounds with its
own code and the simulator judges with this one, so a property test "whatever the client's
rounding produces, the simulator accepts" compares two implementations, not one with itself.

Filters are checked in the order the symbol lists them, and the first failure is reported as
`-1013 "Filter failure: <filterType>"`, as Binance does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .symbols import LotRule, SymbolSpec
from .wire import ApiError, filter_failure


@dataclass(frozen=True, slots=True)
class OrderShape:
    """What the filters look at: side, type, quantity and price (None for MARKET orders).

    `quote_qty` is set for MARKET orders sized by `quoteOrderQty`; `avg_price` is the
    symbol's average price over its `avgPriceMins`, the reference for MARKET notionals and
    PERCENT_PRICE_BY_SIDE.
    """

    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    avg_price: Decimal
    quote_qty: Decimal | None = None

    @property
    def is_market(self) -> bool:
        return self.order_type == "MARKET"


def on_grid(value: Decimal, origin: Decimal, step: Decimal) -> bool:
    """`(value - origin) % step == 0`, Binance's grid rule; a zero step accepts anything."""
    return step == 0 or (value - origin) % step == 0


def _check_price(spec: SymbolSpec, order: OrderShape) -> bool:
    rule = spec.price
    if rule is None or order.price is None:
        return True
    price = order.price
    if rule.min_price and price < rule.min_price:
        return False
    if rule.max_price and price > rule.max_price:
        return False
    return on_grid(price, rule.min_price, rule.tick_size)


def _check_lot(rule: LotRule | None, quantity: Decimal) -> bool:
    if rule is None:
        return True
    if rule.min_qty and quantity < rule.min_qty:
        return False
    if rule.max_qty and quantity > rule.max_qty:
        return False
    return on_grid(quantity, rule.min_qty, rule.step_size)


def _check_percent(spec: SymbolSpec, order: OrderShape) -> bool:
    rule = spec.percent
    if rule is None or order.price is None:
        return True
    up, down = (rule.bid_up, rule.bid_down) if order.side == "BUY" else (rule.ask_up, rule.ask_down)
    return order.avg_price * down <= order.price <= order.avg_price * up


def _notional(order: OrderShape) -> Decimal:
    if order.quote_qty is not None:
        return order.quote_qty
    reference = order.avg_price if order.price is None else order.price
    return reference * order.quantity


def _check_notional(spec: SymbolSpec, order: OrderShape) -> bool:
    rule = spec.notional
    if rule is None:
        return True
    value = _notional(order)
    check_min = rule.apply_min_to_market or not order.is_market
    check_max = rule.max_notional is not None and (rule.apply_max_to_market or not order.is_market)
    if check_min and value < rule.min_notional:
        return False
    return not (check_max and rule.max_notional is not None and value > rule.max_notional)


def validate_order(spec: SymbolSpec, order: OrderShape, open_orders: int) -> None:
    """Raise `-1013` for the first filter the order breaks; `open_orders` counts the
    account's open orders on this symbol (for MAX_NUM_ORDERS)."""
    if order.quantity <= 0:
        raise ApiError(-1013, "Invalid quantity.")
    if order.price is not None and order.price <= 0:
        raise ApiError(-1013, "Invalid price.")
    for kind in spec.filter_order:
        if not _passes(kind, spec, order, open_orders):
            raise filter_failure(kind)


def _passes(kind: str, spec: SymbolSpec, order: OrderShape, open_orders: int) -> bool:
    if kind == "PRICE_FILTER":
        return _check_price(spec, order)
    if kind == "LOT_SIZE":
        return _check_lot(spec.lot, order.quantity)
    if kind == "MARKET_LOT_SIZE":
        return not order.is_market or _check_lot(spec.market_lot, order.quantity)
    if kind in ("PERCENT_PRICE", "PERCENT_PRICE_BY_SIDE"):
        return _check_percent(spec, order)
    if kind in ("NOTIONAL", "MIN_NOTIONAL"):
        return _check_notional(spec, order)
    if kind == "MAX_NUM_ORDERS":
        return spec.max_num_orders is None or open_orders < spec.max_num_orders
    return True


def market_step(spec: SymbolSpec) -> Decimal:
    """The step a `quoteOrderQty` order's quantity is rounded down to, so the computed
    quantity never breaks LOT_SIZE or MARKET_LOT_SIZE (see `SymbolSpec.step`)."""
    return spec.step
