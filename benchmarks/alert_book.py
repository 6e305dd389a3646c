"""Alert book: one all-market tick batch against 1,000,000 alerts, beside a linear scan.

The market: 2,000 symbols with prices from 0.0001 to 100,000 (log-uniform), 500 alerts each,
half `above` and half `below`, thresholds 0.5% to 50% away from the price (one in five a repeat
alert), 8 decimals as Binance quotes them. A batch is one tick per symbol; from one batch to the
next each price moves by up to 0.1%, staying within 0.3% of where it started, so the alerts are
live but almost none fires: what is measured is the cost of *not* scanning.

Contenders, on the same batches:
- the book holding the 1,000,000 alerts, and the same book holding 2,000 (one per symbol): a tick
  should cost the same whatever the number of alerts behind it;
- a linear scan: a plain Python loop over each symbol's (threshold, id) lists, comparing Decimals,
  measured on fewer batches since each takes tens of milliseconds.

Memory is what `tracemalloc` sees the 1,000,000-alert book keep (its records, keys and the alert
id ints included) after a bulk load. `add` and `remove` are timed one by one against the full
book, and a last batch where every price has jumped 2% shows what firing costs. The garbage
collector stays on, as in the bot.

`run_moves` puts the move book (`/alert BTC +3% 15m`) through the same market: 200,000 move
alerts over five windows (1m to 1d, so both resolutions of history), each symbol seeded with
flat candles, trades a second apart. A batch within a candle is what most trades cost; the
batch where a new candle starts makes every symbol look at each of its windows again.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc
from dataclasses import dataclass
from decimal import Decimal

from chatbot.exchange.market_models import Kline
from chatbot.services.alert_book import AlertBook, Direction
from chatbot.services.alert_kinds import Move
from chatbot.services.move_book import MoveBook

SYMBOLS = 2_000
ALERTS = 1_000_000
BATCHES = 200
SCAN_BATCHES = 5
ONE_BY_ONE = 20_000
SEED = 20260101

Row = tuple[str, Direction, Decimal]
Batch = list[tuple[str, Decimal]]

TARGET_BATCH_MS = 1.0
TARGET_SPEEDUP = 30.0
TARGET_SCALING = 1.5
TARGET_BYTES = 250.0


@dataclass
class Market:
    symbols: list[str]
    bases: list[float]
    rows: list[Row]  # alert i + 1 is rows[i]
    batches: list[Batch]


def _price(x: float) -> Decimal:
    return Decimal(f"{x:.8f}")


def _market(rng: random.Random) -> Market:
    symbols = [f"C{i:04d}USDT" for i in range(SYMBOLS)]
    bases = [10 ** rng.uniform(-4, 5) for _ in symbols]
    rows: list[Row] = []
    for i in range(ALERTS):
        s = i % SYMBOLS
        away = rng.uniform(0.005, 0.5)
        if i // SYMBOLS % 2:
            rows.append((symbols[s], "above", _price(bases[s] * (1 + away))))
        else:
            rows.append((symbols[s], "below", _price(bases[s] * (1 - away))))
    drift = [0.0] * SYMBOLS
    batches: list[Batch] = []
    for _ in range(BATCHES + 10):
        batch: Batch = []
        for s, symbol in enumerate(symbols):
            drift[s] = min(0.003, max(-0.003, drift[s] + rng.uniform(-0.001, 0.001)))
            batch.append((symbol, _price(bases[s] * (1 + drift[s]))))
        batches.append(batch)
    return Market(symbols, bases, rows, batches)


def _load_traced(market: Market) -> tuple[AlertBook, float]:
    """Bulk-load every alert under tracemalloc; return the book and its bytes per alert."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    book = AlertBook()
    book.add_many(
        (alert_id, symbol, direction, threshold)  # fresh id ints: the book keeps them
        for alert_id, (symbol, direction, threshold) in enumerate(market.rows, start=1)
        if alert_id % 5
    )
    rows = market.rows
    for alert_id in range(5, ALERTS + 1, 5):
        symbol, direction, threshold = rows[alert_id - 1]
        book.add(alert_id, symbol, direction, threshold, repeat=True, cooldown=900.0)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return book, used / len(book)


def _scan_index(market: Market) -> dict[str, tuple[list[tuple[Decimal, int]], ...]]:
    index: dict[str, tuple[list[tuple[Decimal, int]], ...]] = {s: ([], []) for s in market.symbols}
    for alert_id, (symbol, direction, threshold) in enumerate(market.rows, start=1):
        index[symbol][direction == "below"].append((threshold, alert_id))
    return index


def _scan(index: dict[str, tuple[list[tuple[Decimal, int]], ...]], ticks: Batch) -> list[int]:
    fired = []
    for symbol, price in ticks:
        above, below = index[symbol]
        for threshold, alert_id in above:
            if price >= threshold:
                fired.append(alert_id)
        for threshold, alert_id in below:
            if price <= threshold:
                fired.append(alert_id)
    return fired


def _ms(start: int) -> float:
    return (time.perf_counter_ns() - start) / 1e6


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def _one_by_one(book: AlertBook, market: Market) -> tuple[float, float]:
    """µs per `add` and per `remove` of alerts into and out of the full book."""
    rows = market.rows[:ONE_BY_ONE]
    first = 10 * ALERTS
    start = time.perf_counter_ns()
    for alert_id, (symbol, direction, threshold) in enumerate(rows, start=first):
        book.add(alert_id, symbol, direction, threshold)
    add_us = (time.perf_counter_ns() - start) / 1e3 / len(rows)
    start = time.perf_counter_ns()
    for alert_id in range(first, first + len(rows)):
        book.remove(alert_id)
    remove_us = (time.perf_counter_ns() - start) / 1e3 / len(rows)
    return add_us, remove_us


def run() -> str:
    """Build the market, measure, and return the results as a markdown table."""
    started = time.perf_counter()
    market = _market(random.Random(SEED))
    big, bytes_per_alert = _load_traced(market)
    small = AlertBook()
    small.add_many((i + 1, *market.rows[i]) for i in range(SYMBOLS))
    add_us, remove_us = _one_by_one(big, market)

    big_ms: list[float] = []
    small_ms: list[float] = []
    fired = 0
    for n, batch in enumerate(market.batches):  # interleaved, so drift in load hits both alike
        now = 1000.0 + n
        start = time.perf_counter_ns()
        fired += len(big.evaluate_batch(batch, now))
        elapsed = _ms(start)
        start = time.perf_counter_ns()
        small.evaluate_batch(batch, now)
        if n >= 10:  # the first ones warm caches up
            big_ms.append(elapsed)
            small_ms.append(_ms(start))

    index = _scan_index(market)
    scan_ms: list[float] = []
    scan_fired = 0
    for batch in market.batches[-SCAN_BATCHES:]:
        start = time.perf_counter_ns()
        scan_fired += len(_scan(index, batch))
        scan_ms.append(_ms(start))

    jump = [  # every price 2% away from where it started: the alerts within 2% fire
        (symbol, _price(base * (1.02 if s % 2 else 0.98)))
        for s, (symbol, base) in enumerate(zip(market.symbols, market.bases, strict=True))
    ]
    start = time.perf_counter_ns()
    jump_fired = len(big.evaluate_batch(jump, 1e6))
    jump_ms = _ms(start)

    big_med, small_med, scan_med = (statistics.median(x) for x in (big_ms, small_ms, scan_ms))
    speedup = scan_med / big_med
    scaling = big_med / small_med

    def row(what: str, target: str, measured: str, met: bool | None = None) -> str:
        verdict = "" if met is None else ("yes" if met else "**no**")
        return f"| {what} | {target} | {measured} | {verdict} |"

    lines = [
        f"{ALERTS:,} alerts over {SYMBOLS:,} symbols, a batch = {SYMBOLS:,} ticks; "
        f"book: median of {len(big_ms)} batches, scan: median of {SCAN_BATCHES}.\n",
        "| measure | target | measured | met |",
        "|---|---|---|---|",
        row("batch, 1M alerts: median", f"≤ {TARGET_BATCH_MS:g} ms", f"{big_med:.3f} ms",
            big_med <= TARGET_BATCH_MS),
        row("batch, 1M alerts: p99", f"≤ {TARGET_BATCH_MS:g} ms", f"{_p99(big_ms):.3f} ms",
            _p99(big_ms) <= TARGET_BATCH_MS),
        row("batch, 2,000 alerts: median (p99)", "", f"{small_med:.3f} ms ({_p99(small_ms):.3f})"),
        row("1M-alert batch / 2,000-alert batch", f"≤ {TARGET_SCALING:g}x", f"{scaling:.2f}x",
            scaling <= TARGET_SCALING),
        row("linear scan of 1M alerts: median", "", f"{scan_med:.1f} ms"),
        row("speed-up over the scan", f"≥ {TARGET_SPEEDUP:g}x", f"{speedup:,.0f}x",
            speedup >= TARGET_SPEEDUP),
        row("memory per active alert (tracemalloc)", f"≤ {TARGET_BYTES:g} B",
            f"{bytes_per_alert:.0f} B", bytes_per_alert <= TARGET_BYTES),
        row("`add` one by one, into 1M", "", f"{add_us:.2f} µs"),
        row("`remove` one by one, from 1M", "", f"{remove_us:.2f} µs"),
        row("alerts fired in those batches: book, scan", "", f"{fired}, {scan_fired}"),
        row(f"one batch after a 2% jump, 1M alerts ({jump_fired:,} fire)", "",
            f"{jump_ms:.1f} ms ({jump_ms * 1e3 / max(jump_fired, 1):.2f} µs per fired alert)"),
        "",
        f"Whole benchmark: {time.perf_counter() - started:.1f} s.",
    ]  # fmt: skip
    return "\n".join(lines)


# -- move alerts ---------------------------------------------------------------------------------

MOVE_ALERTS = 200_000  # 100 per symbol
MOVE_WINDOWS = (60, 900, 3600, 4 * 3600, 86_400)  # 1m to 1d: both resolutions of history
MOVE_BATCHES = 300  # one trade per symbol each, a second apart: five candle changes among them
ROUND_PCTS = ("0.5", "1", "1.5", "2", "2.5", "3", "4", "5", "7.5", "10", "15", "20")
MINUTE_MS = 60_000
T0_MS = 1_800_000_000_000 // (15 * MINUTE_MS) * (15 * MINUTE_MS)


def _move_book(market: Market, rng: random.Random) -> tuple[MoveBook, float]:
    """MOVE_ALERTS alerts, 0.5% to 20% up or down (the round numbers people type) over
    MOVE_WINDOWS, on a flat history of each symbol's price (seeded from candles as the service
    will); bytes per alert traced."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    book = MoveBook()
    for i in range(MOVE_ALERTS):
        pct = Decimal(rng.choice(ROUND_PCTS)) * (1 if i % 2 else -1)  # a new object each
        window = MOVE_WINDOWS[i // SYMBOLS % len(MOVE_WINDOWS)]
        book.add(i + 1, market.symbols[i % SYMBOLS], Move(pct, window), repeat=not i % 5)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    for symbol, base in zip(market.symbols, market.bases, strict=True):
        close = _price(base)
        for interval, minutes in (("1m", 1), ("15m", 15)):
            step = minutes * MINUTE_MS
            book.seed(symbol, interval, [
                Kline(T0_MS - n * step, close, close, close, close, Decimal(1),
                      T0_MS - (n - 1) * step - 1, close, 1)
                for n in range(300, 0, -1)
            ])  # fmt: skip
    return book, used / len(book)


def run_moves() -> str:
    """The move book under the same market: per-batch cost with MOVE_ALERTS move alerts."""
    rng = random.Random(SEED + 1)
    market = _market(random.Random(SEED))
    book, bytes_per_alert = _move_book(market, rng)
    steady: list[float] = []
    boundary: list[float] = []
    fired = 0
    for n in range(MOVE_BATCHES):
        time_ms = T0_MS + n * 1000
        batch = market.batches[n % len(market.batches)]
        start = time.perf_counter_ns()
        for symbol, price in batch:
            fired += len(book.on_trade(symbol, price, time_ms))
        elapsed = _ms(start)
        if n >= 10:
            (boundary if n % 60 == 0 else steady).append(elapsed)
    med, p99 = statistics.median(steady), _p99(steady)

    def row(what: str, target: str, measured: str, met: bool | None = None) -> str:
        verdict = "" if met is None else ("yes" if met else "**no**")
        return f"| {what} | {target} | {measured} | {verdict} |"

    windows = ", ".join(f"{w // 60}m" if w < 3600 else f"{w // 3600}h" for w in MOVE_WINDOWS)
    lines = [
        f"{MOVE_ALERTS:,} move alerts over {SYMBOLS:,} symbols, windows {windows}; a batch = "
        f"{SYMBOLS:,} trades a second apart; median of {len(steady)} batches within a candle.\n",
        "| measure | target | measured | met |",
        "|---|---|---|---|",
        row("batch within a candle: median", f"≤ {TARGET_BATCH_MS:g} ms", f"{med:.3f} ms",
            med <= TARGET_BATCH_MS),
        row("batch within a candle: p99", f"≤ {TARGET_BATCH_MS:g} ms", f"{p99:.3f} ms",
            p99 <= TARGET_BATCH_MS),
        row(f"batch on a new candle (every symbol's full look): median of {len(boundary)}", "",
            f"{statistics.median(boundary):.2f} ms"),
        row("memory per move alert (tracemalloc)", "", f"{bytes_per_alert:.0f} B"),
        row("alerts fired in those batches", "", f"{fired}"),
    ]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
    print()
    print(run_moves())
