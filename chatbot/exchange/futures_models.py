"""Typed market data from Binance's USDⓈ-M futures REST endpoints and the mark-price stream.

Every amount is a `Decimal` parsed from Binance's string, as for spot (see market_models.py).
Where a futures answer has the spot shape, the spot record is reused rather than copied: a
futures trade (`/fapi/v1/trades`) is a `MarketTrade`, a futures candle (`/fapi/v1/klines`) a
`Kline`, a last price (`/fapi/v1/ticker/price`) a `TickerPrice`.

Rates (`funding_rate`, `last_funding_rate`, `interest_rate`) are fractions as Binance sends
them: 0.0001 is 0.01 % per funding period; the chat shows them as percentages.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

PERPETUAL = "PERPETUAL"


def _decimal_or_none(value: Any) -> Decimal | None:
    """Binance sends "" for a field that does not apply (a delivery contract's funding rate)."""
    return None if value in (None, "") else Decimal(value)


@dataclass(slots=True, frozen=True)
class FuturesContract:
    """One contract of `/fapi/v1/exchangeInfo`: what the chat needs to name it and show its
    prices (`tick_size` from PRICE_FILTER; None when Binance sends no such filter)."""

    symbol: str
    pair: str
    contract_type: str  # PERPETUAL, CURRENT_QUARTER, NEXT_QUARTER, ...
    status: str  # TRADING, SETTLING, PENDING_TRADING, ...
    base_asset: str
    quote_asset: str
    price_precision: int
    quantity_precision: int
    tick_size: Decimal | None

    @property
    def is_perpetual(self) -> bool:
        return self.contract_type == PERPETUAL

    @property
    def is_trading(self) -> bool:
        return self.status == "TRADING"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FuturesContract:
        price_filter = next(
            (f for f in data.get("filters", ()) if f.get("filterType") == "PRICE_FILTER"), None
        )
        return cls(
            symbol=data["symbol"],
            pair=data.get("pair", data["symbol"]),
            contract_type=data.get("contractType", ""),
            status=data["status"],
            base_asset=data["baseAsset"],
            quote_asset=data["quoteAsset"],
            price_precision=int(data["pricePrecision"]),
            quantity_precision=int(data["quantityPrecision"]),
            tick_size=Decimal(price_filter["tickSize"]) if price_filter else None,
        )


@dataclass(slots=True, frozen=True)
class FuturesExchangeInfo:
    """`/fapi/v1/exchangeInfo`: the contracts by symbol and the futures `rateLimits` (which
    the futures weight governor adopts: Binance counts futures weight apart from spot)."""

    server_time: int
    rate_limits: list[dict[str, Any]]
    contracts: dict[str, FuturesContract]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FuturesExchangeInfo:
        contracts = (FuturesContract.from_json(item) for item in data.get("symbols", ()))
        return cls(
            server_time=int(data.get("serverTime", 0)),
            rate_limits=list(data.get("rateLimits", ())),
            contracts={contract.symbol: contract for contract in contracts},
        )


@dataclass(slots=True, frozen=True)
class FuturesTicker24h:
    """`/fapi/v1/ticker/24hr`: unlike spot's, it carries no best bid and ask."""

    symbol: str
    price_change: Decimal
    price_change_percent: Decimal
    weighted_avg_price: Decimal
    last_price: Decimal
    last_qty: Decimal
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    volume: Decimal
    quote_volume: Decimal
    open_time: int
    close_time: int
    count: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FuturesTicker24h:
        return cls(
            symbol=data["symbol"],
            price_change=Decimal(data["priceChange"]),
            price_change_percent=Decimal(data["priceChangePercent"]),
            weighted_avg_price=Decimal(data["weightedAvgPrice"]),
            last_price=Decimal(data["lastPrice"]),
            last_qty=Decimal(data["lastQty"]),
            open_price=Decimal(data["openPrice"]),
            high_price=Decimal(data["highPrice"]),
            low_price=Decimal(data["lowPrice"]),
            volume=Decimal(data["volume"]),
            quote_volume=Decimal(data["quoteVolume"]),
            open_time=int(data["openTime"]),
            close_time=int(data["closeTime"]),
            count=int(data["count"]),
        )


@dataclass(slots=True, frozen=True)
class PremiumIndex:
    """`/fapi/v1/premiumIndex`: mark and index price and funding. `last_funding_rate` and
    `interest_rate` are None, `next_funding_time` 0, for a contract without funding."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    estimated_settle_price: Decimal
    last_funding_rate: Decimal | None
    interest_rate: Decimal | None
    next_funding_time: int  # ms
    time: int  # ms

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PremiumIndex:
        return cls(
            symbol=data["symbol"],
            mark_price=Decimal(data["markPrice"]),
            index_price=Decimal(data["indexPrice"]),
            estimated_settle_price=Decimal(data["estimatedSettlePrice"]),
            last_funding_rate=_decimal_or_none(data.get("lastFundingRate")),
            interest_rate=_decimal_or_none(data.get("interestRate")),
            next_funding_time=int(data.get("nextFundingTime") or 0),
            time=int(data["time"]),
        )


@dataclass(slots=True, frozen=True)
class FundingRate:
    """One settled funding of `/fapi/v1/fundingRate`; `mark_price` is the mark price it was
    settled at (None in Binance's oldest records, which have none)."""

    symbol: str
    funding_rate: Decimal
    funding_time: int  # ms
    mark_price: Decimal | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FundingRate:
        return cls(
            symbol=data["symbol"],
            funding_rate=Decimal(data["fundingRate"]),
            funding_time=int(data["fundingTime"]),
            mark_price=_decimal_or_none(data.get("markPrice")),
        )


@dataclass(slots=True, frozen=True)
class OpenInterest:
    """`/fapi/v1/openInterest`: open contracts, counted in the base asset."""

    symbol: str
    open_interest: Decimal
    time: int  # ms

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OpenInterest:
        return cls(data["symbol"], Decimal(data["openInterest"]), int(data["time"]))


@dataclass(slots=True, frozen=True)
class MarkPriceUpdate:
    """A `<symbol>@markPrice` (or `@markPrice@1s`) stream event (`e E s p i P r T`)."""

    symbol: str
    event_time: int  # ms
    mark_price: Decimal
    index_price: Decimal
    estimated_settle_price: Decimal
    funding_rate: Decimal | None
    next_funding_time: int  # ms

    @classmethod
    def from_stream(cls, data: dict[str, Any]) -> MarkPriceUpdate:
        return cls(
            symbol=data["s"],
            event_time=int(data["E"]),
            mark_price=Decimal(data["p"]),
            index_price=Decimal(data["i"]),
            estimated_settle_price=Decimal(data["P"]),
            funding_rate=_decimal_or_none(data.get("r")),
            next_funding_time=int(data.get("T") or 0),
        )
