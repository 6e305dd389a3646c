"""The rules an exit must pass before it goes to Binance: stop-loss, take-profit, trailing stops
and the OCO / OTOCO lists that hold them, each checked as Binance checks it.

Pure, like `rule_checks.py`, whose helpers these reuse: each refusal is an `OrderRuleViolation`
with the rule in plain words and its limit, fit for the chat; caller mistakes (a float, a
stop-limit without a price) are TypeError / ValueError.

What Binance does, and so what is checked here:
- A trigger (`stopPrice`) fires on the last trade price: a stop-loss to sell when the price
  falls to it, a take-profit to sell when the price rises to it, mirrored for a buy. A trigger
  already reached is refused (STOP_PRICE_WOULD_TRIGGER_IMMEDIATELY).
- PRICE_FILTER applies to the limit price and to the trigger; PERCENT_PRICE(_BY_SIDE) to the
  limit price only (a trigger is no price the order trades at).
- A stop-limit's limit may sit on either side of its trigger: Binance refuses neither, so
  neither is refused here (a sell's limit above its stop just rests on the book once hit).
- A stop-market leg (STOP_LOSS, TAKE_PROFIT) is a market order to the filters: its quantity
  follows MARKET_LOT_SIZE too, and NOTIONAL values it at the reference price, where the
  filter's applyMinToMarket / applyMaxToMarket say so, exactly like a MARKET order. Binance's
  docs do not say which price values it; the reference price is the one a MARKET order uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chatbot.exchange.grid import (
    Side,
    format_decimal,
    require_decimal,
    round_price,
    round_quantity,
)
from chatbot.exchange.order_limits import ALGO_TYPES, OpenOrderCounts
from chatbot.exchange.reference_prices import MARKET_TYPES, ReferencePrices
from chatbot.exchange.rule_checks import (
    OrderRuleViolation,
    check_price,
    check_request,
    check_rules,
    check_status,
)
from chatbot.exchange.symbol_rules import (
    ExchangeFilters,
    MaxNumAlgoOrders,
    MaxNumOrderLists,
    MaxNumOrders,
    SymbolRules,
)

STOP_LOSS_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT"})
TAKE_PROFIT_TYPES = frozenset({"TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
_KIND = {"STOP_LOSS": "stop-loss", "TAKE_PROFIT": "take-profit", "LIMIT_MAKER": "limit order"}
_KIND |= {"STOP_LOSS_LIMIT": "stop-loss", "TAKE_PROFIT_LIMIT": "take-profit"}
# Each side's OCO legs: the one above the last price and the one below it (Binance's rule
# follows from where each type's trigger fires).
_OCO_LEGS = {
    "SELL": (TAKE_PROFIT_TYPES | {"LIMIT_MAKER"}, STOP_LOSS_TYPES),
    "BUY": (STOP_LOSS_TYPES, TAKE_PROFIT_TYPES | {"LIMIT_MAKER"}),
}


def kind_label(order_type: str) -> str:
    """How a message names an order type: "stop-loss", "take-profit", "limit order"."""
    return _KIND.get(order_type, order_type)


def check_order_type(rules: SymbolRules, order_type: str) -> None:
    """The symbol must be trading and accept `order_type` (exchangeInfo's orderTypes)."""
    check_status(rules)
    if order_type not in rules.order_types:
        msg = f"{rules.symbol} does not accept {order_type} orders"
        raise OrderRuleViolation("ORDER_TYPE", msg)


def check_trailing_allowed(rules: SymbolRules) -> None:
    if not rules.allow_trailing_stop:
        msg = f"{rules.symbol} does not accept trailing stops; give a fixed trigger price instead"
        raise OrderRuleViolation("TRAILING_DELTA", msg)


def check_list_allowed(rules: SymbolRules, contingency: str) -> None:
    """`contingency` is "OCO" (a stop-loss with a take-profit) or "OTO" (an entry with exits)."""
    allowed = rules.oco_allowed if contingency == "OCO" else rules.oto_allowed
    if not allowed:
        what = "OCO orders" if contingency == "OCO" else "an entry with its exits in one order"
        raise OrderRuleViolation("ORDER_TYPE", f"{rules.symbol} does not accept {what}")


def trailing_bounds(rules: SymbolRules, order_type: str, side: str) -> tuple[int, int] | None:
    """TRAILING_DELTA's (min, max) in basis points for this order, None without the filter.

    Binance's filters.md: the "above" pair binds STOP_LOSS* BUY and TAKE_PROFIT* SELL (their
    trigger sits above the market), the "below" pair STOP_LOSS* SELL and TAKE_PROFIT* BUY.
    """
    delta = rules.trailing_delta
    if delta is None:
        return None
    above = (order_type in STOP_LOSS_TYPES) == (side == "BUY")
    if above:
        return delta.min_trailing_above_delta, delta.max_trailing_above_delta
    return delta.min_trailing_below_delta, delta.max_trailing_below_delta


def check_trailing_delta(rules: SymbolRules, order_type: str, side: str, bps: int) -> None:
    """Raise unless `bps` (basis points: 100 = 1%) is within the symbol's TRAILING_DELTA."""
    if isinstance(bps, bool) or not isinstance(bps, int):
        raise TypeError(f"trailing delta must be an int of basis points, not {bps!r}")
    bounds = trailing_bounds(rules, order_type, side)
    low, high = bounds if bounds is not None else (1, 0)
    if bps < max(low, 1) or (high > 0 and bps > high):
        span = f"{_percent(low)}% to {_percent(high)}%" if high > 0 else f"{_percent(low)}%+"
        raise OrderRuleViolation(
            "TRAILING_DELTA",
            f"a trailing stop must trail by {span} on {rules.symbol}; you asked {_percent(bps)}%",
        )


def check_trigger_side(
    order_type: str, side: str, stop_price: Decimal, last_price: Decimal
) -> None:
    """A trigger must not be reached already: a stop-loss to sell and a take-profit to buy sit
    below the last price, a take-profit to sell and a stop-loss to buy above it."""
    require_decimal("stop_price", stop_price)
    below = (order_type in STOP_LOSS_TYPES) == (side == "SELL")
    if (stop_price < last_price) if below else (stop_price > last_price):
        return
    where = "below" if below else "above"
    raise OrderRuleViolation(
        "STOP_PRICE",
        f"a {kind_label(order_type)} to {side.lower()} must be {where} the last price "
        f"({format_decimal(last_price)}); {format_decimal(stop_price)} would trigger at once",
    )


def check_oco_prices(
    side: str,
    above_type: str,
    above_price_or_stop: Decimal,
    below_stop: Decimal,
    last_price: Decimal,
    *,
    below_type: str | None = None,
) -> None:
    """An OCO's relations: one leg above the last price and one below it, of the types each
    side allows (to sell: a take-profit or limit order above, a stop-loss below; to buy: a
    stop-loss above, a take-profit or limit order below). `below_type` defaults to the
    side's usual one (a stop-loss to sell, a take-profit to buy)."""
    above_allowed, below_allowed = _OCO_LEGS[side]
    below_type = below_type or ("STOP_LOSS" if side == "SELL" else "TAKE_PROFIT")
    _check_oco_leg_type(side, "above", above_type, above_allowed)
    _check_oco_leg_type(side, "below", below_type, below_allowed)
    last = format_decimal(last_price)
    for leg_type, value, where, ok in (
        (above_type, above_price_or_stop, "above", above_price_or_stop > last_price),
        (below_type, below_stop, "below", below_stop < last_price),
    ):
        if not ok:
            raise OrderRuleViolation(
                "OCO_PRICES",
                f"in an OCO to {side.lower()}, the {kind_label(leg_type)} must be {where} the "
                f"last price ({last}); {format_decimal(value)} is not",
            )


def _check_oco_leg_type(side: str, where: str, leg_type: str, allowed: frozenset[str]) -> None:
    if leg_type not in allowed:
        kinds = " or ".join(sorted({kind_label(t) for t in allowed}))
        raise OrderRuleViolation(
            "OCO_PRICES",
            f"in an OCO to {side.lower()}, the order {where} the price must be a {kinds}, "
            f"not a {kind_label(leg_type)}",
        )


def check_exit_counts(
    rules: SymbolRules,
    exchange: ExchangeFilters,
    counts: OpenOrderCounts,
    orders_added: int,
    algo_added: int,
    lists_added: int,
) -> None:
    """Raise when the new orders would pass MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS (stop and
    take-profit legs; a LIMIT_MAKER is not one), MAX_NUM_ORDER_LISTS or their EXCHANGE_
    variants. Counts that were not fetched (None) are not judged."""
    symbol = rules.symbol
    ex, c = exchange, counts
    scoped = [
        ("MAX_NUM_ORDERS", rules.max_num_orders, ex.max_num_orders, c.on_symbol, c.total),
        (
            "MAX_NUM_ALGO_ORDERS",
            rules.max_num_algo_orders,
            ex.max_num_algo_orders,
            c.algo_on_symbol,
            c.algo_total,
        ),
        (
            "MAX_NUM_ORDER_LISTS",
            rules.max_num_order_lists,
            ex.max_num_order_lists,
            c.lists_on_symbol,
            c.lists_total,
        ),
    ]
    added_by = {"MAX_NUM_ORDERS": orders_added, "MAX_NUM_ALGO_ORDERS": algo_added}
    added_by["MAX_NUM_ORDER_LISTS"] = lists_added
    checks = []
    for name, on_symbol, overall, symbol_count, total_count in scoped:
        checks.append((name, _cap(on_symbol), symbol_count, added_by[name]))
        checks.append(("EXCHANGE_" + name, _cap(overall), total_count, added_by[name]))
    for name, limit, count, added in checks:
        if added <= 0 or not limit or count is None or count + added <= limit:
            continue
        what = _COUNTED[name.removeprefix("EXCHANGE_")]
        place = "" if name.startswith("EXCHANGE_") else f" on {symbol}"
        raise OrderRuleViolation(
            name,
            f"an account may have at most {limit} {what}{place} ({name}); you have {count} "
            f"and this would add {added}. Cancel one first: /orders {symbol}",
        )


_COUNTED = {
    "MAX_NUM_ORDERS": "open orders",
    "MAX_NUM_ALGO_ORDERS": "open stop and take-profit orders",
    "MAX_NUM_ORDER_LISTS": "open OCO lists",
}


def _cap(record: MaxNumOrders | MaxNumAlgoOrders | MaxNumOrderLists | None) -> int | None:
    """The limit a count filter sets (0 disables it), None without the filter."""
    if isinstance(record, MaxNumOrders):
        return record.max_num_orders
    if isinstance(record, MaxNumAlgoOrders):
        return record.max_num_algo_orders
    return None if record is None else record.max_num_order_lists


@dataclass(frozen=True, slots=True)
class PreparedLeg:
    """One exit order rounded to the symbol's grid and checked, ready to send."""

    order_type: str
    side: Side
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    trailing_delta: int | None
    rounded: bool  # the quantity, price or trigger changed in rounding

    @property
    def is_algo(self) -> bool:
        """Counted by MAX_NUM_ALGO_ORDERS."""
        return self.order_type in ALGO_TYPES


def prepare_leg(
    rules: SymbolRules,
    *,
    order_type: str,
    side: Side,
    quantity: Decimal,
    price: Decimal | None = None,
    stop_price: Decimal | None = None,
    trailing_delta: int | None = None,
    last_price: Decimal,
    references: ReferencePrices,
) -> PreparedLeg:
    """Round a leg to the grid and check it as Binance would (see the module docstring).

    The quantity rounds down to the step (the market step for a stop-market leg); the limit
    price and the trigger round by side like any price (`round_price`: a sell's up, a buy's
    down), which for a sell's stop-loss means it fires a tick sooner, never later. A
    STOP_LOSS* / TAKE_PROFIT* leg needs a trigger or a trailing delta (or both: the trigger is
    then where trailing starts); a LIMIT_MAKER takes neither.
    """
    check_request(rules, side, order_type, price)
    stop_kind = order_type in ALGO_TYPES
    if stop_kind and stop_price is None and trailing_delta is None:
        raise ValueError(f"a {order_type} order needs a stop price or a trailing delta")
    if not stop_kind and (stop_price is not None or trailing_delta is not None):
        raise ValueError(f"a {order_type} order takes no stop price nor trailing delta")
    qty = round_quantity(
        rules, require_decimal("quantity", quantity), market=order_type in MARKET_TYPES
    )
    new_price = None if price is None else round_price(rules, price, side)
    new_stop = None if stop_price is None else round_price(rules, stop_price, side)
    if trailing_delta is not None:
        check_trailing_allowed(rules)
        check_trailing_delta(rules, order_type, side, trailing_delta)
    if new_stop is not None:
        check_price(rules, new_stop, "trigger price")
        check_trigger_side(order_type, side, new_stop, last_price)
    check_rules(rules, side, order_type, qty, new_price, references, note="")
    return PreparedLeg(
        order_type,
        side,
        qty,
        new_price,
        new_stop,
        trailing_delta,
        rounded=(qty, new_price, new_stop) != (quantity, price, stop_price),
    )


def _percent(bps: int) -> str:
    return format_decimal(Decimal(bps) / 100)
