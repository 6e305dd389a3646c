"""An exit plan: the orders (legs) that carry out an `ExitSpec`, and what they would lose or gain.

Pure arithmetic on Decimal, no I/O: the exit service reads the price, the balance and the
symbol's rules and passes them in. Every exit leg SELLs (the bot trades spot, so exits protect
coins held).

Leg types
- Take-profit, with a stop-loss beside it (an OCO, or the OTOCO of a /buy): `LIMIT_MAKER` at the
  target, which rests in the book and pays the maker fee. Binance cannot trail a LIMIT_MAKER, so
  a trailing take-profit is `TAKE_PROFIT` (market on trigger) where the symbol lists it, else
  `TAKE_PROFIT_LIMIT`.
- Take-profit alone (`/tp`, or a /buy or /protect with no stop): `TAKE_PROFIT` where the symbol
  lists it, else `TAKE_PROFIT_LIMIT` with its limit at the trigger.
- Stop-loss: `STOP_LOSS` (a market order on trigger, so the exit is certain) where the symbol
  lists it, else `STOP_LOSS_LIMIT` with its limit `limit_distance_pct` below the trigger,
  rounded DOWN to the tick (away from the trigger), so a fast fall still fills.

Rounding: every trigger and target rounds UP to the tick (`round_price` for a SELL). A stop
then fires no later than typed, so it is never worse than the user asked, and a target never
sells below it. Percentages resolve against the reference price first.

Trailing (Binance's `trailingDelta`, in basis points): a trailing leg's level is its activation
price (`stopPrice`); from there it follows the highest price and triggers once the price falls
`trail_bps` below it. A trailing stop with no level trails from the moment it is placed, from
the reference price. The lowest the trigger can then be is base x (1 - delta), base being the
activation price or the reference; a `*_LIMIT` trailing leg puts its fixed limit
`limit_distance_pct` below that floor, so it is under every trigger the leg can reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext
from enum import StrEnum

from chatbot.exchange.grid import digits, mul, price_step, round_price, round_quantity, to_step
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.services.order_intent import ExitLevel, ExitRole, ExitSpec
from chatbot.side import Side

HUNDRED = Decimal(100)
BPS = Decimal(10_000)


class LegType(StrEnum):
    """An exit leg's order type, as Binance spells it (a StrEnum goes onto the wire as is)."""

    LIMIT_MAKER = "LIMIT_MAKER"
    STOP_LOSS = "STOP_LOSS"  # a market order once triggered
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
    TAKE_PROFIT = "TAKE_PROFIT"  # a market order once triggered
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"


MARKET_ON_TRIGGER = frozenset({LegType.STOP_LOSS, LegType.TAKE_PROFIT})


@dataclass(frozen=True)
class ExitLeg:
    """One exit order, as Binance takes it (all SELL).

    `stop_price` is the trigger, or a trailing leg's activation price; None for a LIMIT_MAKER
    and for a stop that trails from placement. `limit_price` is the LIMIT_MAKER's price or the
    `*_LIMIT` types' limit; None for the market-on-trigger types. `first_trigger` is the price
    it first triggers at when that is known in advance: the trigger itself, or for a stop that
    trails from placement the lowest trigger it can have; None for a trailing leg that waits
    for its activation price (its trigger is unknown until it activates).
    """

    role: ExitRole
    order_type: LegType
    side: Side
    quantity: Decimal
    stop_price: Decimal | None
    limit_price: Decimal | None
    trailing_bps: int | None
    first_trigger: Decimal | None

    @property
    def exit_price(self) -> Decimal | None:
        """The worst price this leg sells at, as far as it is known now: the limit for the
        limit types (a limit sells at it or better), the first trigger for the market ones
        (before slippage); None while a trailing leg waits for its activation price."""
        if self.trailing_bps is not None and self.stop_price is not None:
            return None
        if self.order_type in MARKET_ON_TRIGGER:
            return self.first_trigger
        return self.limit_price


@dataclass(frozen=True)
class ExitPlan:
    """The legs of an exit: one, or two as one OCO (take-profit first, then the stop-loss)."""

    legs: tuple[ExitLeg, ...]
    reference: Decimal
    quantity: Decimal

    @property
    def take_profit(self) -> ExitLeg | None:
        return next((leg for leg in self.legs if leg.role is ExitRole.TAKE_PROFIT), None)

    @property
    def stop_loss(self) -> ExitLeg | None:
        return next((leg for leg in self.legs if leg.role is ExitRole.STOP_LOSS), None)

    @property
    def is_oco(self) -> bool:
        return len(self.legs) == 2


def plan_exits(
    spec: ExitSpec,
    *,
    rules: SymbolRules,
    reference: Decimal,
    quantity: Decimal,
    limit_distance_pct: Decimal,
) -> ExitPlan:
    """The legs for `spec` on `quantity` (rounded DOWN to LOT_SIZE's step) of `rules.symbol`.

    `reference` is what percentages are of and where a stop with no level starts trailing: a
    limit entry's price, else the best price now; for /protect, /sl and /tp the last price.
    `limit_distance_pct` is CHATBOT_STOP_LIMIT_DISTANCE_PCT.
    """
    qty = round_quantity(rules, quantity)
    both = spec.take_profit is not None and spec.has_stop
    legs = []
    if spec.take_profit is not None:
        target = resolve_level(rules, spec.take_profit, reference)
        legs.append(_take_profit(spec, rules, target, qty, limit_distance_pct, both))
    if spec.has_stop:
        legs.append(_stop_loss(spec, rules, reference, qty, limit_distance_pct))
    return ExitPlan(tuple(legs), reference, qty)


def resolve_level(rules: SymbolRules, level: ExitLevel, reference: Decimal) -> Decimal:
    """A level's price: as typed, or `reference` moved by its percentage; rounded UP to the
    tick (see the module docstring)."""
    if level.price is not None:
        return round_price(rules, level.price, Side.SELL)
    percent = level.percent if level.percent is not None else Decimal(0)
    with localcontext(prec=digits(reference, percent)):
        price = reference * (HUNDRED + percent) / HUNDRED
    return round_price(rules, price, Side.SELL)


def _take_profit(
    spec: ExitSpec,
    rules: SymbolRules,
    target: Decimal,
    qty: Decimal,
    distance: Decimal,
    beside_stop: bool,
) -> ExitLeg:
    """The take-profit leg at `target` (resolved); a trailing one activates there."""
    bps = spec.trail_bps if spec.trail_leg is ExitRole.TAKE_PROFIT else None
    first = target if bps is None else None
    role, sell = ExitRole.TAKE_PROFIT, Side.SELL
    if beside_stop and bps is None:
        return ExitLeg(role, LegType.LIMIT_MAKER, sell, qty, None, target, None, target)
    if LegType.TAKE_PROFIT in rules.order_types:
        return ExitLeg(role, LegType.TAKE_PROFIT, sell, qty, target, None, bps, first)
    limit = (
        target if bps is None else _limit_below(rules, _trail_floor(rules, target, bps), distance)
    )
    return ExitLeg(role, LegType.TAKE_PROFIT_LIMIT, sell, qty, target, limit, bps, first)


def _stop_loss(
    spec: ExitSpec, rules: SymbolRules, reference: Decimal, qty: Decimal, distance: Decimal
) -> ExitLeg:
    bps = spec.trail_bps if spec.trailing_stop else None
    trigger = resolve_level(rules, spec.stop_loss, reference) if spec.stop_loss else None
    base = trigger if trigger is not None else round_price(rules, reference, Side.SELL)
    floor = _trail_floor(rules, base, bps)
    # Known in advance: an untrailed trigger, or the floor of a stop trailing from placement.
    first = floor if trigger is None or bps is None else None
    role, sell = ExitRole.STOP_LOSS, Side.SELL
    if LegType.STOP_LOSS in rules.order_types:
        return ExitLeg(role, LegType.STOP_LOSS, sell, qty, trigger, None, bps, first)
    limit = _limit_below(rules, floor, distance)
    return ExitLeg(role, LegType.STOP_LOSS_LIMIT, sell, qty, trigger, limit, bps, first)


def _trail_floor(rules: SymbolRules, base: Decimal, bps: int | None) -> Decimal:
    """The lowest trigger a SELL trailing `bps` from `base` can have (base itself untrailed),
    rounded UP to the tick like every trigger."""
    if bps is None:
        return base
    with localcontext(prec=digits(base)):
        price = base * (BPS - bps) / BPS
    return round_price(rules, price, Side.SELL)


def _limit_below(rules: SymbolRules, trigger: Decimal, distance_pct: Decimal) -> Decimal:
    """A sell limit `distance_pct` below `trigger`, rounded DOWN to the tick (never above it
    less the distance), and at least one tick."""
    with localcontext(prec=digits(trigger, distance_pct)):
        price = trigger * (HUNDRED - distance_pct) / HUNDRED
    step = price_step(rules)
    return max(to_step(price, step, ROUND_FLOOR), step)


@dataclass(frozen=True)
class Money:
    """A result in the quote asset (negative: a loss), in USDT when the quote's USDT rate is
    known, and as a percentage of the user's total balance in USDT when that is known."""

    quote: Decimal
    usdt: Decimal | None
    share_pct: Decimal | None


@dataclass(frozen=True)
class ExitFigures:
    """What the plan's exits would make, fees paid: `at_stop` if the stop-loss fills, and
    `at_target` if the take-profit does. None where there is no such leg or its exit price is
    not known in advance (a trailing leg waiting for its activation price).
    `risk_reward` is the gain at the target per unit of loss at the stop (1 : x), None unless
    the stop loses and the target gains."""

    at_stop: Money | None
    at_target: Money | None
    risk_reward: Decimal | None


def exit_figures(
    plan: ExitPlan,
    *,
    entry: Decimal,
    fee_rate: Decimal,
    quote_usdt: Decimal | None,
    balance_usdt: Decimal | None,
    entry_fee: bool,
) -> ExitFigures:
    """The result of each exit against `entry` (the price the coins are counted at: the
    entry's expected price on a /buy, the cost basis or the last price for /protect).

    Fees: `fee_rate` (the taker rate, a fraction such as 0.001) is charged on the exit's
    value, and with `entry_fee` (a /buy, whose entry is still to be paid) on the entry's value
    too; both results are net of them. A LIMIT_MAKER pays the maker rate, usually lower, so
    its gain is slightly understated, never overstated.
    """
    results = {}
    for leg in plan.legs:
        exit_price = leg.exit_price
        if exit_price is None:
            continue
        results[leg.role] = _money(
            _result(plan.quantity, entry, exit_price, fee_rate, entry_fee),
            quote_usdt,
            balance_usdt,
        )
    stop, target = results.get(ExitRole.STOP_LOSS), results.get(ExitRole.TAKE_PROFIT)
    ratio = None
    if stop is not None and target is not None and stop.quote < 0 < target.quote:
        with localcontext(prec=digits(stop.quote, target.quote)):
            ratio = target.quote / -stop.quote
    return ExitFigures(stop, target, ratio)


def _result(
    qty: Decimal, entry: Decimal, exit_price: Decimal, fee_rate: Decimal, entry_fee: bool
) -> Decimal:
    proceeds, cost = mul(qty, exit_price), mul(qty, entry)
    with localcontext(prec=digits(proceeds, cost, fee_rate)):
        fees = fee_rate * (proceeds + (cost if entry_fee else Decimal(0)))
        return proceeds - cost - fees


def _money(quote: Decimal, rate: Decimal | None, balance: Decimal | None) -> Money:
    usdt = mul(quote, rate) if rate is not None else None
    share = None
    if usdt is not None and balance is not None and balance > 0:
        with localcontext(prec=digits(usdt, balance)):
            share = usdt * HUNDRED / balance
    return Money(quote, usdt, share)
