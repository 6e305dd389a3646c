"""A symbol's trading rules as Binance's exchangeInfo states them, parsed into typed records.

Everything is `Decimal` parsed from Binance's strings. A limit of 0 disables that one rule, as
Binance documents; `filters.py` and `rule_checks.py` apply the rules to orders.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class PriceFilter:
    min_price: Decimal
    max_price: Decimal
    tick_size: Decimal


@dataclass(frozen=True, slots=True)
class LotSize:
    """LOT_SIZE, or MARKET_LOT_SIZE (same shape; applies to market orders only)."""

    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal


@dataclass(frozen=True, slots=True)
class Notional:
    min_notional: Decimal
    apply_min_to_market: bool
    max_notional: Decimal
    apply_max_to_market: bool
    avg_price_mins: int


@dataclass(frozen=True, slots=True)
class MinNotional:
    """The legacy MIN_NOTIONAL filter, which some symbols still carry."""

    min_notional: Decimal
    apply_to_market: bool
    avg_price_mins: int


@dataclass(frozen=True, slots=True)
class PercentPrice:
    multiplier_up: Decimal
    multiplier_down: Decimal
    avg_price_mins: int


@dataclass(frozen=True, slots=True)
class PercentPriceBySide:
    bid_multiplier_up: Decimal
    bid_multiplier_down: Decimal
    ask_multiplier_up: Decimal
    ask_multiplier_down: Decimal
    avg_price_mins: int


@dataclass(frozen=True, slots=True)
class MaxNumOrders:
    """Open orders (algo ones included) an account may have on the symbol, or on the whole
    exchange as EXCHANGE_MAX_NUM_ORDERS; checked against the open orders (`order_limits.py`)."""

    max_num_orders: int


@dataclass(frozen=True, slots=True)
class MaxNumAlgoOrders:
    """Open STOP_LOSS* / TAKE_PROFIT* orders an account may have on the symbol, or on the whole
    exchange as EXCHANGE_MAX_NUM_ALGO_ORDERS."""

    max_num_algo_orders: int


@dataclass(frozen=True, slots=True)
class MaxNumOrderLists:
    """Open order lists (OCO, OTOCO) an account may have on the symbol, or on the whole
    exchange as EXCHANGE_MAX_NUM_ORDER_LISTS."""

    max_num_order_lists: int


@dataclass(frozen=True, slots=True)
class TrailingDelta:
    """The trailing distances allowed, in basis points. Which pair applies depends on the
    order (Binance's filters.md): "above" for STOP_LOSS* BUY and TAKE_PROFIT* SELL (they
    trail a price that rises to the trigger), "below" for STOP_LOSS* SELL and TAKE_PROFIT*
    BUY; `exit_checks.trailing_bounds` picks it."""

    min_trailing_above_delta: int
    max_trailing_above_delta: int
    min_trailing_below_delta: int
    max_trailing_below_delta: int


@dataclass(frozen=True, slots=True)
class MaxPosition:
    """The most base asset an account may hold or be buying: free + locked + open BUY orders."""

    max_position: Decimal


# filterType -> (SymbolRules field, record); each record field is the filter's key in camelCase.
_FILTERS: dict[str, tuple[str, type]] = {
    "PRICE_FILTER": ("price_filter", PriceFilter),
    "LOT_SIZE": ("lot_size", LotSize),
    "MARKET_LOT_SIZE": ("market_lot_size", LotSize),
    "NOTIONAL": ("notional", Notional),
    "MIN_NOTIONAL": ("min_notional", MinNotional),
    "PERCENT_PRICE": ("percent_price", PercentPrice),
    "PERCENT_PRICE_BY_SIDE": ("percent_price_by_side", PercentPriceBySide),
    "MAX_NUM_ORDERS": ("max_num_orders", MaxNumOrders),
    "MAX_NUM_ALGO_ORDERS": ("max_num_algo_orders", MaxNumAlgoOrders),
    "MAX_POSITION": ("max_position", MaxPosition),
    "MAX_NUM_ORDER_LISTS": ("max_num_order_lists", MaxNumOrderLists),
    "TRAILING_DELTA": ("trailing_delta", TrailingDelta),
}
_EXCHANGE_FILTERS: dict[str, tuple[str, type]] = {
    "EXCHANGE_MAX_NUM_ORDERS": ("max_num_orders", MaxNumOrders),
    "EXCHANGE_MAX_NUM_ALGO_ORDERS": ("max_num_algo_orders", MaxNumAlgoOrders),
    "EXCHANGE_MAX_NUM_ORDER_LISTS": ("max_num_order_lists", MaxNumOrderLists),
}


def _parse_filter(record: type, raw: dict[str, Any]) -> Any:
    """Binance sends decimals as strings, counts as numbers and flags as booleans."""
    values = []
    for field in fields(record):
        head, *rest = field.name.split("_")
        value = raw[head + "".join(word.title() for word in rest)]
        values.append(Decimal(str(value)) if isinstance(value, str | float) else value)
    return record(*values)


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """One symbol's trading rules; filters the symbol does not have are None."""

    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    base_asset_precision: int
    quote_asset_precision: int
    order_types: tuple[str, ...]
    quote_order_qty_market_allowed: bool
    price_filter: PriceFilter | None = None
    lot_size: LotSize | None = None
    market_lot_size: LotSize | None = None
    notional: Notional | None = None
    min_notional: MinNotional | None = None
    percent_price: PercentPrice | None = None
    percent_price_by_side: PercentPriceBySide | None = None
    max_num_orders: MaxNumOrders | None = None
    max_num_algo_orders: MaxNumAlgoOrders | None = None
    max_position: MaxPosition | None = None
    max_num_order_lists: MaxNumOrderLists | None = None
    trailing_delta: TrailingDelta | None = None
    oco_allowed: bool = False
    oto_allowed: bool = False
    allow_trailing_stop: bool = False

    @classmethod
    def from_exchange_info(cls, symbol_obj: dict[str, Any]) -> SymbolRules:
        """Parse one element of exchangeInfo's `symbols`; unknown filter types are ignored.

        Raises KeyError if a field Binance always sends is missing.
        """
        found = {}
        for raw in symbol_obj.get("filters", []):
            if spec := _FILTERS.get(raw.get("filterType", "")):
                found[spec[0]] = _parse_filter(spec[1], raw)
        return cls(
            symbol=symbol_obj["symbol"],
            status=symbol_obj["status"],
            base_asset=symbol_obj["baseAsset"],
            quote_asset=symbol_obj["quoteAsset"],
            base_asset_precision=int(symbol_obj["baseAssetPrecision"]),
            quote_asset_precision=int(
                symbol_obj.get("quoteAssetPrecision", symbol_obj.get("quotePrecision", 8))
            ),
            order_types=tuple(symbol_obj.get("orderTypes", ())),
            quote_order_qty_market_allowed=bool(symbol_obj.get("quoteOrderQtyMarketAllowed")),
            oco_allowed=symbol_obj.get("ocoAllowed") is True,
            oto_allowed=symbol_obj.get("otoAllowed") is True,
            allow_trailing_stop=symbol_obj.get("allowTrailingStop") is True,
            **found,
        )


@dataclass(frozen=True, slots=True)
class ExchangeFilters:
    """exchangeInfo's `exchangeFilters`: limits over all of an account's symbols together.

    Absent filters are None (Binance lists none on most networks, so the open orders of every
    symbol, an expensive request, are only fetched when one of these exists).
    """

    max_num_orders: MaxNumOrders | None = None
    max_num_algo_orders: MaxNumAlgoOrders | None = None
    max_num_order_lists: MaxNumOrderLists | None = None

    @classmethod
    def from_exchange_info(cls, raw_filters: list[dict[str, Any]]) -> ExchangeFilters:
        """Parse exchangeInfo's `exchangeFilters` list; unknown filter types are ignored."""
        found = {}
        for raw in raw_filters:
            if spec := _EXCHANGE_FILTERS.get(raw.get("filterType", "")):
                found[spec[0]] = _parse_filter(spec[1], raw)
        return cls(**found)

    @property
    def any(self) -> bool:
        """A filter that judges a single new order exists (EXCHANGE_MAX_NUM_ORDER_LISTS only
        matters to a new order list)."""
        return self.max_num_orders is not None or self.max_num_algo_orders is not None
