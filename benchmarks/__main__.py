"""Run every benchmark and print its table: `python -m benchmarks` (what `make bench` does)."""

from __future__ import annotations

import asyncio
import platform
import sys

from benchmarks import signed_calls


async def main() -> int:
    print(
        f"# binance-chatbot benchmarks ({platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()})\n"
    )
    print("## Signed GET /api/v3/account against the simulator (own process)\n")
    print(signed_calls.table(await signed_calls.run()))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
