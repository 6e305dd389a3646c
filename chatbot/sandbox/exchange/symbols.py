"""The symbols the simulator lists: exchangeInfo as Binance serves it, plus parsed trading rules.

`chatbot/sandbox/data/exchange_info.json` holds real exchangeInfo objects (the shape and the
BTCUSDT/BNBUSDT/BNBBTC values come from a Spot testnet recording; the other symbols follow
Binance's tick/step conventions for their price level). `market_seed.json` adds what the price
driver needs: a starting price, a daily volatility and a typical 24 h volume.

Some symbols exist for their edge cases: BNBIDR (tick 10, step 1, notional 20 000), XRPTRY
(only the legacy MIN_NOTIONAL and PERCENT_PRICE, with their own avgPriceMins 1 and 0),
LUNAUSDT (status BREAK: no new orders) and FETUSDT (MAX_NUM_ORDERS 2, MAX_NUM_ALGO_ORDERS 1,
MAX_POSITION 1000). The exchange-wide filters live in `exchangeFilters`.

A test may change, on a running simulator, a symbol's status (`catalog.set_status`) and an
exchange filter (`catalog.set_exchange_filter`); exchangeInfo and the order checks both read
the one changed value.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from importlib import resources
from typing import Any

from .wire import ApiError, illegal_chars, invalid_symbol

SYMBOL_STATUSES = ("TRADING", "END_OF_DAY", "HALT", "BREAK", "CANCEL_ONLY")
AVG_PRICE_MINS = 5  # the window of GET /api/v3/avgPrice, whatever the filters use


@dataclass(frozen=True, slots=True)
class PriceRule:
    """PRICE_FILTER: any of the three values at zero disables that part of the rule."""

    min_price: Decimal
    max_price: Decimal
    tick_size: Decimal


@dataclass(frozen=True, slots=True)
class LotRule:
    """LOT_SIZE or MARKET_LOT_SIZE (a zero step or minimum disables that part)."""

    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal


@dataclass(frozen=True, slots=True)
class NotionalRule:
    """NOTIONAL, or the legacy MIN_NOTIONAL (no maximum, one `applyToMarket` flag)."""

    min_notional: Decimal
    max_notional: Decimal | None
    apply_min_to_market: bool
    apply_max_to_market: bool
    avg_price_mins: int


@dataclass(frozen=True, slots=True)
class PercentRule:
    """PERCENT_PRICE_BY_SIDE (or PERCENT_PRICE, where both sides share the multipliers)."""

    bid_up: Decimal
    bid_down: Decimal
    ask_up: Decimal
    ask_down: Decimal
    avg_price_mins: int


@dataclass
class ExchangeRules:
    """The exchange filters (`exchangeFilters`), shared by every symbol of a catalog; None is
    a filter the exchange does not list."""

    max_num_orders: int | None = None
    max_num_algo_orders: int | None = None
    filter_order: tuple[str, ...] = ()


# exchange filterType -> (ExchangeRules attribute, the filter's one JSON field)
EXCHANGE_FILTERS = {
    "EXCHANGE_MAX_NUM_ORDERS": ("max_num_orders", "maxNumOrders"),
    "EXCHANGE_MAX_NUM_ALGO_ORDERS": ("max_num_algo_orders", "maxNumAlgoOrders"),
}


def _exchange_rules(raw_filters: list[dict[str, Any]], rules: ExchangeRules) -> None:
    """Re-read `exchangeFilters` into `rules` in place (specs hold a reference to it)."""
    rules.max_num_orders = rules.max_num_algo_orders = None
    for raw in raw_filters:
        known = EXCHANGE_FILTERS.get(raw["filterType"])
        if known is not None:
            setattr(rules, known[0], int(raw[known[1]]))
    rules.filter_order = tuple(raw["filterType"] for raw in raw_filters)


@dataclass(frozen=True)
class SymbolSpec:
    """One listed symbol: its exchangeInfo object and the rules the engine enforces.

    `rules` holds every parsed filter by filterType; `notional` and `percent` are whichever of
    the current or legacy filter the symbol has. `status` reads the exchangeInfo object, so a
    status changed with `Catalog.set_status` is the one both exchangeInfo and orders see.
    """

    name: str
    base: str
    quote: str
    base_precision: int
    quote_precision: int
    order_types: tuple[str, ...]
    quote_order_qty_market_allowed: bool
    filter_order: tuple[str, ...]
    price: PriceRule | None
    lot: LotRule | None
    market_lot: LotRule | None
    notional: NotionalRule | None
    percent: PercentRule | None
    max_num_orders: int | None
    max_num_algo_orders: int | None
    max_position: Decimal | None
    rules: dict[str, Any]
    exchange: ExchangeRules
    start_price: Decimal
    daily_volatility: Decimal
    volume_24h: Decimal
    info: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.info["status"])

    @cached_property
    def tick(self) -> Decimal:
        """The price grid (8 decimals when the symbol has no PRICE_FILTER tick)."""
        return self.price.tick_size if self.price and self.price.tick_size else Decimal("1e-8")

    @cached_property
    def step(self) -> Decimal:
        """The quantity grid for generated trades and `quoteOrderQty` orders: the coarser of
        LOT_SIZE's and MARKET_LOT_SIZE's steps, so a rounded quantity satisfies both."""
        steps = [r.step_size for r in (self.lot, self.market_lot) if r and r.step_size]
        return max(steps, default=Decimal("1e-8"))

    @property
    def avg_price_mins(self) -> int:
        """The window of `GET /api/v3/avgPrice`: 5 minutes on every symbol. The filters do
        not use it: each compares against its own `avgPriceMins` (see filters.py)."""
        return AVG_PRICE_MINS


def _parse_filters(spec_filters: list[dict[str, Any]]) -> dict[str, Any]:
    """Turn exchangeInfo filter objects into rule objects, keyed by filterType."""
    rules: dict[str, Any] = {}
    for raw in spec_filters:
        kind = raw["filterType"]
        if kind == "PRICE_FILTER":
            rules[kind] = PriceRule(
                Decimal(raw["minPrice"]), Decimal(raw["maxPrice"]), Decimal(raw["tickSize"])
            )
        elif kind in ("LOT_SIZE", "MARKET_LOT_SIZE"):
            rules[kind] = LotRule(
                Decimal(raw["minQty"]), Decimal(raw["maxQty"]), Decimal(raw["stepSize"])
            )
        elif kind == "NOTIONAL":
            rules[kind] = NotionalRule(
                Decimal(raw["minNotional"]),
                Decimal(raw["maxNotional"]),
                bool(raw["applyMinToMarket"]),
                bool(raw["applyMaxToMarket"]),
                int(raw["avgPriceMins"]),
            )
        elif kind == "MIN_NOTIONAL":
            apply = bool(raw["applyToMarket"])
            rules[kind] = NotionalRule(
                Decimal(raw["minNotional"]), None, apply, False, int(raw["avgPriceMins"])
            )
        elif kind == "PERCENT_PRICE_BY_SIDE":
            rules[kind] = PercentRule(
                Decimal(raw["bidMultiplierUp"]),
                Decimal(raw["bidMultiplierDown"]),
                Decimal(raw["askMultiplierUp"]),
                Decimal(raw["askMultiplierDown"]),
                int(raw["avgPriceMins"]),
            )
        elif kind == "PERCENT_PRICE":
            up, down = Decimal(raw["multiplierUp"]), Decimal(raw["multiplierDown"])
            rules[kind] = PercentRule(up, down, up, down, int(raw["avgPriceMins"]))
        elif kind == "MAX_NUM_ORDERS":
            rules[kind] = int(raw["maxNumOrders"])
        elif kind == "MAX_NUM_ALGO_ORDERS":
            rules[kind] = int(raw["maxNumAlgoOrders"])
        elif kind == "MAX_POSITION":
            rules[kind] = Decimal(raw["maxPosition"])
        elif kind in ("TRAILING_DELTA", "MAX_NUM_ORDER_LISTS"):
            rules[kind] = {name: value for name, value in raw.items() if name != "filterType"}
    return rules


def _spec(info: dict[str, Any], seed: dict[str, Any], exchange: ExchangeRules) -> SymbolSpec:
    rules = _parse_filters(info["filters"])
    return SymbolSpec(
        name=info["symbol"],
        base=info["baseAsset"],
        quote=info["quoteAsset"],
        base_precision=int(info["baseAssetPrecision"]),
        quote_precision=int(info["quotePrecision"]),
        order_types=tuple(info["orderTypes"]),
        quote_order_qty_market_allowed=bool(info["quoteOrderQtyMarketAllowed"]),
        filter_order=tuple(f["filterType"] for f in info["filters"]),
        price=rules.get("PRICE_FILTER"),
        lot=rules.get("LOT_SIZE"),
        market_lot=rules.get("MARKET_LOT_SIZE"),
        notional=rules.get("NOTIONAL") or rules.get("MIN_NOTIONAL"),
        percent=rules.get("PERCENT_PRICE_BY_SIDE") or rules.get("PERCENT_PRICE"),
        max_num_orders=rules.get("MAX_NUM_ORDERS"),
        max_num_algo_orders=rules.get("MAX_NUM_ALGO_ORDERS"),
        max_position=rules.get("MAX_POSITION"),
        rules=rules,
        exchange=exchange,
        start_price=Decimal(seed["price"]),
        daily_volatility=Decimal(seed["dailyVolatility"]),
        volume_24h=Decimal(seed["volume24h"]),
        info=info,
    )


def _load_json(name: str) -> Any:
    data = resources.files("chatbot.sandbox").joinpath("data", name).read_text("utf-8")
    return json.loads(data)


class Catalog:
    """The symbols listed on one network (`mainnet` or `testnet`), in exchangeInfo order."""

    def __init__(self, network: str = "mainnet") -> None:
        info = _load_json("exchange_info.json")
        seeds = _load_json("market_seed.json")["symbols"]
        self._top = {k: v for k, v in info.items() if k != "symbols"}
        self.exchange_rules = ExchangeRules()
        _exchange_rules(self._top["exchangeFilters"], self.exchange_rules)
        self._specs: dict[str, SymbolSpec] = {}
        for symbol in info["symbols"]:
            seed = seeds[symbol["symbol"]]
            if network in seed.get("networks", [network]):
                self._specs[symbol["symbol"]] = _spec(symbol, seed, self.exchange_rules)

    def __iter__(self) -> Iterator[SymbolSpec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def get(self, name: str) -> SymbolSpec:
        """The symbol's spec; raises Binance's -1121 for an unknown name."""
        spec = self._specs.get(name)
        if spec is None:
            raise invalid_symbol()
        return spec

    def names(self) -> list[str]:
        return list(self._specs)

    def assets(self) -> list[str]:
        """Every asset of every listed symbol, in first-seen order (account rows)."""
        seen: dict[str, None] = {}
        for spec in self:
            seen.setdefault(spec.base)
            seen.setdefault(spec.quote)
        return list(seen)

    def set_status(self, name: str, status: str) -> None:
        """Change a symbol's trading status (TRADING, END_OF_DAY, HALT, BREAK, CANCEL_ONLY);
        new orders on a symbol that is not TRADING are refused with -2010 "Market is closed."."""
        if status not in SYMBOL_STATUSES:
            raise ValueError(f"status must be one of {SYMBOL_STATUSES}, not {status!r}")
        self.get(name).info["status"] = status

    def set_exchange_filter(self, filter_type: str, **values: int) -> None:
        """Change (or add) an exchange filter on a running simulator, for example
        `catalog.set_exchange_filter("EXCHANGE_MAX_NUM_ORDERS", maxNumOrders=3)`; the value
        is the filter's JSON field as exchangeInfo shows it. The next order is checked
        against it. Raises ValueError for another filter type or field."""
        known = EXCHANGE_FILTERS.get(filter_type)
        if known is None:
            raise ValueError(f"filter_type must be one of {sorted(EXCHANGE_FILTERS)}")
        field = known[1]
        value = values.get(field)
        if set(values) != {field} or not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{filter_type} takes one integer: {field}=...")
        if value < 0:
            raise ValueError(f"{field} cannot be negative")
        raw_filters: list[dict[str, Any]] = self._top["exchangeFilters"]
        for raw in raw_filters:
            if raw["filterType"] == filter_type:
                raw[field] = value
                break
        else:
            raw_filters.append({"filterType": filter_type, field: value})
        _exchange_rules(raw_filters, self.exchange_rules)

    def exchange_info(
        self,
        server_time: int,
        names: list[str] | None = None,
        *,
        status: str | None = None,
        permissions: list[str] | None = None,
        show_permission_sets: bool = True,
    ) -> dict[str, Any]:
        """The exchangeInfo body; `names` restricts it (each must be listed, else -1121), as
        do `status` (symbols in that status) and `permissions` (symbols whose permission
        sets grant one of them). `show_permission_sets=False` empties `permissionSets`."""
        specs = list(self) if names is None else [self.get(n) for n in names]
        if status is not None:
            specs = [spec for spec in specs if spec.status == status]
        if permissions is not None:
            wanted = set(permissions)
            specs = [
                spec
                for spec in specs
                if any(wanted & set(group) for group in spec.info.get("permissionSets", []))
            ]
        body = copy.deepcopy(self._top)
        body["serverTime"] = server_time
        body["symbols"] = [copy.deepcopy(s.info) for s in specs]
        if not show_permission_sets:
            for symbol in body["symbols"]:
                symbol["permissionSets"] = []
        return body


def parse_status_param(raw: str | None) -> str | None:
    """`symbolStatus`: TRADING, HALT or BREAK (the values Binance documents for filtering)."""
    if raw is not None and raw not in ("TRADING", "HALT", "BREAK"):
        raise illegal_chars("symbolStatus", "^(TRADING|HALT|BREAK)$")
    return raw


def parse_symbols_param(raw: str) -> list[str]:
    """`symbols=["BTCUSDT","BNBBTC"]` as Binance reads it; malformed JSON is -1100."""
    legal = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
    try:
        names = json.loads(raw)
    except ValueError:
        raise ApiError(
            -1100, f"Illegal characters found in parameter 'symbols'; legal range is '{legal}'."
        ) from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
        raise ApiError(
            -1100, f"Illegal characters found in parameter 'symbols'; legal range is '{legal}'."
        )
    return names
