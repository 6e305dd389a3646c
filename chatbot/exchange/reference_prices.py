"""The price each filter compares an order against: Binance's reference price, per filter.

NOTIONAL and MIN_NOTIONAL value a MARKET order, and PERCENT_PRICE / PERCENT_PRICE_BY_SIDE bound
a limit price, by the volume-weighted average price of the last `avgPriceMins` minutes, or by
the last price when `avgPriceMins` is 0. Each filter carries its own minutes, so one symbol can
need two different reference prices; `/api/v3/avgPrice` gives only one of them (its `mins`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from chatbot.exchange.symbol_rules import SymbolRules

# Order types without a limit price fill at market, so the market variants of the rules apply.
MARKET_TYPES = frozenset({"MARKET", "STOP_LOSS", "TAKE_PROFIT"})


@dataclass(frozen=True, slots=True)
class ReferencePrices:
    """Reference prices keyed by filterType ("NOTIONAL", "PERCENT_PRICE_BY_SIDE", ...).

    `default` answers for any filter not listed: `ReferencePrices.same(price)` when one price
    serves every filter (a test, or a symbol whose filters share their minutes).
    """

    by_filter: Mapping[str, Decimal] = field(default_factory=dict)
    default: Decimal | None = None

    @classmethod
    def same(cls, price: Decimal) -> ReferencePrices:
        return cls({}, price)

    @classmethod
    def from_minutes(
        cls, needed: Mapping[str, int], by_minutes: Mapping[int, Decimal]
    ) -> ReferencePrices:
        """Combine `reference_minutes(...)` with the price fetched for each number of minutes."""
        return cls({name: by_minutes[minutes] for name, minutes in needed.items()})

    def of(self, filter_name: str) -> Decimal:
        """The reference price for one filter. A missing, non-positive or non-finite price is a
        caller mistake (ValueError); a float raises TypeError."""
        price = self.by_filter.get(filter_name, self.default)
        if price is None:
            raise ValueError(f"no reference price for {filter_name}")
        if not isinstance(price, Decimal):
            raise TypeError(f"reference price must be a Decimal, not {type(price).__name__}")
        if not price.is_finite() or price <= 0:
            raise ValueError(f"reference price for {filter_name} must be positive, not {price}")
        return price


def reference_minutes(rules: SymbolRules, order_type: str) -> dict[str, int]:
    """The filters that will compare this order against a reference price, each with its
    `avgPriceMins` (0 = the last price). Only these prices need fetching.

    A MARKET order is valued by NOTIONAL / MIN_NOTIONAL where their applyToMarket flags say so;
    an order with a limit price is held to the PERCENT_PRICE bands (its value uses its price).
    """
    needed: dict[str, int] = {}
    if order_type in MARKET_TYPES:
        if (n := rules.notional) and (n.apply_min_to_market or n.apply_max_to_market):
            needed["NOTIONAL"] = n.avg_price_mins
        if (m := rules.min_notional) and m.apply_to_market:
            needed["MIN_NOTIONAL"] = m.avg_price_mins
    else:
        if pp := rules.percent_price:
            needed["PERCENT_PRICE"] = pp.avg_price_mins
        if ps := rules.percent_price_by_side:
            needed["PERCENT_PRICE_BY_SIDE"] = ps.avg_price_mins
    return needed


def filter_minutes(rules: SymbolRules, filter_name: str) -> int | None:
    """The `avgPriceMins` of one of the symbol's filters, None when it has no such filter."""
    record = {
        "NOTIONAL": rules.notional,
        "MIN_NOTIONAL": rules.min_notional,
        "PERCENT_PRICE": rules.percent_price,
        "PERCENT_PRICE_BY_SIDE": rules.percent_price_by_side,
    }.get(filter_name)
    return None if record is None else record.avg_price_mins


def reference_label(rules: SymbolRules, filter_name: str) -> str:
    """How a message names the filter's reference: "the last price" or "the average price"."""
    return "the last price" if filter_minutes(rules, filter_name) == 0 else "the average price"
