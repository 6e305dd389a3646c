"""How an order list (OCO, OTOCO) ended, as a type the handlers turn into one message.

Plain functions of Binance's records: which leg is which (`leg_role`), and the list's result in
the quote asset against its entry when the list had one (an OTOCO's working order), net of the
fees Binance charged in the symbol's two assets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from chatbot.exchange.models import Order

_TAKE_PROFIT_TYPES = frozenset({"LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
_STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT"})


class LegRole(StrEnum):
    ENTRY = "entry"  # an OTO list's working order
    TAKE_PROFIT = "take-profit"
    STOP_LOSS = "stop-loss"
    OTHER = "order"


def leg_role(order: Order, working_order_id: int | None) -> LegRole:
    """What a leg is for: an OCO's limit-maker leg is its take-profit (the order that fills
    at a better price than the last), a stop leg its stop-loss."""
    if order.order_id == working_order_id:
        return LegRole.ENTRY
    if order.type in _TAKE_PROFIT_TYPES:
        return LegRole.TAKE_PROFIT
    if order.type in _STOP_TYPES:
        return LegRole.STOP_LOSS
    return LegRole.OTHER


@dataclass(frozen=True, slots=True)
class ListLegOutcome:
    role: LegRole
    order: Order  # the leg's final state
    fees: Mapping[str, Decimal] = field(default_factory=dict)  # by asset; empty when unread


@dataclass(frozen=True, slots=True)
class ListNotice:
    """An order list that ended, told once. `result` is the exits' gain (negative: loss) in
    the quote asset against the entry, after fees, None when the list had no filled entry."""

    user_id: int
    symbol: str
    base_asset: str
    quote_asset: str
    order_list_id: int
    contingency: str  # OCO | OTO
    legs: tuple[ListLegOutcome, ...]
    result: Decimal | None

    @property
    def exits(self) -> tuple[ListLegOutcome, ...]:
        return tuple(leg for leg in self.legs if leg.role is not LegRole.ENTRY)


def list_result(
    entry: ListLegOutcome | None, exits: list[ListLegOutcome], base: str, quote: str
) -> Decimal | None:
    """What the exits brought against what the entry cost, fees included: the figure the
    preview called the gain at the target or the loss at the stop. None without a filled
    entry or a filled exit. Fees in a third asset (BNB) are not counted."""
    filled = [leg for leg in exits if leg.order.executed_qty > 0]
    if entry is None or entry.order.executed_qty <= 0 or not filled:
        return None
    if entry.order.side == "BUY":
        return _sold_against_bought(entry, filled, base, quote)
    return _bought_back(entry, filled, quote)


def _sold_against_bought(
    entry: ListLegOutcome, exits: list[ListLegOutcome], base: str, quote: str
) -> Decimal:
    """A BUY entry cost its quote amount (plus any fee in the quote asset); its fee in the base
    asset left fewer coins, so an exit that sells all the coins received carries the whole
    cost, one that sells part a share of it. Each SELL exit brings its quote amount less its
    fee."""
    zero = Decimal(0)
    received = entry.order.executed_qty - entry.fees.get(base, zero)
    cost = entry.order.cumulative_quote_qty + entry.fees.get(quote, zero)
    result = zero
    for leg in exits:
        share = min(Decimal(1), leg.order.executed_qty / received) if received > 0 else 1
        result += leg.order.cumulative_quote_qty - leg.fees.get(quote, zero) - cost * share
    return result


def _bought_back(entry: ListLegOutcome, exits: list[ListLegOutcome], quote: str) -> Decimal:
    """A SELL entry brought its quote amount less its fee; each BUY exit spends its quote
    amount on a share of the coins sold."""
    zero = Decimal(0)
    brought = entry.order.cumulative_quote_qty - entry.fees.get(quote, zero)
    result = zero
    for leg in exits:
        share = min(Decimal(1), leg.order.executed_qty / entry.order.executed_qty)
        result += brought * share - leg.order.cumulative_quote_qty
    return result
