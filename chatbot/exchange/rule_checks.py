"""The rules an order must pass, one check per Binance filter, in the order Binance checks them.

`check_order` is the whole check of an order whose values are final; `chatbot/exchange/filters.py`
rounds an order to the symbol's grid first and then runs the same checks (`check_rules`). Each
refusal is an `OrderRuleViolation` whose message, fit for the chat, names the limit and the
value that broke it; caller mistakes (a float, a bad side, a limit order without a price) are
TypeError / ValueError. Everything is `Decimal`; a limit of 0 disables that one rule, as Binance
documents. The rules that need the account (open orders, position) are in `order_limits.py`.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from chatbot.errors import UserFacingError
from chatbot.exchange.grid import (
    Side,
    format_decimal,
    is_multiple,
    mul,
    places,
    price_step,
    quantity_step,
    require_decimal,
    require_side,
    to_step,
)
from chatbot.exchange.reference_prices import MARKET_TYPES, ReferencePrices, reference_label
from chatbot.exchange.symbol_rules import SymbolRules

_STATUS_TEXT = {
    "HALT": "halted",
    "BREAK": "on a break",
    "END_OF_DAY": "closed for the day",
    "CANCEL_ONLY": "only accepting cancellations",
}


class OrderRuleViolation(UserFacingError, ValueError):
    """The order breaks one of the symbol's rules; `message` is meant for the user.

    `filter_name` is Binance's filter ("LOT_SIZE", "NOTIONAL", ...), or "SYMBOL_STATUS" /
    "ORDER_TYPE" for the two rules that are not filters.
    """

    def __init__(self, filter_name: str, message: str) -> None:
        self.filter_name = filter_name
        super().__init__(message)


def check_status(rules: SymbolRules) -> None:
    """Raise `OrderRuleViolation("SYMBOL_STATUS")` unless the symbol is trading now."""
    if rules.status != "TRADING":
        state = _STATUS_TEXT.get(rules.status, f"not trading ({rules.status})")
        raise OrderRuleViolation("SYMBOL_STATUS", f"{rules.symbol} is {state} right now")


def check_order(
    rules: SymbolRules,
    *,
    side: Side,
    order_type: str,
    quantity: Decimal,
    price: Decimal | None = None,
    references: ReferencePrices,
) -> None:
    """Raise `OrderRuleViolation` for the first rule the order breaks, as Binance checks it.

    Values are checked as given (round them first, or use `prepare_order`). `references` holds
    the reference price of each filter that uses one (see `reference_minutes`). A limit order
    without a price, a market order with one, a bad side, or a missing or non-positive reference
    price are caller errors (ValueError); a float anywhere raises TypeError.
    """
    check_rules(rules, side, order_type, quantity, price, references, note="")


def check_rules(
    rules: SymbolRules,
    side: Side,
    order_type: str,
    quantity: Decimal,
    price: Decimal | None,
    references: ReferencePrices,
    note: str,
) -> None:
    check_request(rules, side, order_type, price)
    market = order_type in MARKET_TYPES
    _check_quantity(rules, require_decimal("quantity", quantity), market)
    if price is not None:
        check_price(rules, price)
    _check_notional(rules, quantity, price, references, note)
    if price is not None:
        _check_percent_price(rules, side, price, references)


def check_request(rules: SymbolRules, side: str, order_type: str, price: Decimal | None) -> None:
    """Caller mistakes raise ValueError / TypeError; a closed symbol or type is a violation."""
    require_side(side)
    check_status(rules)
    if order_type not in rules.order_types:
        msg = f"{rules.symbol} does not accept {order_type} orders"
        raise OrderRuleViolation("ORDER_TYPE", msg)
    if (price is None) != (order_type in MARKET_TYPES):
        raise ValueError(f"a {order_type} order {'needs a' if price is None else 'takes no'} price")
    if price is not None:
        require_decimal("price", price)


def violation(
    name: str, rule: str, limit: Decimal, actual: Decimal, unit: str, note: str = ""
) -> OrderRuleViolation:
    """For example "minimum price is 0.01 USDT; this one is 0.001 USDT"."""
    text = f"{rule} {format_decimal(limit)} {unit}; this one is {format_decimal(actual)} {unit}"
    return OrderRuleViolation(name, text + note)


def _check_quantity(rules: SymbolRules, qty: Decimal, market: bool) -> None:
    base = rules.base_asset
    if qty <= 0:
        raise OrderRuleViolation("LOT_SIZE", f"quantity must be more than 0 {base}")
    # The market limits first: they are the tighter ones, so the ones worth telling.
    lots = [("MARKET_LOT_SIZE", rules.market_lot_size, " for a market order")] if market else []
    for name, lot, label in [*lots, ("LOT_SIZE", rules.lot_size, "")]:
        if lot and lot.min_qty > 0 and qty < lot.min_qty:
            raise violation(name, f"minimum quantity{label} is", lot.min_qty, qty, base)
        if lot and lot.max_qty > 0 and qty > lot.max_qty:
            raise violation(name, f"maximum quantity{label} is", lot.max_qty, qty, base)
    steps = [quantity_step(rules, market)]
    if steps[0][1] == "MARKET_LOT_SIZE":  # a MARKET order must pass LOT_SIZE as well
        steps.append(quantity_step(rules, market=False))
    for step, name in steps:
        if not is_multiple(qty, step):
            raise violation(name, "quantity must be a multiple of", step, qty, base)


def check_price(rules: SymbolRules, price: Decimal, label: str = "price") -> None:
    """PRICE_FILTER, which Binance applies to a limit price and to a stop price alike;
    `label` names the one checked ("price", "trigger price")."""
    quote, tick, pf = rules.quote_asset, price_step(rules), rules.price_filter
    if price <= 0:
        raise OrderRuleViolation("PRICE_FILTER", f"{label} must be more than 0 {quote}")
    if pf and pf.min_price > 0 and price < pf.min_price:
        raise violation("PRICE_FILTER", f"minimum {label} is", pf.min_price, price, quote)
    if pf and pf.max_price > 0 and price > pf.max_price:
        raise violation("PRICE_FILTER", f"maximum {label} is", pf.max_price, price, quote)
    if not is_multiple(price, tick):
        raise violation("PRICE_FILTER", f"{label} must be a multiple of", tick, price, quote)


def _check_notional(
    rules: SymbolRules,
    qty: Decimal,
    price: Decimal | None,
    references: ReferencePrices,
    note: str,
) -> None:
    """A limit order is valued at its price. A MARKET order is valued at each filter's own
    reference price, and held to a limit only when the filter's applyTo flag says so."""
    market = price is None
    checks: list[tuple[str, Decimal | None, Decimal | None]] = []
    if n := rules.notional:
        low = n.min_notional if not market or n.apply_min_to_market else None
        high = n.max_notional if not market or n.apply_max_to_market else None
        checks.append(("NOTIONAL", low, high))
    if (m := rules.min_notional) and (not market or m.apply_to_market):
        checks.append(("MIN_NOTIONAL", m.min_notional, None))
    for name, low, high in checks:
        if not low and not high:
            continue
        value = mul(qty, price if price is not None else references.of(name))
        at = f" at {reference_label(rules, name)}" if market else ""
        _check_order_value(name, value, low, high, rules, at + note)


def _check_order_value(
    name: str,
    value: Decimal,
    low: Decimal | None,
    high: Decimal | None,
    rules: SymbolRules,
    note: str,
) -> None:
    """Raise when the order value is below `low` or above `high` (None or 0: no limit).

    The value shown is rounded away from the limit, so one under a minimum of 5 never reads "5";
    a value far below the tick keeps two significant digits (0.001, not 0).
    """
    if low and value < low:
        word, limit, rounding = "minimum", low, ROUND_FLOOR
    elif high and value > high:
        word, limit, rounding = "maximum", high, ROUND_CEILING
    else:
        return
    step = min(price_step(rules), Decimal(1).scaleb(-places(limit)))
    if value > 0:
        step = min(step, Decimal(1).scaleb(value.adjusted() - 1))
    shown = to_step(value, step, rounding)
    raise violation(name, f"{word} order is", limit, shown, rules.quote_asset, note)


def _check_percent_price(
    rules: SymbolRules, side: Side, price: Decimal, references: ReferencePrices
) -> None:
    bands = []
    if pp := rules.percent_price:
        bands.append(("PERCENT_PRICE", pp.multiplier_up, pp.multiplier_down, ""))
    if ps := rules.percent_price_by_side:
        buy = side == "BUY"
        up = ps.bid_multiplier_up if buy else ps.ask_multiplier_up
        down = ps.bid_multiplier_down if buy else ps.ask_multiplier_down
        bands.append(("PERCENT_PRICE_BY_SIDE", up, down, f" for a {side.lower()}"))
    for name, up, down, for_side in bands:
        reference = references.of(name)
        high, low = mul(reference, up), mul(reference, down)
        if (up > 0 and price > high) or (down > 0 and price < low):
            text = _band_text(rules, name, up, down, reference, for_side)
            raise OrderRuleViolation(
                name, f"{text}; this one is {format_decimal(price)} {rules.quote_asset}"
            )


def _band_text(
    rules: SymbolRules, name: str, up: Decimal, down: Decimal, reference: Decimal, for_side: str
) -> str:
    """Bounds are rounded inwards to the tick, so any price shown is one the user may type."""
    tick = price_step(rules)
    low = format_decimal(to_step(mul(reference, down), tick, ROUND_CEILING))
    high = format_decimal(to_step(mul(reference, up), tick, ROUND_FLOOR))
    if up > 0 and down > 0:
        bound, ratio = (
            f"between {low} and {high}",
            f"{format_decimal(up)}x / {format_decimal(down)}x",
        )
    elif up > 0:
        bound, ratio = f"at most {high}", f"{format_decimal(up)}x"
    else:
        bound, ratio = f"at least {low}", f"{format_decimal(down)}x"
    label = reference_label(rules, name)
    return f"price must be {bound} {rules.quote_asset}{for_side} now ({ratio} {label})"
