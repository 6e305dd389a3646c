"""One million alerts of every kind in one index: does a trade still cost what it cost with
price levels alone?

The market is the alert book benchmark's (2,000 symbols, `alert_book._market`). The index holds
700,000 price levels (that benchmark's first rows), 200,000 moves (0.5% to 20%, windows 1m to 1d,
seeded with flat history) and 100,000 indicator and volume alerts (RSI, EMA, MACD, Bollinger,
volume; 1m to 4h), the way the bot holds them: `AlertIndex.add` of each stored row. A batch is
one trade per symbol through `AlertIndex.on_trade`, the call the market stream's every trade
makes; the same batches go through a price-only index of the same 700,000 levels, and through
the bare `AlertBook.evaluate_batch` whose target (1 ms a batch) the price alerts have. Candle
alerts cost nothing per trade (they are met on kline events: `benchmarks/candle_book.py`).
Memory is what `tracemalloc` sees the index keep for its alerts.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc
from decimal import Decimal

from benchmarks.alert_book import (
    MINUTE_MS,
    MOVE_WINDOWS,
    ROUND_PCTS,
    SEED,
    SYMBOLS,
    T0_MS,
    TARGET_BATCH_MS,
    Market,
    _market,
    _p99,
    _price,
)
from benchmarks.candle_book import _condition
from chatbot.exchange.market_models import Kline
from chatbot.services.alert_index import AlertIndex
from chatbot.services.alert_kinds import Move, to_json
from chatbot.storage.alerts import AlertDirection, AlertRecord, AlertState

PRICE_ALERTS = 700_000
MOVE_ALERTS = 200_000
CANDLE_ALERTS = 100_000
BATCHES = 200


def _record(alert_id: int, symbol: str, kind: str, params: str | None, level: Decimal,
            direction: str, repeat: bool) -> AlertRecord:  # fmt: skip
    return AlertRecord(
        id=alert_id, user_id=alert_id % 10_000, chat_id=alert_id % 10_000, symbol=symbol,
        direction=AlertDirection(direction), threshold=level, condition="", note=None,
        repeat=repeat, cooldown=900.0, state=AlertState.ACTIVE, created_at=0.0, fired_at=None,
        fired_price=None, fire_count=0, kind=kind, params=params,
    )  # fmt: skip


def _rows(market: Market, rng: random.Random, price_only: bool) -> list[AlertRecord]:
    rows = [
        _record(i + 1, symbol, "price", None, level, direction, not i % 5)
        for i, (symbol, direction, level) in enumerate(market.rows[:PRICE_ALERTS])
    ]
    if price_only:
        return rows
    next_id = PRICE_ALERTS + 1
    for i in range(MOVE_ALERTS):
        pct = Decimal(rng.choice(ROUND_PCTS)) * (1 if i % 2 else -1)
        move = Move(pct, MOVE_WINDOWS[i // SYMBOLS % len(MOVE_WINDOWS)])
        rows.append(_record(next_id + i, market.symbols[i % SYMBOLS], "move", to_json(move),
                            pct, "above" if pct > 0 else "below", not i % 5))  # fmt: skip
    next_id += MOVE_ALERTS
    for i in range(CANDLE_ALERTS):
        condition = _condition(rng)
        rows.append(_record(next_id + i, market.symbols[i % SYMBOLS], condition.kind.value,
                            to_json(condition), Decimal(0), "above", False))  # fmt: skip
    return rows


def _index(market: Market, price_only: bool) -> tuple[AlertIndex, float]:
    rows = _rows(market, random.Random(SEED + 2), price_only)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = AlertIndex()
    for row in rows:
        index.add(row)
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del rows
    for symbol, base in zip(market.symbols, market.bases, strict=True):
        close = _price(base)
        for interval, minutes in (("1m", 1), ("15m", 15)):
            step = minutes * MINUTE_MS
            index.moves.seed(symbol, interval, [
                Kline(T0_MS - n * step, close, close, close, close, Decimal(1),
                      T0_MS - (n - 1) * step - 1, close, 1)
                for n in range(300, 0, -1)
            ])  # fmt: skip
    return index, kept / len(index)


def _batches(index: AlertIndex, market: Market) -> tuple[list[float], int]:
    """Each batch's milliseconds (within one candle, a trade a second), and what fired."""
    samples, fired = [], 0
    for n in range(BATCHES):
        time_ms, now = T0_MS + 1000 + n * 250, 1000.0 + n
        batch = market.batches[n % len(market.batches)]
        start = time.perf_counter_ns()
        for symbol, price in batch:
            fired += len(index.on_trade(symbol, price, time_ms, now))
        if n >= 10:
            samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples, fired


def run() -> str:
    market = _market(random.Random(SEED))
    mixed, mixed_bytes = _index(market, price_only=False)
    mixed_ms, mixed_fired = _batches(mixed, market)
    del mixed
    gc.collect()
    prices, price_bytes = _index(market, price_only=True)
    price_ms, _ = _batches(prices, market)
    bare_ms = []
    for n, batch in enumerate(market.batches[:BATCHES]):
        start = time.perf_counter_ns()
        prices.prices.evaluate_batch(batch, 1000.0 + n)
        bare_ms.append((time.perf_counter_ns() - start) / 1e6)
    med = statistics.median(mixed_ms)

    def row(what: str, target: str, measured: str, met: bool | None = None) -> str:
        verdict = "" if met is None else ("yes" if met else "**no**")
        return f"| {what} | {target} | {measured} | {verdict} |"

    lines = [
        f"{PRICE_ALERTS + MOVE_ALERTS + CANDLE_ALERTS:,} alerts ({PRICE_ALERTS:,} price levels, "
        f"{MOVE_ALERTS:,} moves, {CANDLE_ALERTS:,} indicator and volume) over {SYMBOLS:,} "
        f"symbols; a batch = one trade per symbol through `AlertIndex.on_trade`.\n",
        "| measure | target | measured | met |",
        "|---|---|---|---|",
        row("mixed index, batch: median", f"≤ {TARGET_BATCH_MS:g} ms", f"{med:.3f} ms",
            med <= TARGET_BATCH_MS),
        row("mixed index, batch: p99", f"≤ {TARGET_BATCH_MS:g} ms",
            f"{_p99(mixed_ms):.3f} ms", _p99(mixed_ms) <= TARGET_BATCH_MS),
        row("price-only index (700,000), batch: median", "",
            f"{statistics.median(price_ms):.3f} ms"),
        row("bare AlertBook.evaluate_batch (700,000): median", "",
            f"{statistics.median(bare_ms):.3f} ms"),
        row("memory per alert, mixed (tracemalloc)", "", f"{mixed_bytes:.0f} B"),
        row("memory per alert, price levels only", "", f"{price_bytes:.0f} B"),
        row("alerts fired in those batches", "", f"{mixed_fired}"),
    ]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
