"""Binance's symbol and exchange filters, implemented from the rules in filters.md and nothing else.

This is deliberately independent of `chatbot/exchange/filters.py`: the client rounds with its
own code and the simulator judges with this one, so a property test "whatever the client's
rounding produces, the simulator accepts" compares two implementations, not one with itself.

Symbol filters are checked in the order the symbol lists them, then the exchange filters, and
the first failure is reported as `-1013 "Filter failure: <filterType>"`, as Binance does. An
order that passes every filter on a symbol whose status is not TRADING is then refused by the
matching engine with `-2010 "Market is closed."` (the simulator says so for `order/test` too).

Reference prices: each filter compares against its own `avgPriceMins` — the volume-weighted
price of the trades of the last that many minutes, `0` meaning the last price (filters.md).
MARKET orders have no price, so their notional is quantity × that reference price; a
`quoteOrderQty` order's quantity is the one the engine computed from the quote amount at the
price it trades at, rounded down to the step (market_orders_faq.md), so a 5.20 USDT order can
still fail a 5 USDT minimum once rounding has cut its quantity.

What each count means: MAX_NUM_ORDERS counts the account's open orders on the symbol,
EXCHANGE_MAX_NUM_ORDERS on all symbols; the ALGO variants count open STOP_LOSS* and
TAKE_PROFIT* orders and only apply to a new order of those types. TRAILING_DELTA bounds a
`trailingDelta` (stops.py says which pair applies); PRICE_FILTER judges a stopPrice as a price.
MAX_POSITION applies to BUY orders: free + locked base asset + the unfilled quantity of the
open BUYs on the symbol + this order's quantity must not exceed maxPosition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from .symbols import LotRule, NotionalRule, PercentRule, SymbolSpec
from .wire import ZERO, ApiError, filter_failure, order_rejected, quantize_down

if TYPE_CHECKING:
    from .market import Market

ALGO_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
MARKET_CLOSED = "Market is closed."

ReferencePrice = Callable[[int], Decimal]  # avgPriceMins -> the price a filter compares with


@dataclass(frozen=True, slots=True)
class OrderShape:
    """What the filters look at: side, type, quantity and price (None for MARKET orders).

    `quote_qty` is set for MARKET orders sized by `quoteOrderQty` (their `quantity` is the
    one computed from it); `avg_price` is the reference price used for every `avgPriceMins`
    when `validate_order` is given no `prices`.
    """

    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    avg_price: Decimal
    quote_qty: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_delta: int | None = None

    @property
    def is_market(self) -> bool:
        return self.order_type == "MARKET"


class OpenOrder(Protocol):
    """The fields of an account's open order the counting filters read."""

    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def orig_qty(self) -> Decimal: ...
    @property
    def executed_qty(self) -> Decimal: ...


class Holding(Protocol):
    """A balance row: what MAX_POSITION adds up."""

    @property
    def free(self) -> Decimal: ...
    @property
    def locked(self) -> Decimal: ...


class TapeReference:
    """A symbol's reference prices from its tape: the VWAP of the last `mins` minutes of
    trades (rounded down to 8 decimals, like `avgPrice`), or the last price when `mins` is 0
    or nothing traded in that window."""

    def __init__(self, market: Market, symbol: str) -> None:
        self._market = market
        self._symbol = symbol

    def __call__(self, mins: int) -> Decimal:
        state = self._market.symbol(self._symbol)
        if mins <= 0:
            return state.price
        vwap = state.tape.vwap(self._market.clock.now_ms() - mins * 60_000)
        return state.price if vwap is None else quantize_down(vwap)


def on_grid(value: Decimal, origin: Decimal, step: Decimal) -> bool:
    """`(value - origin) % step == 0`, Binance's grid rule; a zero step accepts anything."""
    return step == 0 or (value - origin) % step == 0


@dataclass
class _Check:
    """One order's situation: the account's open orders, its balances, reference prices."""

    spec: SymbolSpec
    order: OrderShape
    open_orders: list[OpenOrder]
    balances: Mapping[str, Holding]
    prices: ReferencePrice
    _memo: dict[int, Decimal]

    def reference(self, mins: int) -> Decimal:
        if mins not in self._memo:
            self._memo[mins] = self.prices(mins)
        return self._memo[mins]

    def on_symbol(self) -> list[OpenOrder]:
        return [o for o in self.open_orders if o.symbol == self.spec.name]

    @property
    def is_algo(self) -> bool:
        return self.order.order_type in ALGO_TYPES


def validate_order(
    spec: SymbolSpec,
    order: OrderShape,
    open_orders: Iterable[OpenOrder] = (),
    balances: Mapping[str, Holding] | None = None,
    *,
    market: Market | None = None,
    prices: ReferencePrice | None = None,
) -> None:
    """Raise `-1013` for the first filter the order breaks, then `-2010 Market is closed.`
    when the symbol is not TRADING.

    `open_orders` are the account's open orders on every symbol, `balances` its balances by
    asset. Reference prices come from `prices(mins)` if given, else from the `market`'s tape
    (`TapeReference`), else `order.avg_price` stands for every window.
    """
    if order.quantity <= 0:
        raise ApiError(-1013, "Invalid quantity.")
    if order.price is not None and order.price <= 0:
        raise ApiError(-1013, "Invalid price.")
    if order.stop_price is not None and order.stop_price <= 0:
        raise ApiError(-1013, "Stop price less than zero.")
    if prices is None:
        prices = (
            TapeReference(market, spec.name)
            if market is not None
            else (lambda mins: order.avg_price)
        )
    check = _Check(spec, order, list(open_orders), balances or {}, prices, {})
    for kind in spec.filter_order:
        if not _passes(kind, check):
            raise filter_failure(kind)
    for kind in spec.exchange.filter_order:
        if not _passes_exchange(kind, check):
            raise filter_failure(kind)
    if spec.status != "TRADING":
        raise order_rejected(MARKET_CLOSED)


def _passes(kind: str, check: _Check) -> bool:
    spec, order = check.spec, check.order
    if kind == "PRICE_FILTER":
        return _check_price(spec, order.price) and _check_price(spec, order.stop_price)
    if kind == "TRAILING_DELTA":
        return _check_trailing(spec.rules[kind], order)
    if kind == "LOT_SIZE":
        return _check_lot(spec.lot, order.quantity)
    if kind == "MARKET_LOT_SIZE":
        return not order.is_market or _check_lot(spec.market_lot, order.quantity)
    if kind in ("PERCENT_PRICE", "PERCENT_PRICE_BY_SIDE"):
        return _check_percent(spec.rules[kind], check)
    if kind in ("NOTIONAL", "MIN_NOTIONAL"):
        return _check_notional(spec.rules[kind], check)
    if kind == "MAX_NUM_ORDERS":
        return len(check.on_symbol()) < spec.rules[kind]
    if kind == "MAX_NUM_ALGO_ORDERS":
        algo = sum(1 for o in check.on_symbol() if o.type in ALGO_TYPES)
        return not check.is_algo or algo < spec.rules[kind]
    if kind == "MAX_POSITION":
        return _check_position(spec.rules[kind], check)
    return True


def _passes_exchange(kind: str, check: _Check) -> bool:
    rules = check.spec.exchange
    if kind == "EXCHANGE_MAX_NUM_ORDERS" and rules.max_num_orders is not None:
        return len(check.open_orders) < rules.max_num_orders
    if kind == "EXCHANGE_MAX_NUM_ALGO_ORDERS" and rules.max_num_algo_orders is not None:
        algo = sum(1 for o in check.open_orders if o.type in ALGO_TYPES)
        return not check.is_algo or algo < rules.max_num_algo_orders
    return True


def _check_price(spec: SymbolSpec, price: Decimal | None) -> bool:
    """PRICE_FILTER judges an order's price and, the same way, its stopPrice."""
    rule = spec.price
    if rule is None or price is None:
        return True
    if rule.min_price and price < rule.min_price:
        return False
    if rule.max_price and price > rule.max_price:
        return False
    return on_grid(price, rule.min_price, rule.tick_size)


def _check_trailing(rule: Mapping[str, int], order: OrderShape) -> bool:
    """TRAILING_DELTA: the "above" bounds for the orders whose stop is above the market
    (STOP_LOSS* BUY, TAKE_PROFIT* SELL), the "below" bounds for the others (filters.md)."""
    delta = order.trailing_delta
    if delta is None:
        return True
    above = (order.order_type.startswith("STOP_LOSS")) == (order.side == "BUY")
    side = "Above" if above else "Below"
    return int(rule[f"minTrailing{side}Delta"]) <= delta <= int(rule[f"maxTrailing{side}Delta"])


def _check_lot(rule: LotRule | None, quantity: Decimal) -> bool:
    if rule is None:
        return True
    if rule.min_qty and quantity < rule.min_qty:
        return False
    if rule.max_qty and quantity > rule.max_qty:
        return False
    return on_grid(quantity, rule.min_qty, rule.step_size)


def _check_percent(rule: PercentRule, check: _Check) -> bool:
    price = check.order.price
    if price is None:
        return True
    buy = check.order.side == "BUY"
    up, down = (rule.bid_up, rule.bid_down) if buy else (rule.ask_up, rule.ask_down)
    reference = check.reference(rule.avg_price_mins)
    return reference * down <= price <= reference * up


def _check_notional(rule: NotionalRule, check: _Check) -> bool:
    order = check.order
    if order.price is not None:
        value = order.price * order.quantity
    else:
        value = check.reference(rule.avg_price_mins) * order.quantity
    check_min = rule.apply_min_to_market or not order.is_market
    check_max = rule.max_notional is not None and (rule.apply_max_to_market or not order.is_market)
    if check_min and value < rule.min_notional:
        return False
    return not (check_max and rule.max_notional is not None and value > rule.max_notional)


def _check_position(max_position: Decimal, check: _Check) -> bool:
    if check.order.side != "BUY":
        return True
    held = check.balances.get(check.spec.base)
    position = (held.free + held.locked) if held is not None else ZERO
    buying = sum((o.orig_qty - o.executed_qty for o in check.on_symbol() if o.side == "BUY"), ZERO)
    return position + buying + check.order.quantity <= max_position


def market_step(spec: SymbolSpec) -> Decimal:
    """The step a `quoteOrderQty` order's quantity is rounded down to, so the computed
    quantity never breaks LOT_SIZE or MARKET_LOT_SIZE (see `SymbolSpec.step`)."""
    return spec.step
