"""The filters that judge an order by the account, not by the order alone: open-order counts
(MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS and the exchange-wide EXCHANGE_MAX_NUM_*) and MAX_POSITION.

Pure, like `filters.py`: the caller fetches the open orders and balances and passes what they
add up to. Each refusal is an `OrderRuleViolation` naming the filter and its limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

from chatbot.exchange.grid import digits, format_decimal, round_quantity
from chatbot.exchange.models import Order
from chatbot.exchange.rule_checks import OrderRuleViolation
from chatbot.exchange.symbol_rules import ExchangeFilters, SymbolRules

# The order types MAX_NUM_ALGO_ORDERS counts ("algo" orders wait for a trigger).
ALGO_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """What the limits need of one open order (Binance's `openOrders` element)."""

    symbol: str
    side: str
    order_type: str
    remaining: Decimal  # origQty - executedQty
    order_list_id: int | None = None  # the OCO / OTOCO it belongs to, None for none

    @classmethod
    def from_order(cls, order: Order) -> OpenOrder:
        """What the limits need of one of Binance's open orders."""
        remaining = max(order.orig_qty - order.executed_qty, Decimal(0))
        return cls(order.symbol, order.side, order.type, remaining, order.order_list_id)


@dataclass(frozen=True, slots=True)
class OpenOrderCounts:
    """The account's open orders as the count filters see them.

    `total` / `algo_total` (all symbols) are None when they were not fetched: Binance charges
    80 weight for every symbol's open orders, so they are only asked for when an exchange
    filter exists.
    """

    on_symbol: int
    algo_on_symbol: int
    total: int | None = None
    algo_total: int | None = None
    lists_on_symbol: int = 0  # open order lists (OCO, OTOCO), counted by their legs' list id
    lists_total: int | None = None

    @classmethod
    def count(
        cls, symbol: str, orders: Iterable[OpenOrder], *, all_symbols: bool
    ) -> OpenOrderCounts:
        """Count `orders`: those of `symbol`, and all of them when they span every symbol."""
        orders = list(orders)
        mine = [o for o in orders if o.symbol == symbol]
        algo = [o for o in orders if o.order_type in ALGO_TYPES]
        return cls(
            on_symbol=len(mine),
            algo_on_symbol=sum(1 for o in mine if o.order_type in ALGO_TYPES),
            total=len(orders) if all_symbols else None,
            algo_total=len(algo) if all_symbols else None,
            lists_on_symbol=_list_count(mine),
            lists_total=_list_count(orders) if all_symbols else None,
        )


def check_open_orders(
    rules: SymbolRules, exchange: ExchangeFilters, order_type: str, counts: OpenOrderCounts
) -> None:
    """Raise `OrderRuleViolation` when one more order of `order_type` would pass a count limit.

    Binance refuses a new order once the account already has the maximum open; every new order
    counts (a MARKET one too, for the instant it exists), algo types also for the algo limits.
    """
    symbol, stops = rules.symbol, "open stop and take-profit orders"
    per_symbol = rules.max_num_orders.max_num_orders if rules.max_num_orders else None
    overall = exchange.max_num_orders.max_num_orders if exchange.max_num_orders else None
    checks = [
        ("MAX_NUM_ORDERS", per_symbol, counts.on_symbol, f"open orders on {symbol}"),
        ("EXCHANGE_MAX_NUM_ORDERS", overall, counts.total, "open orders"),
    ]
    if order_type in ALGO_TYPES:
        algo = rules.max_num_algo_orders
        algo_overall = exchange.max_num_algo_orders
        checks += [
            (
                "MAX_NUM_ALGO_ORDERS",
                algo.max_num_algo_orders if algo else None,
                counts.algo_on_symbol,
                f"{stops} on {symbol}",
            ),
            (
                "EXCHANGE_MAX_NUM_ALGO_ORDERS",
                algo_overall.max_num_algo_orders if algo_overall else None,
                counts.algo_total,
                stops,
            ),
        ]
    for name, limit, count, what in checks:
        if limit is not None and count is not None and limit > 0 and count >= limit:
            raise OrderRuleViolation(
                name,
                f"an account may have at most {limit} {what} ({name}); you have {count}. "
                f"Cancel one first: /orders {symbol}",
            )


def position(
    rules: SymbolRules, free: Decimal, locked: Decimal, open_orders: Iterable[OpenOrder]
) -> Decimal:
    """MAX_POSITION's measure of the base asset: free + locked + the remaining quantity of the
    account's open BUY orders on the symbol."""
    buying = [o.remaining for o in open_orders if o.symbol == rules.symbol and o.side == "BUY"]
    with localcontext(prec=digits(free, locked, *buying) + len(buying)):
        return sum(buying, free + locked)


def check_position(rules: SymbolRules, side: str, quantity: Decimal, held: Decimal) -> None:
    """Raise `OrderRuleViolation("MAX_POSITION")` when a BUY of `quantity` would take the
    position (`held`, see `position`) past maxPosition. A SELL never fails this filter."""
    cap = rules.max_position
    if cap is None or side != "BUY" or cap.max_position <= 0:
        return
    with localcontext(prec=digits(held, quantity, cap.max_position)):
        after, room = held + quantity, cap.max_position - held
    if after > cap.max_position:
        base = rules.base_asset
        room = round_quantity(rules, room)
        advice = f"buy at most {format_decimal(room)} {base}" if room > 0 else "no more fits"
        raise OrderRuleViolation(
            "MAX_POSITION",
            f"{rules.symbol} allows a position of at most {format_decimal(cap.max_position)} "
            f"{base} (MAX_POSITION); with this order yours would be {format_decimal(after)} "
            f"{base} (held and being bought: {format_decimal(held)}), so {advice}",
        )


def _list_count(orders: list[OpenOrder]) -> int:
    """How many order lists the orders' legs belong to (a list shows once per open leg)."""
    return len({o.order_list_id for o in orders if o.order_list_id is not None})
