"""Judging a new order before it exists: filters, engine rules, balance, and what it locks.

Kept apart from engine.py, which reads as an order's life (place, rest, trigger, fill,
cancel): here is everything an order is checked against before anything changes, so a refused
order (ApiError -1013 from the filters, -2010 from the engine's rules) leaves no trace. Order
lists (order_lists.py) check each leg here before placing any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from .accounts import Account
from .book import Level, cost, filled, take_quantity, take_quote
from .filters import OrderShape, market_step, validate_order
from .market import Market
from .orders import LIMIT_KINDS, STOP_KINDS, Order
from .stops import check_not_triggered
from .symbols import SymbolSpec
from .wire import (
    DUPLICATE_ORDER,
    INSUFFICIENT_BALANCE,
    WOULD_TAKE,
    ZERO,
    order_rejected,
    quantize_up,
)


@dataclass(frozen=True)
class OrderRequest:
    """A validated `POST /api/v3/order`: exactly one of quantity / quote_qty is set."""

    spec: SymbolSpec
    side: str
    type: str
    time_in_force: str | None
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    client_order_id: str | None
    stop_price: Decimal | None = None
    trailing_delta: int | None = None


@dataclass(frozen=True)
class Plan:
    """What placing an order will do: its quantity and the levels it takes on arrival."""

    quantity: Decimal
    takes: list[Level]


class OrderChecks:
    """The checks over the market and the accounts' open orders (shared with the engine)."""

    def __init__(
        self,
        market: Market,
        open_orders: Mapping[str, Mapping[int, Order]],
        by_client_id: Mapping[tuple[str, str, str], Order],
    ) -> None:
        self._market = market
        self._open = open_orders
        self._by_client_id = by_client_id

    def last_price(self, symbol: str) -> Decimal:
        return self._market.price(symbol)

    def lock_asset(self, order: Order) -> str:
        spec = self._market.symbol(order.symbol).spec
        return spec.base if order.side == "SELL" else spec.quote

    def leg_cost(self, order: Order) -> Decimal:
        """What a leg locks on its own: a SELL its quantity, a BUY its quantity at its price
        (a market-kind stop: at its stopPrice)."""
        if order.side == "SELL":
            return order.orig_qty
        if order.type in LIMIT_KINDS:
            return quantize_up(order.orig_qty * order.price)
        return self.stop_cost(order.symbol, order.orig_qty, order.stop_price)

    def plan(self, account: Account, request: OrderRequest, *, pending: bool = False) -> Plan:
        """Validate the order; return its quantity and the levels it takes on arrival. An
        order list's pending leg is not judged against today's price (its trigger, taking)."""
        spec = request.spec
        levels = self._market.order_book(spec.name).against(request.side)
        quantity = request.quantity or ZERO
        takes: list[Level] = []
        if request.quote_qty is not None:
            takes, unfilled = take_quote(levels, request.side, request.quote_qty, market_step(spec))
            quantity = filled(takes) + unfilled
        shape = OrderShape(
            request.side,
            request.type,
            quantity,
            request.price,
            self._market.avg_price(spec.name),
            request.quote_qty,
            request.stop_price,
            request.trailing_delta,
        )
        validate_order(
            spec,
            shape,
            self._open[account.api_key].values(),
            account.balances,
            market=self._market,
        )
        self.check_client_id(account, spec.name, request.client_order_id)
        if request.quote_qty is not None and not spec.quote_order_qty_market_allowed:
            raise order_rejected("Quote order qty market orders are not support for this symbol.")
        if request.type in STOP_KINDS:
            last = self._market.price(spec.name)
            if not pending:
                check_not_triggered(request.type, request.side, request.stop_price or ZERO, last)
            return Plan(quantity, [])
        if request.type == "MARKET":
            if request.quote_qty is None:
                takes = take_quantity(levels, request.side, quantity)
            return Plan(quantity, takes)
        if request.price is None:  # the order checks refuse a priced type without a price
            raise ValueError(f"a {request.type} order needs a price")
        takes = take_quantity(levels, request.side, quantity, request.price)
        if takes and request.type == "LIMIT_MAKER" and not pending:
            raise order_rejected(WOULD_TAKE)
        if request.time_in_force == "FOK" and filled(takes) < quantity:
            takes = []  # fill or kill: all of it at once, or nothing
        return Plan(quantity, takes)

    def check_client_id(self, account: Account, symbol: str, client_id: str | None) -> None:
        """Binance's rule: a client order id must be unique among the account's open orders
        on the symbol; reusing the id of a filled or cancelled order is allowed."""
        if client_id is None:
            return
        latest = self._by_client_id.get((account.api_key, symbol, client_id))
        if latest is not None and latest.is_open:
            raise order_rejected(DUPLICATE_ORDER)

    def check_balance(self, account: Account, request: OrderRequest, plan: Plan) -> None:
        """-2010 unless the free balance covers the order: a SELL its quantity, a LIMIT BUY
        quantity × price (what it locks, at most, while it rests), a MARKET BUY what the
        levels it takes cost."""
        spec = request.spec
        if request.side == "SELL":
            needed, asset = plan.quantity, spec.base
        elif request.price is not None:
            needed, asset = quantize_up(plan.quantity * request.price), spec.quote
        elif request.type in STOP_KINDS:
            needed = self.stop_cost(spec.name, plan.quantity, request.stop_price)
            asset = spec.quote
        else:
            needed, asset = cost(plan.takes), spec.quote
        if account.free(asset) < needed:
            raise order_rejected(INSUFFICIENT_BALANCE)

    def stop_cost(self, symbol: str, quantity: Decimal, stop_price: Decimal | None) -> Decimal:
        """What a market-kind stop BUY locks while it waits: its quantity at the stopPrice
        (at the last price for a trailing stop without one)."""
        return quantize_up(quantity * (stop_price or self._market.price(symbol)))
