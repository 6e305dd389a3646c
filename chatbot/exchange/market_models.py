"""Typed market data from Binance's public REST endpoints: prices, tickers, the book, trades
and candles. Every amount is a `Decimal` parsed from Binance's string (see models.py, which holds
the account's and orders' records and says why they are plain slotted dataclasses).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Binance's kline intervals; case-sensitive ("1m" is a minute, "1M" a month).
KLINE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h")
KLINE_INTERVALS += ("1d", "3d", "1w", "1M")


@dataclass(slots=True)
class TickerPrice:
    symbol: str
    price: Decimal

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TickerPrice:
        return cls(data["symbol"], Decimal(data["price"]))


@dataclass(slots=True)
class Ticker24h:
    symbol: str
    price_change: Decimal
    price_change_percent: Decimal
    last_price: Decimal
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    volume: Decimal
    quote_volume: Decimal
    bid_price: Decimal
    ask_price: Decimal
    open_time: int
    close_time: int
    count: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ticker24h:
        return cls(
            symbol=data["symbol"],
            price_change=Decimal(data["priceChange"]),
            price_change_percent=Decimal(data["priceChangePercent"]),
            last_price=Decimal(data["lastPrice"]),
            open_price=Decimal(data["openPrice"]),
            high_price=Decimal(data["highPrice"]),
            low_price=Decimal(data["lowPrice"]),
            volume=Decimal(data["volume"]),
            quote_volume=Decimal(data["quoteVolume"]),
            bid_price=Decimal(data.get("bidPrice", "0")),
            ask_price=Decimal(data.get("askPrice", "0")),
            open_time=int(data["openTime"]),
            close_time=int(data["closeTime"]),
            count=int(data["count"]),
        )


@dataclass(slots=True)
class BookTicker:
    symbol: str
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BookTicker:
        return cls(
            data["symbol"],
            Decimal(data["bidPrice"]),
            Decimal(data["bidQty"]),
            Decimal(data["askPrice"]),
            Decimal(data["askQty"]),
        )


@dataclass(slots=True)
class AvgPrice:
    mins: int
    price: Decimal
    close_time: int | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AvgPrice:
        close = data.get("closeTime")
        return cls(int(data["mins"]), Decimal(data["price"]), int(close) if close else None)


@dataclass(slots=True)
class Depth:
    last_update_id: int
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Depth:
        return cls(
            int(data["lastUpdateId"]),
            [(Decimal(p), Decimal(q)) for p, q in data["bids"]],
            [(Decimal(p), Decimal(q)) for p, q in data["asks"]],
        )


@dataclass(slots=True)
class MarketTrade:
    id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time: int
    is_buyer_maker: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MarketTrade:
        return cls(
            int(data["id"]),
            Decimal(data["price"]),
            Decimal(data["qty"]),
            Decimal(data["quoteQty"]),
            int(data["time"]),
            bool(data["isBuyerMaker"]),
        )


@dataclass(slots=True)
class Kline:
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    close_time: int
    quote_volume: Decimal
    trades: int

    @classmethod
    def from_json(cls, row: list[Any]) -> Kline:
        return cls(
            int(row[0]),
            Decimal(row[1]),
            Decimal(row[2]),
            Decimal(row[3]),
            Decimal(row[4]),
            Decimal(row[5]),
            int(row[6]),
            Decimal(row[7]),
            int(row[8]),
        )

    @classmethod
    def from_stream(cls, k: dict[str, Any]) -> Kline:
        """The `k` object of a `<symbol>@kline_<interval>` event (`t T s i f L o c h l v n x q
        V Q B`); whether it is closed (`x`) and its interval (`i`) are the caller's to read."""
        return cls(
            int(k["t"]),
            Decimal(k["o"]),
            Decimal(k["h"]),
            Decimal(k["l"]),
            Decimal(k["c"]),
            Decimal(k["v"]),
            int(k["T"]),
            Decimal(k["q"]),
            int(k["n"]),
        )
