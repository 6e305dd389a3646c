"""An order prepared for a symbol's trading rules (Binance's exchangeInfo filters): rounded to
the grid, checked (`chatbot/exchange/rule_checks.py` holds the checks, rule by rule), and, for a
MARKET order by quote amount, the quantity Binance will compute and the smallest amount that works.

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

from chatbot.exchange.grid import (
    Side,
    ceil_div,
    floor_div,
    format_decimal,
    min_quantity,
    mul,
    price_step,
    quantity_step,
    quote_cent,
    quote_step,
    require_decimal,
    require_positive,
    round_price,
    round_quantity,
    to_step,
)
from chatbot.exchange.reference_prices import MARKET_TYPES, ReferencePrices
from chatbot.exchange.rule_checks import (
    OrderRuleViolation,
    check_request,
    check_rules,
    violation,
)
from chatbot.exchange.symbol_rules import SymbolRules


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
    check_request(rules, side, order_type, price)
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
        raise violation(name, "minimum quantity is", smallest, quantity, rules.base_asset)
    new_price = None if price is None else round_price(rules, price, side)
    check_rules(rules, side, order_type, qty, new_price, references, note="")
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
        check_rules(rules, side, "MARKET", qty, None, references, note="")
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
        check_rules(rules, side, order_type, qty, None, references, note)
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


def _market_minimums(rules: SymbolRules) -> list[tuple[str, Decimal]]:
    """The notional minimums a MARKET order is held to, by filter."""
    found = []
    if (n := rules.notional) and n.apply_min_to_market and n.min_notional > 0:
        found.append(("NOTIONAL", n.min_notional))
    if (m := rules.min_notional) and m.apply_to_market and m.min_notional > 0:
        found.append(("MIN_NOTIONAL", m.min_notional))
    return found
