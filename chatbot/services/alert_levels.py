"""An alert's level from what the user typed: `> 70000`, `< 0.5`, `-5%` become a direction, a
threshold and the condition as shown, and a level no trade can ever reach (outside the symbol's
PRICE_FILTER) is refused with an example of one that can. The kinds after price levels keep
their typed form, and an `until`/`for` becomes the instant the alert expires."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from chatbot.errors import UserError
from chatbot.exchange.grid import format_decimal, mul, price_range, price_step, to_step
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.services.alert_kinds import MAX_LASTS, Condition, Expiry, leaning, typed_form
from chatbot.storage.alerts import AlertDirection

HUNDRED = Decimal(100)
FIVE_PERCENT = {True: Decimal("1.05"), False: Decimal("0.95")}  # an example's level, up or down


class LevelSpec(Protocol):
    """The part of an `AlertSpec` a level is made of."""

    @property
    def operator(self) -> str: ...  # ">" | "<" | "%"

    @property
    def value(self) -> Decimal: ...


def alert_level(
    spec: LevelSpec, price: Decimal, rules: SymbolRules
) -> tuple[AlertDirection, Decimal, str]:
    """The alert's direction, level and condition as shown; a UserError when no trade can ever
    reach the level."""
    if spec.operator == ">":
        refuse_unreachable(rules, spec, price, AlertDirection.ABOVE, spec.value)
        return AlertDirection.ABOVE, spec.value, f"≥ {spec.value.normalize():f}"
    if spec.operator == "<":
        refuse_unreachable(rules, spec, price, AlertDirection.BELOW, spec.value)
        return AlertDirection.BELOW, spec.value, f"≤ {spec.value.normalize():f}"
    if spec.value <= -HUNDRED:
        raise UserError("A fall of 100% or more cannot happen. Example: /alert BTC -5%")
    threshold = price * (1 + spec.value / HUNDRED)
    sign = "+" if spec.value > 0 else ""
    direction = AlertDirection.ABOVE if spec.value > 0 else AlertDirection.BELOW
    refuse_unreachable(rules, spec, price, direction, threshold)
    arrow = "≥" if spec.value > 0 else "≤"
    shown = threshold.quantize(Decimal("0.00000001")).normalize()
    return direction, threshold, f"{sign}{spec.value.normalize():f}% ({arrow} {shown:f})"


def mark_level(
    spec: LevelSpec, mark: Decimal, tick_size: Decimal | None
) -> tuple[AlertDirection, Decimal, str]:
    """A perpetual's level, met on its mark price: `> 70000`, `< 60000` as typed, `+5%` from
    the mark now rounded to the contract's tick away from the mark (up for a rise, down for a
    fall), so the level is never nearer than asked."""
    if spec.operator in {">", "<"}:
        up = spec.operator == ">"
        shown = f"{'≥' if up else '≤'} {spec.value.normalize():f}"
        return (AlertDirection.ABOVE if up else AlertDirection.BELOW), spec.value, shown
    if spec.value <= -HUNDRED:
        raise UserError("A fall of 100% or more cannot happen. Example: /alert BTC.P -5%")
    up = spec.value > 0
    threshold = mark * (1 + spec.value / HUNDRED)
    if tick_size:
        threshold = to_step(threshold, tick_size, ROUND_CEILING if up else ROUND_FLOOR)
    shown = threshold.quantize(Decimal("0.00000001")).normalize()
    sign, arrow = ("+", "≥") if up else ("", "≤")
    direction = AlertDirection.ABOVE if up else AlertDirection.BELOW
    return direction, threshold, f"{sign}{spec.value.normalize():f}% ({arrow} {shown:f})"


def refuse_unreachable(
    rules: SymbolRules,
    spec: LevelSpec,
    price: Decimal,
    direction: AlertDirection,
    threshold: Decimal,
) -> None:
    """Refuse a level outside the prices the symbol can trade at (its PRICE_FILTER), such as
    `< 0.001` on a 0.01 tick or `-99.9999999%`: such an alert would wait forever."""
    lowest, highest = price_range(rules)
    if direction is AlertDirection.BELOW and threshold < lowest:
        bound = f"below {format_decimal(lowest)}"
    elif direction is AlertDirection.ABOVE and threshold > highest:
        bound = f"above {format_decimal(highest)}"
    else:
        return
    up = direction is AlertDirection.ABOVE
    if spec.operator == "%":
        example = f"/alert {rules.symbol} {'+' if up else '-'}5%"
    else:
        near = to_step(mul(price, FIVE_PERCENT[up]), price_step(rules), ROUND_FLOOR)
        level = min(max(near, lowest), highest).normalize()
        example = f"/alert {rules.symbol} {spec.operator} {level:f}"  # typed as the grammar takes
    raise UserError(
        f"That alert could never fire: {rules.symbol} cannot trade {bound} on Binance, and "
        f"this alert waits for a price beyond that. Pick a nearer level, like {example}"
    )


def kind_level(condition: Condition) -> tuple[AlertDirection, Decimal, str]:
    """A move's, an indicator's or a volume alert's direction, number and typed form (what
    the `direction`, `threshold` and `condition` columns hold for them)."""
    up, number = leaning(condition)
    return AlertDirection.ABOVE if up else AlertDirection.BELOW, number, typed_form(condition)


def expiry_instant(expiry: Expiry, now: float, zone: ZoneInfo) -> float:
    """When an alert set at `now` expires: `for 7d` from now, `until 2026-12-31` at the end
    of that day in the user's time zone. Refused when already past or more than a year on."""
    if expiry.lasts is not None:
        instant = now + expiry.lasts
    elif expiry.until is not None:
        day_after = datetime.combine(expiry.until + timedelta(days=1), time(0), tzinfo=zone)
        instant = day_after.timestamp()
    else:
        raise ValueError("an expiry with neither `until` nor `for`")
    if instant <= now:
        raise UserError(
            f"{expiry.until} has passed already. Give a date to come, like "
            f"until {(datetime.fromtimestamp(now, zone) + timedelta(days=7)):%Y-%m-%d}"
        )
    if instant - now > MAX_LASTS:
        raise UserError("An alert lasts a year at most. Example: for 30d or until a nearer date.")
    return instant
