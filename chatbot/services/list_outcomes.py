"""How an order list (OCO, OTOCO) ended, as a type the handlers turn into one message.

Plain functions of Binance's records: which leg is which (`leg_role`), and the list's result in
the quote asset against its entry when the list had one (an OTOCO's working order)."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ListNotice:
    """An order list that ended, told once. `result` is the exit's gain (negative: loss) in
    the quote asset against the entry, None when the list had no filled entry."""

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


def list_result(entry: Order | None, exits: list[Order]) -> Decimal | None:
    """The exits' proceeds against what their quantity cost at the entry's average price (a
    SELL exit after a BUY entry gains when it sells higher; a BUY exit after a SELL entry
    when it buys lower). None without a filled entry or a filled exit."""
    filled = [o for o in exits if o.executed_qty > 0]
    if entry is None or entry.average_price is None or not filled:
        return None
    result = Decimal(0)
    for order in filled:
        at_entry = entry.average_price * order.executed_qty
        gained = order.cumulative_quote_qty - at_entry
        result += gained if order.side == "SELL" else -gained
    return result
