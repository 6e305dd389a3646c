"""A symbol's trading rules (Binance's exchangeInfo filters) and the checks an order must pass.

Everything is `Decimal` parsed from Binance's strings; passing a float raises `TypeError`. A limit
of 0 disables that one rule, as Binance documents. These functions are pure: the caller supplies
the reference (average) price, which Binance uses for MARKET orders and the PERCENT_PRICE filters.
Not checked here: MAX_NUM_ORDERS (needs the open orders), stopPrice, trailingDelta and icebergs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from typing import Literal

from chatbot.exchange.symbol_rules import SymbolRules

Side = Literal["BUY", "SELL"]

# Order types without a limit price fill at market, so the market variants of the rules apply.
_MARKET_TYPES = frozenset({"MARKET", "STOP_LOSS", "TAKE_PROFIT"})
_PRECISION = 60  # digits for exact step arithmetic, far beyond any Binance value
_STATUS_TEXT = {
    "HALT": "halted",
    "BREAK": "on a break",
    "END_OF_DAY": "closed for the day",
    "CANCEL_ONLY": "only accepting cancellations",
}


class OrderRuleViolation(ValueError):
    """The order breaks one of the symbol's rules; `message` is meant for the user.

    `filter_name` is Binance's filter ("LOT_SIZE", "NOTIONAL", ...), or "SYMBOL_STATUS" /
    "ORDER_TYPE" for the two rules that are not filters.
    """

    def __init__(self, filter_name: str, message: str) -> None:
        self.filter_name = filter_name
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    """An order rounded to the symbol's grid and checked against its rules, ready to send.

    For a MARKET order by amount of quote asset, `quantity` is None and `quote_quantity` is set
    (send `quoteOrderQty`, never both); `quantity_rounded` then refers to `quote_quantity`.
    `notional` is quantity x price (at the reference price for a MARKET order, so an estimate),
    or the quote quantity itself.
    """

    side: Side
    order_type: str
    quantity: Decimal | None
    price: Decimal | None
    quote_quantity: Decimal | None
    quantity_rounded: bool
    price_rounded: bool
    notional: Decimal


def format_decimal(value: Decimal, places: int | None = None) -> str:
    """`value` for people: thousands separators, no exponent, no trailing zeros ("65,000.5").

    With `places`, the value is first rounded half-up to that many decimals.
    """
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{value:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def price_places(rules: SymbolRules) -> int:
    """Decimals a price of this symbol can have (from tickSize, else the quote precision)."""
    return _places(_price_step(rules))


def quantity_places(rules: SymbolRules) -> int:
    """Decimals a (limit order) quantity can have (from stepSize, else the base precision)."""
    return _places(_quantity_step(rules, market=False)[0])


def round_quantity(rules: SymbolRules, qty: Decimal, *, market: bool = False) -> Decimal:
    """`qty` rounded DOWN to the step size, so the user never trades more than asked; never < 0.

    The step is MARKET_LOT_SIZE's for a market order when it is non-zero, else LOT_SIZE's, else
    the base asset precision. The result has the step's exponent (0.0012345 -> 0.00123). A market
    order must also fit LOT_SIZE's step, which holds when the market step is a multiple of it.
    """
    step, _ = _quantity_step(rules, market)
    return _to_step(max(_require_decimal("qty", qty), Decimal(0)), step, ROUND_FLOOR)


def round_price(rules: SymbolRules, price: Decimal, side: Side) -> Decimal:
    """`price` rounded to the tick size: a BUY rounds DOWN and a SELL rounds UP.

    So the user never pays more, nor receives less, than the price they typed. A SELL rounded up
    may then exceed maxPrice; `check_order` reports that.
    """
    rounding = ROUND_FLOOR if _require_side(side) == "BUY" else ROUND_CEILING
    return _to_step(_require_decimal("price", price), _price_step(rules), rounding)


def estimate_quantity(
    rules: SymbolRules, quote_quantity: Decimal, reference_price: Decimal
) -> Decimal:
    """Base quantity `quote_quantity` buys at `reference_price`, rounded down to the market step.

    Only an estimate: a MARKET order's fill price is known once it has filled.
    """
    with localcontext(prec=_PRECISION):
        return round_quantity(rules, quote_quantity / reference_price, market=True)


def check_order(
    rules: SymbolRules,
    *,
    side: Side,
    order_type: str,
    quantity: Decimal,
    price: Decimal | None = None,
    reference_price: Decimal,
) -> None:
    """Raise `OrderRuleViolation` for the first rule the order breaks, as Binance checks it.

    Values are checked as given (round them first, or use `prepare_order`). `reference_price` is
    the symbol's average price: the notional of a MARKET order and the PERCENT_PRICE bands use it.
    A limit order without a price, a market order with one, a bad side or a non-positive
    reference price are caller errors (ValueError); a float anywhere raises TypeError.
    """
    _check_request(rules, side, order_type, price, reference_price)
    market = order_type in _MARKET_TYPES
    _check_quantity(rules, _require_decimal("quantity", quantity), market)
    if price is not None:
        _check_price(rules, price)
    value = quantity * (reference_price if price is None else price)
    _check_notional(rules, value, market, " at the average price" if market else "")
    if price is not None:
        _check_percent_price(rules, side, price, reference_price)


def prepare_order(
    rules: SymbolRules,
    *,
    side: Side,
    order_type: str,
    quantity: Decimal | None = None,
    quote_quantity: Decimal | None = None,
    price: Decimal | None = None,
    reference_price: Decimal,
) -> PreparedOrder:
    """Round the order to the symbol's grid, check it, and say what the rounding changed.

    The quantity rounds down to the step, the price by side (see `round_price`). Give exactly one
    of `quantity` and `quote_quantity`. `quote_quantity` (spend, or receive, that much quote
    asset) is for MARKET orders: it rounds down to the quote precision, and the base quantity it
    buys at `reference_price` is estimated only to check the rules.
    Raises `OrderRuleViolation` for a broken rule, ValueError / TypeError for caller mistakes.
    """
    _check_request(rules, side, order_type, price, reference_price)
    if (quantity is None) == (quote_quantity is None):
        raise ValueError("give exactly one of quantity and quote_quantity")
    if quote_quantity is not None:
        return _prepare_quote_order(rules, side, order_type, quote_quantity, reference_price)
    market = order_type in _MARKET_TYPES
    qty = round_quantity(rules, _require_decimal("quantity", quantity), market=market)
    if qty == 0 and quantity > 0:
        # Name the minimum rather than "0", a quantity the user never typed.
        step, name = _quantity_step(rules, market)
        smallest = max(_min_quantity(rules, market), step)
        raise _violation(name, "minimum quantity is", smallest, quantity, rules.base_asset)
    new_price = None if price is None else round_price(rules, price, side)
    check_order(
        rules,
        side=side,
        order_type=order_type,
        quantity=qty,
        price=new_price,
        reference_price=reference_price,
    )
    return PreparedOrder(
        side=side,
        order_type=order_type,
        quantity=qty,
        price=new_price,
        quote_quantity=None,
        quantity_rounded=qty != quantity,
        price_rounded=new_price != price,
        notional=qty * (reference_price if new_price is None else new_price),
    )


def _prepare_quote_order(
    rules: SymbolRules, side: Side, order_type: str, quote_qty: Decimal, reference: Decimal
) -> PreparedOrder:
    """The amount itself must pass the notional limits, and so must the quantity it buys."""
    quote = rules.quote_asset
    if order_type != "MARKET":
        raise ValueError("quote_quantity is only for MARKET orders")
    if not rules.quote_order_qty_market_allowed:
        msg = f"{rules.symbol} takes market orders by {rules.base_asset} quantity, not {quote}"
        raise OrderRuleViolation("ORDER_TYPE", msg)
    cent = Decimal(1).scaleb(-rules.quote_asset_precision)
    amount = _to_step(
        max(_require_decimal("quote_quantity", quote_qty), Decimal(0)), cent, ROUND_FLOOR
    )
    if amount == 0:
        raise OrderRuleViolation("NOTIONAL", f"amount must be more than 0 {quote}")
    _check_notional(rules, amount, market=True)
    estimate = estimate_quantity(rules, amount, reference)
    if estimate == 0:
        step, name = _quantity_step(rules, market=True)
        need = _to_step(max(_min_quantity(rules, True), step) * reference, cent, ROUND_CEILING)
        raise _violation(name, "minimum order now is", need, amount, quote)
    note = f" once rounded to {format_decimal(estimate)} {rules.base_asset} at the average price"
    _check_notional(rules, estimate * reference, market=True, note=note)
    check_order(
        rules, side=side, order_type=order_type, quantity=estimate, reference_price=reference
    )
    return PreparedOrder(side, order_type, None, None, amount, amount != quote_qty, False, amount)


def _require_decimal(name: str, value: object) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite number, not {value}")
    return value


def _require_side(side: str) -> Side:
    if side not in ("BUY", "SELL"):
        raise ValueError(f"side must be BUY or SELL, not {side!r}")
    return side  # type: ignore[return-value]


def _places(step: Decimal) -> int:
    return max(0, -int(step.normalize().as_tuple().exponent))


def _to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """`value` rounded to a multiple of `step`, written with the step's exponent."""
    with localcontext(prec=_PRECISION):
        units = (value / step).to_integral_value(rounding=rounding)
        return (units * step).quantize(Decimal(1).scaleb(-_places(step)))


def _is_multiple(value: Decimal, step: Decimal) -> bool:
    with localcontext(prec=_PRECISION):
        return value % step == 0


def _price_step(rules: SymbolRules) -> Decimal:
    if rules.price_filter and rules.price_filter.tick_size > 0:
        return rules.price_filter.tick_size
    return Decimal(1).scaleb(-rules.quote_asset_precision)


def _quantity_step(rules: SymbolRules, market: bool) -> tuple[Decimal, str]:
    """The quantity grid and the filter that sets it; with no step, the base precision."""
    if market and rules.market_lot_size and rules.market_lot_size.step_size > 0:
        return rules.market_lot_size.step_size, "MARKET_LOT_SIZE"
    if rules.lot_size and rules.lot_size.step_size > 0:
        return rules.lot_size.step_size, "LOT_SIZE"
    return Decimal(1).scaleb(-rules.base_asset_precision), "LOT_SIZE"


def _min_quantity(rules: SymbolRules, market: bool) -> Decimal:
    lots = [rules.lot_size, rules.market_lot_size if market else None]
    return max((lot.min_qty for lot in lots if lot), default=Decimal(0))


def _violation(
    name: str, rule: str, limit: Decimal, actual: Decimal, unit: str, note: str = ""
) -> OrderRuleViolation:
    """For example "minimum price is 0.01 USDT; this one is 0.001 USDT"."""
    text = f"{rule} {format_decimal(limit)} {unit}; this one is {format_decimal(actual)} {unit}"
    return OrderRuleViolation(name, text + note)


def _check_request(
    rules: SymbolRules, side: str, order_type: str, price: Decimal | None, reference: Decimal
) -> None:
    """Caller mistakes raise ValueError / TypeError; a closed symbol or type is a violation."""
    _require_side(side)
    if _require_decimal("reference_price", reference) <= 0:
        raise ValueError("reference_price must be positive")
    if rules.status != "TRADING":
        state = _STATUS_TEXT.get(rules.status, f"not trading ({rules.status})")
        raise OrderRuleViolation("SYMBOL_STATUS", f"{rules.symbol} is {state} right now")
    if order_type not in rules.order_types:
        msg = f"{rules.symbol} does not accept {order_type} orders"
        raise OrderRuleViolation("ORDER_TYPE", msg)
    if (price is None) != (order_type in _MARKET_TYPES):
        raise ValueError(f"a {order_type} order {'needs a' if price is None else 'takes no'} price")
    if price is not None:
        _require_decimal("price", price)


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
    steps = [_quantity_step(rules, market)]
    if steps[0][1] == "MARKET_LOT_SIZE":  # a MARKET order must pass LOT_SIZE as well
        steps.append(_quantity_step(rules, market=False))
    for step, name in steps:
        if not _is_multiple(qty, step):
            raise _violation(name, "quantity must be a multiple of", step, qty, base)


def _check_price(rules: SymbolRules, price: Decimal) -> None:
    quote, tick, pf = rules.quote_asset, _price_step(rules), rules.price_filter
    if price <= 0:
        raise OrderRuleViolation("PRICE_FILTER", f"price must be more than 0 {quote}")
    if pf and pf.min_price > 0 and price < pf.min_price:
        raise _violation("PRICE_FILTER", "minimum price is", pf.min_price, price, quote)
    if pf and pf.max_price > 0 and price > pf.max_price:
        raise _violation("PRICE_FILTER", "maximum price is", pf.max_price, price, quote)
    if not _is_multiple(price, tick):
        raise _violation("PRICE_FILTER", "price must be a multiple of", tick, price, quote)


def _check_notional(rules: SymbolRules, notional: Decimal, market: bool, note: str = "") -> None:
    """MARKET orders are held to a limit only when the filter's applyTo flag says so."""
    if n := rules.notional:
        low = n.min_notional if not market or n.apply_min_to_market else None
        high = n.max_notional if not market or n.apply_max_to_market else None
        _check_order_value("NOTIONAL", notional, low, high, rules, note)
    if (m := rules.min_notional) and (not market or m.apply_to_market):
        _check_order_value("MIN_NOTIONAL", notional, m.min_notional, None, rules, note)


def _check_order_value(
    name: str,
    value: Decimal,
    low: Decimal | None,
    high: Decimal | None,
    rules: SymbolRules,
    note: str,
) -> None:
    """Raise when the order value is below `low` or above `high` (None or 0: no limit).

    The value shown is rounded away from the limit, so one under a minimum of 5 never reads "5".
    """
    if low and value < low:
        word, limit, rounding = "minimum", low, ROUND_FLOOR
    elif high and value > high:
        word, limit, rounding = "maximum", high, ROUND_CEILING
    else:
        return
    step = min(_price_step(rules), Decimal(1).scaleb(-_places(limit)))
    shown = _to_step(value, step, rounding)
    raise _violation(name, f"{word} order is", limit, shown, rules.quote_asset, note)


def _check_percent_price(
    rules: SymbolRules, side: Side, price: Decimal, reference: Decimal
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
        if (up > 0 and price > reference * up) or (down > 0 and price < reference * down):
            text = _band_text(rules, up, down, reference, for_side)
            raise OrderRuleViolation(
                name, f"{text}; this one is {format_decimal(price)} {rules.quote_asset}"
            )


def _band_text(
    rules: SymbolRules, up: Decimal, down: Decimal, reference: Decimal, for_side: str
) -> str:
    """Bounds are rounded inwards to the tick, so any price shown is one the user may type."""
    tick = _price_step(rules)
    low = format_decimal(_to_step(reference * down, tick, ROUND_CEILING))
    high = format_decimal(_to_step(reference * up, tick, ROUND_FLOOR))
    if up > 0 and down > 0:
        bound, ratio = (
            f"between {low} and {high}",
            f"{format_decimal(up)}x / {format_decimal(down)}x",
        )
    elif up > 0:
        bound, ratio = f"at most {high}", f"{format_decimal(up)}x"
    else:
        bound, ratio = f"at least {low}", f"{format_decimal(down)}x"
    return f"price must be {bound} {rules.quote_asset}{for_side} now ({ratio} the average price)"
