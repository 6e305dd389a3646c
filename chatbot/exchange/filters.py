"""A symbol's trading rules (Binance's exchangeInfo filters) and the checks an order must pass.

Everything is `Decimal` parsed from Binance's strings; passing a float raises `TypeError`. A limit
of 0 disables that one rule, as Binance documents. These functions are pure: the caller supplies
each filter's reference price (`ReferencePrices`: NOTIONAL and MIN_NOTIONAL value a MARKET order
at it, the PERCENT_PRICE bands bound a limit price by it) and, for an order by quote amount, the
best ask (buy) or bid (sell). Arithmetic runs at the precision the numbers need, so any finite
Decimal is either accepted or refused by a rule, never an arithmetic error.
The rules that need the account (open orders, position) are in `order_limits.py`; not checked
anywhere: stopPrice, trailingDelta and icebergs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from chatbot.errors import UserFacingError
from chatbot.exchange.grid import (
    Side,
    ceil_div,
    floor_div,
    format_decimal,
    is_multiple,
    min_quantity,
    mul,
    places,
    price_step,
    quantity_step,
    quote_cent,
    quote_step,
    require_decimal,
    require_positive,
    require_side,
    round_price,
    round_quantity,
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


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    """An order rounded to the symbol's grid and checked against its rules, ready to send.

    For a MARKET order by amount of quote asset, `quantity` is None and `quote_quantity` is set
    (send `quoteOrderQty`, never both); `quantity_rounded` then refers to `quote_quantity`, and
    `expected_quantity` is the base quantity Binance will compute from it (see
    `estimate_quantity`). `notional` is quantity x price (for a MARKET order at the reference
    price of its notional filter, None when it has none), or the quote quantity itself.
    """

    side: Side
    order_type: str
    quantity: Decimal | None
    price: Decimal | None
    quote_quantity: Decimal | None
    quantity_rounded: bool
    price_rounded: bool
    notional: Decimal | None
    expected_quantity: Decimal | None = None


def estimate_quantity(rules: SymbolRules, quote_quantity: Decimal, best_price: Decimal) -> Decimal:
    """The base quantity of a MARKET order by `quote_quantity`, as Binance documents it:
    quoteOrderQty / the best ask (buy) or bid (sell), rounded DOWN to the market step (the
    coarser of LOT_SIZE's and MARKET_LOT_SIZE's, so it breaks neither). The fill may still be
    at other prices; this is the quantity the filters judge.
    """
    return floor_div(quote_quantity, require_positive("best_price", best_price), quote_step(rules))


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
    _check(rules, side, order_type, quantity, price, references, note="")


def prepare_order(
    rules: SymbolRules,
    *,
    side: Side,
    order_type: str,
    quantity: Decimal | None = None,
    quote_quantity: Decimal | None = None,
    price: Decimal | None = None,
    references: ReferencePrices,
    best_price: Decimal | None = None,
) -> PreparedOrder:
    """Round the order to the symbol's grid, check it, and say what the rounding changed.

    The quantity rounds down to the step, the price by side (see `round_price`). Give exactly one
    of `quantity` and `quote_quantity`. `quote_quantity` (spend, or receive, that much quote
    asset) is for MARKET orders and needs `best_price`, the best ask (buy) or bid (sell): the
    amount rounds down to the quote precision, the quantity it buys follows `estimate_quantity`,
    and that quantity at the reference price must meet the notional minimum. A refusal because
    the amount is too small names the smallest amount that works now.
    Raises `OrderRuleViolation` for a broken rule, ValueError / TypeError for caller mistakes.
    """
    _check_request(rules, side, order_type, price)
    if (quantity is None) == (quote_quantity is None):
        raise ValueError("give exactly one of quantity and quote_quantity")
    if quote_quantity is not None:
        return _prepare_quote_order(rules, side, order_type, quote_quantity, references, best_price)
    market = order_type in MARKET_TYPES
    qty = round_quantity(rules, require_decimal("quantity", quantity), market=market)
    if qty == 0 and quantity > 0:
        # Name the minimum rather than "0", a quantity the user never typed.
        step, name = quantity_step(rules, market)
        smallest = max(min_quantity(rules, market), step)
        raise _violation(name, "minimum quantity is", smallest, quantity, rules.base_asset)
    new_price = None if price is None else round_price(rules, price, side)
    _check(rules, side, order_type, qty, new_price, references, note="")
    notional = mul(qty, new_price) if new_price is not None else _market_value(qty, references)
    return PreparedOrder(
        side=side,
        order_type=order_type,
        quantity=qty,
        price=new_price,
        quote_quantity=None,
        quantity_rounded=qty != quantity,
        price_rounded=new_price != price,
        notional=notional,
    )


def smallest_quote_amount(
    rules: SymbolRules, side: Side, best_price: Decimal, references: ReferencePrices
) -> Decimal | None:
    """The least amount of quote asset, on the price tick, whose MARKET order passes every rule
    now (see `estimate_quantity`); None when no amount does (a maximum binds first)."""
    step = quote_step(rules)
    need = to_step(max(min_quantity(rules, market=True), step), step, ROUND_CEILING)
    for name, minimum in _market_minimums(rules):
        need = max(need, ceil_div(minimum, references.of(name), step))
    unit = max(price_step(rules), quote_cent(rules))
    amount = to_step(mul(need, best_price), unit, ROUND_CEILING)
    try:
        qty = estimate_quantity(rules, amount, best_price)
        _check(rules, side, "MARKET", qty, None, references, note="")
    except OrderRuleViolation:
        return None
    return amount


def _prepare_quote_order(
    rules: SymbolRules,
    side: Side,
    order_type: str,
    quote_qty: Decimal,
    references: ReferencePrices,
    best_price: Decimal | None,
) -> PreparedOrder:
    quote, base = rules.quote_asset, rules.base_asset
    if order_type != "MARKET":
        raise ValueError("quote_quantity is only for MARKET orders")
    if best_price is None:
        raise ValueError("an order by quote amount needs the best ask (buy) or bid (sell)")
    require_positive("best_price", best_price)
    if not rules.quote_order_qty_market_allowed:
        msg = f"{rules.symbol} takes market orders by {base} quantity, not {quote}"
        raise OrderRuleViolation("ORDER_TYPE", msg)
    wanted = max(require_decimal("quote_quantity", quote_qty), Decimal(0))
    amount = to_step(wanted, quote_cent(rules), ROUND_FLOOR)
    if amount == 0:
        raise OrderRuleViolation("NOTIONAL", f"amount must be more than 0 {quote}")
    qty = estimate_quantity(rules, amount, best_price)
    best = "best ask" if side == "BUY" else "best bid"
    try:
        if qty == 0:
            step = format_decimal(quote_step(rules))
            text = f"{format_decimal(amount)} {quote} is less than one step ({step} {base})"
            raise OrderRuleViolation(quantity_step(rules, True)[1], f"{text} at the {best}")
        note = f" ({format_decimal(qty)} {base} for {format_decimal(amount)} {quote} at the {best})"
        _check(rules, side, order_type, qty, None, references, note)
    except OrderRuleViolation as exc:
        smallest = smallest_quote_amount(rules, side, best_price, references)
        if smallest is None or smallest <= amount:
            raise
        hint = f"; the smallest amount that works now is {format_decimal(smallest)} {quote}"
        raise OrderRuleViolation(exc.filter_name, exc.message + hint) from None
    return PreparedOrder(
        side, order_type, None, None, amount, amount != quote_qty, False, amount, qty
    )


def _market_value(qty: Decimal, references: ReferencePrices) -> Decimal | None:
    """A MARKET order's value at the reference price of its notional filter, if it has one."""
    for name in ("NOTIONAL", "MIN_NOTIONAL"):
        if name in references.by_filter or references.default is not None:
            return mul(qty, references.of(name))
    return None


def _check(
    rules: SymbolRules,
    side: Side,
    order_type: str,
    quantity: Decimal,
    price: Decimal | None,
    references: ReferencePrices,
    note: str,
) -> None:
    _check_request(rules, side, order_type, price)
    market = order_type in MARKET_TYPES
    _check_quantity(rules, require_decimal("quantity", quantity), market)
    if price is not None:
        _check_price(rules, price)
    _check_notional(rules, quantity, price, references, note)
    if price is not None:
        _check_percent_price(rules, side, price, references)


def _market_minimums(rules: SymbolRules) -> list[tuple[str, Decimal]]:
    """The notional minimums a MARKET order is held to, by filter."""
    found = []
    if (n := rules.notional) and n.apply_min_to_market and n.min_notional > 0:
        found.append(("NOTIONAL", n.min_notional))
    if (m := rules.min_notional) and m.apply_to_market and m.min_notional > 0:
        found.append(("MIN_NOTIONAL", m.min_notional))
    return found


def _violation(
    name: str, rule: str, limit: Decimal, actual: Decimal, unit: str, note: str = ""
) -> OrderRuleViolation:
    """For example "minimum price is 0.01 USDT; this one is 0.001 USDT"."""
    text = f"{rule} {format_decimal(limit)} {unit}; this one is {format_decimal(actual)} {unit}"
    return OrderRuleViolation(name, text + note)


def _check_request(rules: SymbolRules, side: str, order_type: str, price: Decimal | None) -> None:
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


def _check_quantity(rules: SymbolRules, qty: Decimal, market: bool) -> None:
    base = rules.base_asset
    if qty <= 0:
        raise OrderRuleViolation("LOT_SIZE", f"quantity must be more than 0 {base}")
    # The market limits first: they are the tighter ones, so the ones worth telling.
    lots = [("MARKET_LOT_SIZE", rules.market_lot_size, " for a market order")] if market else []
    for name, lot, label in [*lots, ("LOT_SIZE", rules.lot_size, "")]:
        if lot and lot.min_qty > 0 and qty < lot.min_qty:
            raise _violation(name, f"minimum quantity{label} is", lot.min_qty, qty, base)
        if lot and lot.max_qty > 0 and qty > lot.max_qty:
            raise _violation(name, f"maximum quantity{label} is", lot.max_qty, qty, base)
    steps = [quantity_step(rules, market)]
    if steps[0][1] == "MARKET_LOT_SIZE":  # a MARKET order must pass LOT_SIZE as well
        steps.append(quantity_step(rules, market=False))
    for step, name in steps:
        if not is_multiple(qty, step):
            raise _violation(name, "quantity must be a multiple of", step, qty, base)


def _check_price(rules: SymbolRules, price: Decimal) -> None:
    quote, tick, pf = rules.quote_asset, price_step(rules), rules.price_filter
    if price <= 0:
        raise OrderRuleViolation("PRICE_FILTER", f"price must be more than 0 {quote}")
    if pf and pf.min_price > 0 and price < pf.min_price:
        raise _violation("PRICE_FILTER", "minimum price is", pf.min_price, price, quote)
    if pf and pf.max_price > 0 and price > pf.max_price:
        raise _violation("PRICE_FILTER", "maximum price is", pf.max_price, price, quote)
    if not is_multiple(price, tick):
        raise _violation("PRICE_FILTER", "price must be a multiple of", tick, price, quote)


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
    raise _violation(name, f"{word} order is", limit, shown, rules.quote_asset, note)


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
