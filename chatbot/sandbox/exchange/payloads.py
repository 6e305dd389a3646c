"""Market-data bodies shared by REST and the streams: tickers, book tops, trades, klines.

REST and WebSocket payloads of the same fact are built from the same numbers here, so a
client comparing `/ticker/24hr` with the `@ticker` stream sees one market.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .candles import Candle
from .market import Market, SymbolMarket
from .pricepath import DAY_MS
from .tape import Trade
from .wire import ZERO, fmt


class Rolling:
    """24 h statistics of one symbol at one instant."""

    def __init__(self, market: Market, name: str, now: int) -> None:
        state = market.symbol(name)
        self.symbol = name
        self.now = now
        self.stats: Candle = state.tape.rolling_24h(now)
        self.last: Trade | None = state.tape.trades[-1] if state.tape.trades else None
        self.last_id = self.last.id if self.last else state.last_trade_id
        self.prev_close = state.tape.price_at(now - DAY_MS - 1)
        self.top = market.book(name)

    @property
    def change(self) -> Decimal:
        return self.stats.close - self.stats.open

    @property
    def change_percent(self) -> str:
        if not self.stats.open:
            return "0.000"
        return f"{(self.change / self.stats.open * 100).quantize(Decimal('0.001'))}"

    @property
    def weighted_avg(self) -> Decimal:
        volume = self.stats.volume
        return self.stats.quote_volume / volume if volume else self.stats.close

    @property
    def first_id(self) -> int:
        return self.last_id - self.stats.trades + 1


def ticker_full(roll: Rolling) -> dict[str, Any]:
    """`GET /api/v3/ticker/24hr` (type FULL), fields in the documented order."""
    stats, top = roll.stats, roll.top
    return {
        "symbol": roll.symbol,
        "priceChange": fmt(roll.change),
        "priceChangePercent": roll.change_percent,
        "weightedAvgPrice": fmt(roll.weighted_avg),
        "prevClosePrice": fmt(roll.prev_close),
        "lastPrice": fmt(stats.close),
        "lastQty": fmt(roll.last.qty if roll.last else ZERO),
        "bidPrice": fmt(top.bid),
        "bidQty": fmt(top.bid_qty),
        "askPrice": fmt(top.ask),
        "askQty": fmt(top.ask_qty),
        "openPrice": fmt(stats.open),
        "highPrice": fmt(stats.high),
        "lowPrice": fmt(stats.low),
        "volume": fmt(stats.volume),
        "quoteVolume": fmt(stats.quote_volume),
        "openTime": roll.now - DAY_MS,
        "closeTime": roll.now,
        "firstId": roll.first_id,
        "lastId": roll.last_id,
        "count": stats.trades,
    }


def ticker_mini(roll: Rolling) -> dict[str, Any]:
    """`GET /api/v3/ticker/24hr?type=MINI`."""
    full = ticker_full(roll)
    keys = ("symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume")
    tail = ("openTime", "closeTime", "firstId", "lastId", "count")
    return {key: full[key] for key in (*keys, *tail)}


def price_ticker(market: Market, name: str) -> dict[str, Any]:
    return {"symbol": name, "price": fmt(market.price(name))}


def book_ticker(market: Market, name: str) -> dict[str, Any]:
    top = market.book(name)
    return {
        "symbol": name,
        "bidPrice": fmt(top.bid),
        "bidQty": fmt(top.bid_qty),
        "askPrice": fmt(top.ask),
        "askQty": fmt(top.ask_qty),
    }


# -- stream events ----------------------------------------------------------------------------


def trade_event(state: SymbolMarket, trade: Trade, now: int) -> dict[str, Any]:
    return {
        "e": "trade",
        "E": now,
        "s": state.spec.name,
        "t": trade.id,
        "p": fmt(trade.price),
        "q": fmt(trade.qty),
        "T": trade.time,
        "m": trade.buyer_is_maker,
        "M": True,
    }


def agg_trade_event(state: SymbolMarket, trade: Trade, now: int) -> dict[str, Any]:
    return {
        "e": "aggTrade",
        "E": now,
        "s": state.spec.name,
        "a": state.last_agg_id,
        "p": fmt(trade.price),
        "q": fmt(trade.qty),
        "f": trade.id,
        "l": trade.id,
        "T": trade.time,
        "m": trade.buyer_is_maker,
        "M": True,
    }


def book_ticker_event(market: Market, name: str) -> dict[str, Any]:
    top = market.book(name)
    return {
        "u": top.update_id,
        "s": name,
        "b": fmt(top.bid),
        "B": fmt(top.bid_qty),
        "a": fmt(top.ask),
        "A": fmt(top.ask_qty),
    }


def kline_event(name: str, interval: str, candle: Candle, closed: bool, now: int) -> dict[str, Any]:
    return {"e": "kline", "E": now, "s": name, "k": candle.stream_body(name, interval, closed)}


def mini_ticker_event(roll: Rolling) -> dict[str, Any]:
    stats = roll.stats
    return {
        "e": "24hrMiniTicker",
        "E": roll.now,
        "s": roll.symbol,
        "c": fmt(stats.close),
        "o": fmt(stats.open),
        "h": fmt(stats.high),
        "l": fmt(stats.low),
        "v": fmt(stats.volume),
        "q": fmt(stats.quote_volume),
    }


def ticker_event(roll: Rolling) -> dict[str, Any]:
    stats, top = roll.stats, roll.top
    return {
        "e": "24hrTicker",
        "E": roll.now,
        "s": roll.symbol,
        "p": fmt(roll.change),
        "P": roll.change_percent,
        "w": fmt(roll.weighted_avg),
        "x": fmt(roll.prev_close),
        "c": fmt(stats.close),
        "Q": fmt(roll.last.qty if roll.last else ZERO),
        "b": fmt(top.bid),
        "B": fmt(top.bid_qty),
        "a": fmt(top.ask),
        "A": fmt(top.ask_qty),
        "o": fmt(stats.open),
        "h": fmt(stats.high),
        "l": fmt(stats.low),
        "v": fmt(stats.volume),
        "q": fmt(stats.quote_volume),
        "O": roll.now - DAY_MS,
        "C": roll.now,
        "F": roll.first_id,
        "L": roll.last_id,
        "n": stats.trades,
    }
