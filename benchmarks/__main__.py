"""Run every benchmark and print its table: `python -m benchmarks` (what `make bench` does)."""

from __future__ import annotations

import asyncio
import os
import platform
import sys

from benchmarks import (
    alert_book,
    candle_book,
    lean,
    load,
    mixed_alerts,
    replicas,
    signed_calls,
    tick_to_chat,
)


async def main() -> int:
    print(
        f"# binance-chatbot benchmarks ({platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()})\n"
    )
    print("## Signed GET /api/v3/account against the simulator (own process)\n")
    print(signed_calls.table(await signed_calls.run()))
    print("\n## Alert book: 2,000-tick batches (pure Python, one core)\n")
    print(alert_book.run())
    print("\n## Move alerts: 2,000-trade batches (pure Python, one core)\n")
    print(alert_book.run_moves())
    print("\n## Tick to chat: simulator trade -> Bot API emulator sendMessage, real sockets\n")
    result = await tick_to_chat.measure()
    print("| alerts loaded | rounds | p50 | p99 | target p99 |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {result['alerts']:,.0f} | {result['rounds']:.0f} | {result['p50_ms']:.1f} ms "
        f"| {result['p99_ms']:.1f} ms | < 50 ms |"
    )
    print("\n## Mark to chat: the same, as a mark price alert on BTCUSDT.P (futures stream)\n")
    result = await tick_to_chat.measure(perpetual=True)
    print("| alerts loaded | rounds | p50 | p99 |")
    print("|---:|---:|---:|---:|")
    print(
        f"| {result['alerts']:,.0f} | {result['rounds']:.0f} | {result['p50_ms']:.1f} ms "
        f"| {result['p99_ms']:.1f} ms |"
    )
    print("\n## Candle book: indicator and volume alerts on kline events (pure Python)\n")
    print(candle_book.run())
    print("\n## Mixed: 1,000,000 alerts of every kind in one index, 2,000-trade batches\n")
    print(mixed_alerts.run())
    print("\n## Lean: /price latency and memory per alert, the bot in its own process\n")
    print(lean.tables(await lean.measure()))
    users = int(os.environ.get("BENCH_LOAD_USERS", 1000))
    seconds = float(os.environ.get("BENCH_LOAD_SECONDS", 180))
    print(f"\n## Load: {users:,} users for {seconds:.0f} s, bot in its own process, real sockets\n")
    print(load.table(await load.run(users, seconds)))
    users = int(os.environ.get("BENCH_REPLICA_USERS", 300))
    seconds = float(os.environ.get("BENCH_REPLICA_SECONDS", 60))
    print(f"\n## Replicas: the load mix, {users:,} users for {seconds:.0f} s each, webhook mode\n")
    print(replicas.table(*await replicas.measure(users, seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
