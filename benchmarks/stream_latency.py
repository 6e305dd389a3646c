"""Latency of one trade from the exchange simulator to `MarketStream`'s `on_price`.

An in-process simulator and one `MarketStream` watching one symbol share the event loop, over
a real WebSocket on 127.0.0.1. Each tick is `set_price` (the simulator publishes the trade at
once), then a wait until `on_price` has it; ticks run one at a time, so the figures are the
path's latency (serialization, the simulator's writer task, the socket, our reader, parsing
and the callback), not queueing. The simulator's own work is inside the measurement.

`python -m benchmarks.stream_latency [n]` prints the figures.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from decimal import Decimal

from chatbot.exchange.market_stream.settings import MarketStreamSettings
from chatbot.exchange.market_stream.stream import MarketStream
from chatbot.sandbox.exchange import ExchangeSimulator

SYMBOL = "BTCUSDT"
WARM_UP = 100


async def measure(n: int) -> dict[str, float]:
    """p50/p99/max/mean latency in ms of `n` ticks from `set_price` to `on_price`."""
    sim = ExchangeSimulator(seed=1, random_walk=False)
    await sim.start(host="127.0.0.1", port=0)
    arrived = asyncio.Event()
    received_at = 0.0

    def on_price(symbol: str, price: Decimal, trade_time_ms: int) -> None:
        nonlocal received_at
        received_at = time.perf_counter()
        arrived.set()

    stream = MarketStream(MarketStreamSettings(url=sim.stream_url), on_price=on_price)
    try:
        await stream.start()
        await stream.add(SYMBOL)
        async with asyncio.timeout(10):
            await stream.settle()
        low = sim.price(SYMBOL)
        prices = (low, low * 2)  # both on the tick grid
        latencies: list[float] = []
        for i in range(WARM_UP + n):
            arrived.clear()
            sent_at = time.perf_counter()
            sim.set_price(SYMBOL, prices[i % 2])
            async with asyncio.timeout(5):
                await arrived.wait()
            if i >= WARM_UP:
                latencies.append((received_at - sent_at) * 1000)
    finally:
        await stream.stop()
        await sim.stop()
    latencies.sort()
    return {
        "n": float(n),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max_ms": latencies[-1],
        "mean_ms": statistics.fmean(latencies),
    }


if __name__ == "__main__":
    ticks = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    for name, value in asyncio.run(measure(ticks)).items():
        print(f"{name:8} {value:10.3f}")
