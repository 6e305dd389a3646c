"""The market-data requests that spot (`/api/v3`) and USDⓈ-M futures (`/fapi/v1`) share.

Binance gives recent trades and candles the same parameters and the same answer on both
markets; only the path differs (and the weight, which weights.py looks up by path). Both
clients call these, each with its own path, so the parameters are built in one place and a
change to them (a new optional field, a renamed one) reaches both markets at once.
"""

from __future__ import annotations

from chatbot.exchange.market_models import Kline, MarketTrade
from chatbot.exchange.rest import RestTransport


async def recent_trades(
    transport: RestTransport, path: str, symbol: str, limit: int
) -> list[MarketTrade]:
    """The `limit` most recent trades of `symbol` at `path` (`.../trades`), oldest first."""
    data = await transport.public("GET", path, [("symbol", symbol), ("limit", limit)])
    return [MarketTrade.from_json(item) for item in data]


async def candles(
    transport: RestTransport,
    path: str,
    symbol: str,
    interval: str,
    limit: int,
    start_time: int | None = None,
    end_time: int | None = None,
) -> list[Kline]:
    """Candles of `symbol` at `path` (`.../klines`), oldest first. A window bound left None is
    not sent (the transport drops None parameters): Binance then answers the latest candles."""
    params = [
        ("symbol", symbol),
        ("interval", interval),
        ("limit", limit),
        ("startTime", start_time),
        ("endTime", end_time),
    ]
    data = await transport.public("GET", path, params)
    return [Kline.from_json(row) for row in data]
