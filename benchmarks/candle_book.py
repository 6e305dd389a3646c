"""Candle book: indicator and volume alerts, what a kline event costs and what an alert keeps.

The market: 200 symbols, each followed on five intervals (1m, 5m, 15m, 1h, 4h); 300,000 alerts
spread over them (40 % RSI at six levels, 20 % EMA 20 x 50, 15 % MACD 12/26/9, 10 % Bollinger,
15 % volume spikes at 2x, 3x or 5x; three in ten repeat), every series seeded with 1,000
candles of the simulator's synthetic history. Measured:

- a live update (the candle being formed, `x` false): only volume alerts read it;
- a close (`x` true): every series of the stream takes the candle, one comparison per distinct
  condition; a minute's closes are the 200 symbols' 1m candles (the other intervals close less
  often, each at the same cost per stream);
- memory per alert as `tracemalloc` sees the book keep it before history (a seeded series
  keeps a few hundred bytes: tests/unit/test_candle_book.py), `add`, and seeding one stream
  with 1,000 candles (every series of it computed over them: work the caller spreads out).

Trades never reach this book, so the price alerts' per-tick targets are untouched by it.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc
from dataclasses import replace
from decimal import Decimal

from chatbot.exchange.market_models import Kline
from chatbot.sandbox.exchange.candles import INTERVAL_MS, SyntheticHistory
from chatbot.sandbox.exchange.pricepath import symbol_key
from chatbot.sandbox.exchange.symbols import Catalog
from chatbot.services.alert_kinds import (
    Band,
    Crossing,
    Indicator,
    IndicatorCondition,
    VolumeSpike,
)
from chatbot.services.candle_book import CandleBook, CandleCondition

SYMBOLS = 200
ALERTS = 300_000
INTERVALS = ("1m", "5m", "15m", "1h", "4h")
HISTORY = 1_000
MINUTES = 30
UPDATES_PER_MINUTE = 20
SEED = 20260101
ANCHOR_MS = 1_781_481_600_000


def _condition(rng: random.Random) -> CandleCondition:
    interval = rng.choice(INTERVALS)
    draw = rng.random()
    if draw < 0.40:
        crossing = rng.choice([Crossing.ABOVE, Crossing.BELOW])
        level = Decimal(rng.choice([20, 25, 30, 70, 75, 80]))
        return IndicatorCondition(Indicator.RSI, interval, crossing, (14,), level)
    if draw < 0.60:
        return IndicatorCondition(Indicator.EMA, interval, Crossing.EITHER, (20, 50))
    if draw < 0.75:
        return IndicatorCondition(Indicator.MACD, interval, Crossing.UP, (12, 26, 9))
    if draw < 0.85:
        return IndicatorCondition(Indicator.BB, interval, Crossing.ABOVE, (20,), band=Band.UPPER)
    return VolumeSpike(interval, Decimal(rng.choice([2, 3, 5])))


def _history(interval: str, count: int) -> list[Kline]:
    """BTCUSDT's synthetic candles; every symbol reads the same (the cost does not care)."""
    spec = Catalog("mainnet").get("BTCUSDT")
    history = SyntheticHistory(spec, symbol_key(1, "BTCUSDT"), ANCHOR_MS)
    step = INTERVAL_MS[interval]
    start = ANCHOR_MS - count * step
    return [
        Kline.from_json(history.candle(start + i * step, start + (i + 1) * step).rest_row())
        for i in range(count)
    ]


def run() -> str:
    rng = random.Random(SEED)
    symbols = [f"SYM{i}USDT" for i in range(SYMBOLS)]
    rows = [
        (i + 1, rng.choice(symbols), _condition(rng), rng.random() < 0.3) for i in range(ALERTS)
    ]
    gc.collect()
    tracemalloc.start()
    book = CandleBook()
    for alert_id, symbol, condition, repeat in rows:
        book.add(alert_id, symbol, condition, repeat=repeat)
    kept = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    book = CandleBook()
    started = time.perf_counter()
    for alert_id, symbol, condition, repeat in rows:
        book.add(alert_id, symbol, condition, repeat=repeat)
    add_us = (time.perf_counter() - started) / ALERTS * 1e6
    del rows
    histories = {interval: _history(interval, HISTORY + MINUTES) for interval in INTERVALS}
    seeds = []
    for symbol in symbols:
        for interval in INTERVALS:
            started = time.perf_counter()
            book.seed(symbol, interval, histories[interval][:HISTORY])
            seeds.append(time.perf_counter() - started)
    live, closes = [], []
    fired = 0
    for minute in range(MINUTES):
        candle = histories["1m"][HISTORY + minute]
        for update in range(1, UPDATES_PER_MINUTE + 1):
            partial = replace(candle, volume=candle.volume * update / UPDATES_PER_MINUTE)
            started = time.perf_counter()
            for symbol in symbols:
                fired += len(book.on_kline(symbol, "1m", partial, False, float(minute)))
            live.append((time.perf_counter() - started) / SYMBOLS)
        started = time.perf_counter()
        for symbol in symbols:
            fired += len(book.on_kline(symbol, "1m", candle, True, float(minute)))
        closes.append(time.perf_counter() - started)
    lines = [
        "| alerts | bytes per alert | add | seed a stream (p50 / max) | live update (per "
        "stream) | a minute's 200 closes (p50 / max) | fired |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {ALERTS:,} | {kept / ALERTS:.0f} | {add_us:.1f} µs | "
        f"{statistics.median(seeds) * 1e3:.0f} / {max(seeds) * 1e3:.0f} ms | "
        f"{statistics.median(live) * 1e6:.1f} µs | {statistics.median(closes) * 1e3:.1f} / "
        f"{max(closes) * 1e3:.1f} ms | {fired:,} |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
