"""USDT-M perpetual contracts: which spot symbols have one, their filters, `exchangeInfo`.

The contracts are those of the simulator's USDT spot pairs that Binance lists as USDT-M
perpetuals under the same name (SHIB and PEPE trade as 1000SHIBUSDT / 1000PEPEUSDT there, so
they are left out, as are stablecoins and pairs in BREAK). Tick and step sizes are Binance's,
written as Binance prints them: the decimals of `tickSize` are the contract's
`pricePrecision`, those of `stepSize` its `quantityPrecision` (how REST formats prices and
quantities). `minPrice` is one tick and `maxPrice` a hundred times the spot starting price,
rounded to the tick: a stated choice (Binance's bounds are per contract and move rarely).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..candles import round_to_tick
from ..symbols import Catalog, SymbolSpec
from ..wire import fmt, invalid_symbol

# name: (tickSize, stepSize, LOT_SIZE maxQty, MARKET_LOT_SIZE maxQty, MIN_NOTIONAL notional)
_TABLE: dict[str, tuple[str, str, str, str, str]] = {
    "BTCUSDT": ("0.10", "0.001", "1000", "120", "100"),
    "ETHUSDT": ("0.01", "0.001", "10000", "2000", "20"),
    "BNBUSDT": ("0.010", "0.01", "100000", "2000", "5"),
    "SOLUSDT": ("0.0100", "1", "1000000", "5000", "5"),
    "XRPUSDT": ("0.0001", "0.1", "10000000", "2000000", "5"),
    "DOGEUSDT": ("0.000010", "1", "50000000", "30000000", "5"),
    "ADAUSDT": ("0.00010", "1", "10000000", "2000000", "5"),
    "TRXUSDT": ("0.00001", "1", "10000000", "5000000", "5"),
    "LINKUSDT": ("0.001", "0.01", "100000", "20000", "20"),
    "AVAXUSDT": ("0.0010", "1", "1000000", "10000", "5"),
    "DOTUSDT": ("0.001", "0.1", "1000000", "50000", "5"),
    "LTCUSDT": ("0.01", "0.001", "100000", "5000", "20"),
    "BCHUSDT": ("0.01", "0.001", "10000", "850", "20"),
    "UNIUSDT": ("0.0010", "1", "1000000", "50000", "5"),
    "NEARUSDT": ("0.0010", "1", "1000000", "150000", "5"),
    "ATOMUSDT": ("0.001", "0.01", "1000000", "20000", "5"),
    "SUIUSDT": ("0.000100", "0.1", "10000000", "400000", "5"),
    "TONUSDT": ("0.0001", "0.1", "1000000", "200000", "5"),
}
PERPETUAL_DELIVERY = 4133404800000  # Binance's deliveryDate for perpetuals (2100-12-25)
ORDER_TYPES = [
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
]
TIME_IN_FORCE = ["GTC", "IOC", "FOK", "GTX", "GTD"]


def _places(text: str) -> int:
    exponent = Decimal(text).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass(frozen=True)
class Contract:
    """One perpetual: its spot twin (the price source) and its own grid."""

    spot: SymbolSpec
    tick_text: str
    step_text: str
    max_qty: str
    market_max_qty: str
    min_notional: str

    @property
    def name(self) -> str:
        return self.spot.name

    @property
    def tick(self) -> Decimal:
        return Decimal(self.tick_text)

    @property
    def step(self) -> Decimal:
        return Decimal(self.step_text)

    @property
    def price_precision(self) -> int:
        return _places(self.tick_text)

    @property
    def qty_precision(self) -> int:
        return _places(self.step_text)

    def price(self, value: Decimal) -> str:
        """A price as futures REST prints it (pricePrecision decimals)."""
        return fmt(value, self.price_precision)

    def qty(self, value: Decimal) -> str:
        return fmt(value, self.qty_precision)

    def symbol_info(self, onboard_ms: int) -> dict[str, Any]:
        """The contract's element of `/fapi/v1/exchangeInfo`'s `symbols`."""
        spec = self.spot
        max_price = round_to_tick(spec.start_price * 100, self.tick)
        return {
            "symbol": self.name,
            "pair": self.name,
            "contractType": "PERPETUAL",
            "deliveryDate": PERPETUAL_DELIVERY,
            "onboardDate": onboard_ms,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": spec.info["baseAsset"],
            "quoteAsset": "USDT",
            "marginAsset": "USDT",
            "pricePrecision": self.price_precision,
            "quantityPrecision": self.qty_precision,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "settlePlan": 0,
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": self.tick_text,
                    "maxPrice": self.price(max_price),
                    "tickSize": self.tick_text,
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": self.step_text,
                    "maxQty": self.max_qty,
                    "stepSize": self.step_text,
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": self.step_text,
                    "maxQty": self.market_max_qty,
                    "stepSize": self.step_text,
                },
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": self.min_notional},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": "1.0500",
                    "multiplierDown": "0.9500",
                    "multiplierDecimal": "4",
                },
            ],
            "orderTypes": list(ORDER_TYPES),
            "timeInForce": list(TIME_IN_FORCE),
        }


class Contracts:
    """The perpetuals of one simulator, by name, in the spot catalog's order."""

    def __init__(self, catalog: Catalog) -> None:
        self._by_name = {
            spec.name: Contract(spec, *_TABLE[spec.name])
            for spec in catalog
            if spec.name in _TABLE and spec.status == "TRADING"
        }

    def __iter__(self) -> Iterator[Contract]:
        return iter(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str | None) -> Contract:
        """The contract; Binance's -1121 "Invalid symbol." for anything else (a spot-only
        pair such as ETHBTC included)."""
        contract = self._by_name.get(name or "")
        if contract is None:
            raise invalid_symbol()
        return contract

    def exchange_info(
        self, now: int, rate_limits: list[dict[str, Any]], onboard_ms: int
    ) -> dict[str, Any]:
        """`GET /fapi/v1/exchangeInfo`: every contract, the announced limits, the assets."""
        return {
            "timezone": "UTC",
            "serverTime": now,
            "futuresType": "U_MARGINED",
            "rateLimits": rate_limits,
            "exchangeFilters": [],
            "assets": [
                {"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"},
            ],
            "symbols": [contract.symbol_info(onboard_ms) for contract in self],
        }
