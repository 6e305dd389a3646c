"""A symbol's grids (price tick, quantity steps, quote cent) and exact Decimal arithmetic on them.

Every operation runs at a precision derived from its operands (`digits`), so a 70-digit
quantity rounds as exactly as 0.001 does and nothing raises `decimal.InvalidOperation`; a float
raises TypeError, a NaN or infinity ValueError.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext

from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.side import Side

_PRECISION = 60  # digits beyond what the operands themselves need

# Binance sends and takes numbers as 64-bit integers of 10^-8 units, so no price, quantity or
# amount exceeds LARGEST and no price is finer than FINEST.
LARGEST = Decimal("92233720368.54775807")
FINEST = Decimal("0.00000001")


def format_decimal(value: Decimal, places: int | None = None) -> str:
    """`value` for people: thousands separators, no exponent, no trailing zeros ("65,000.5").

    With `places`, the value is first rounded half-up to that many decimals.
    """
    if places is not None:
        with localcontext(prec=digits(value) + max(places, 0)):
            value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{value:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def price_places(rules: SymbolRules) -> int:
    """Decimals a price of this symbol can have (from tickSize, else the quote precision)."""
    return places(price_step(rules))


def quantity_places(rules: SymbolRules) -> int:
    """Decimals a (limit order) quantity can have (from stepSize, else the base precision)."""
    return places(quantity_step(rules, market=False)[0])


def round_quantity(rules: SymbolRules, qty: Decimal, *, market: bool = False) -> Decimal:
    """`qty` rounded DOWN to the step size, so the user never trades more than asked; never < 0.

    The step is MARKET_LOT_SIZE's for a market order when it is non-zero, else LOT_SIZE's, else
    the base asset precision. The result has the step's exponent (0.0012345 -> 0.00123). A market
    order must also fit LOT_SIZE's step, which holds when the market step is a multiple of it.
    """
    step, _ = quantity_step(rules, market)
    return to_step(max(require_decimal("qty", qty), Decimal(0)), step, ROUND_FLOOR)


def round_price(rules: SymbolRules, price: Decimal, side: Side) -> Decimal:
    """`price` rounded to the tick size: a BUY rounds DOWN and a SELL rounds UP.

    So the user never pays more, nor receives less, than the price they typed. A SELL rounded up
    may then exceed maxPrice; `check_order` reports that.
    """
    rounding = ROUND_FLOOR if require_side(side) is Side.BUY else ROUND_CEILING
    return to_step(require_decimal("price", price), price_step(rules), rounding)


def price_step(rules: SymbolRules) -> Decimal:
    """The tick size, else one unit of the quote precision."""
    if rules.price_filter and rules.price_filter.tick_size > 0:
        return rules.price_filter.tick_size
    return quote_cent(rules)


def price_range(rules: SymbolRules) -> tuple[Decimal, Decimal]:
    """The lowest and highest price the symbol can trade at: PRICE_FILTER's minPrice and
    maxPrice where set; never below one tick (nor 10^-8), never above LARGEST."""
    lowest, highest = max(price_step(rules), FINEST), LARGEST
    if rules.price_filter is not None:
        lowest = max(lowest, rules.price_filter.min_price)
        if rules.price_filter.max_price > 0:
            highest = min(highest, rules.price_filter.max_price)
    return lowest, highest


def quote_cent(rules: SymbolRules) -> Decimal:
    """The finest amount of quote asset Binance takes (quoteOrderQty's precision)."""
    return Decimal(1).scaleb(-rules.quote_asset_precision)


def quantity_step(rules: SymbolRules, market: bool) -> tuple[Decimal, str]:
    """The quantity grid and the filter that sets it; with no step, the base precision."""
    if market and rules.market_lot_size and rules.market_lot_size.step_size > 0:
        return rules.market_lot_size.step_size, "MARKET_LOT_SIZE"
    if rules.lot_size and rules.lot_size.step_size > 0:
        return rules.lot_size.step_size, "LOT_SIZE"
    return Decimal(1).scaleb(-rules.base_asset_precision), "LOT_SIZE"


def quote_step(rules: SymbolRules) -> Decimal:
    """The grid of a quoteOrderQty order's quantity: the coarser of the two lot steps."""
    steps = [lot.step_size for lot in (rules.lot_size, rules.market_lot_size) if lot]
    return max((s for s in steps if s > 0), default=quantity_step(rules, market=True)[0])


def min_quantity(rules: SymbolRules, market: bool) -> Decimal:
    lots = [rules.lot_size, rules.market_lot_size if market else None]
    return max((lot.min_qty for lot in lots if lot), default=Decimal(0))


def require_decimal(name: str, value: object) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite number, not {value}")
    return value


def require_positive(name: str, value: object) -> Decimal:
    number = require_decimal(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be positive")
    return number


def require_side(side: str) -> Side:
    if side not in ("BUY", "SELL"):
        raise ValueError(f"side must be BUY or SELL, not {side!r}")
    return Side(side)


def digits(*values: Decimal) -> int:
    """A precision at which sums, products, quotients and remainders of `values` are exact."""
    return _PRECISION + sum(len(v.as_tuple().digits) + abs(v.adjusted()) for v in values)


def mul(a: Decimal, b: Decimal) -> Decimal:
    """a x b, exactly."""
    with localcontext(prec=digits(a, b)):
        return a * b


def places(step: Decimal) -> int:
    """Decimals of a step (0.00100000 -> 3; 10 -> 0)."""
    return max(0, -int(step.normalize().as_tuple().exponent))


def to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """`value` rounded (ROUND_FLOOR or ROUND_CEILING) to a multiple of `step`, exactly, written
    with the step's exponent."""
    with localcontext(prec=digits(value, step)):
        units, rest = divmod(value, step)  # truncated towards zero; exact at this precision
        if rest and rounding == ROUND_FLOOR and value < 0:
            units -= 1
        elif rest and rounding == ROUND_CEILING and value > 0:
            units += 1
        return (units * step).quantize(Decimal(1).scaleb(-places(step)))


def floor_div(numerator: Decimal, divisor: Decimal, step: Decimal) -> Decimal:
    """numerator / divisor (both >= 0) rounded DOWN to `step`, with no inexact quotient."""
    with localcontext(prec=digits(numerator, divisor, step)):
        units = max(numerator // (divisor * step), Decimal(0))
        return (units * step).quantize(Decimal(1).scaleb(-places(step)))


def ceil_div(numerator: Decimal, divisor: Decimal, step: Decimal) -> Decimal:
    """numerator / divisor (both >= 0) rounded UP to `step`, exactly."""
    with localcontext(prec=digits(numerator, divisor, step)):
        units, rest = divmod(numerator, divisor * step)
        units += 1 if rest > 0 else 0
        return (units * step).quantize(Decimal(1).scaleb(-places(step)))


def is_multiple(value: Decimal, step: Decimal) -> bool:
    with localcontext(prec=digits(value, step)):
        return value % step == 0
