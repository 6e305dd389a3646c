"""Candles for the indicator, candle book and backtest tests: real ones recorded from Binance,
and the exchange simulator's synthetic history (deterministic for a seed)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from chatbot.exchange.market_models import Kline
from chatbot.sandbox.exchange.candles import INTERVAL_MS, SyntheticHistory
from chatbot.sandbox.exchange.pricepath import symbol_key
from chatbot.sandbox.exchange.symbols import Catalog

DATA = Path(__file__).resolve().parent.parent / "data" / "binance_klines_btcusdt_1d.json"
ANCHOR_MS = 1_781_481_600_000  # 2026-06-15 00:00 UTC: the simulator's history ends here


def recorded_btcusdt_daily() -> list[Kline]:
    """13 BTCUSDT daily klines from Binance's Spot testnet (see the file's `_source`)."""
    rows = json.loads(DATA.read_text(encoding="utf-8"))["klines"]
    return [Kline.from_json(row) for row in rows]


def synthetic_klines(
    count: int, interval: str = "1h", *, symbol: str = "BTCUSDT", seed: int = 1
) -> list[Kline]:
    """The simulator's history: the `count` closed `interval` candles before ANCHOR_MS, in the
    shape `GET /api/v3/klines` serves them."""
    spec = Catalog("mainnet").get(symbol)
    history = SyntheticHistory(spec, symbol_key(seed, symbol), ANCHOR_MS)
    step = INTERVAL_MS[interval]
    start = ANCHOR_MS - count * step
    return [
        Kline.from_json(history.candle(start + i * step, start + (i + 1) * step).rest_row())
        for i in range(count)
    ]


def kline(
    open_time: int,
    close: Decimal | str,
    *,
    interval_ms: int = 3_600_000,
    volume: Decimal | str = "1",
    high: Decimal | str | None = None,
    low: Decimal | str | None = None,
) -> Kline:
    """A hand-made candle; open, high and low default to the close."""
    price = Decimal(close)
    return Kline(
        open_time,
        price,
        price if high is None else Decimal(high),
        price if low is None else Decimal(low),
        price,
        Decimal(volume),
        open_time + interval_ms - 1,
        Decimal(0),
        1,
    )
