"""`python -m chatbot.sandbox.exchange`: run a standalone simulator until interrupted.

Prints the three URLs as environment assignments (paste them into `.env`), and with
`--demo-account` an HMAC API key and secret funded with USDT, BTC, ETH and BNB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import signal
from decimal import Decimal

from .server import ExchangeSimulator

DEMO_BALANCES = {
    "USDT": Decimal(10_000),
    "BTC": Decimal("0.5"),
    "ETH": Decimal(5),
    "BNB": Decimal(20),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chatbot.sandbox.exchange",
        description="A Binance Spot exchange simulator (REST, market streams, WebSocket API).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: the OS picks one)")
    parser.add_argument("--seed", type=int, default=1, help="seed of prices and history")
    parser.add_argument(
        "--random-walk",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="move prices on a timer (default: on)",
    )
    parser.add_argument("--tick-interval", type=float, default=1.0, help="seconds per step")
    parser.add_argument("--network", choices=("mainnet", "testnet"), default="mainnet")
    parser.add_argument(
        "--weight-limit",
        type=int,
        default=6000,
        help="request weight per minute per IP before 429 (Binance: 6000; raise it for load)",
    )
    parser.add_argument(
        "--demo-account", action="store_true", help="create a funded HMAC key and print it"
    )
    return parser.parse_args(argv)


def demo_credentials(seed: int) -> tuple[str, str]:
    """A stable 64-character key and secret for a seed (so `.env` survives restarts)."""
    key = hashlib.sha256(f"sandbox-demo-key:{seed}".encode()).hexdigest()
    secret = hashlib.sha256(f"sandbox-demo-secret:{seed}".encode()).hexdigest()
    return key, secret


async def serve(args: argparse.Namespace) -> None:
    sim = ExchangeSimulator(
        seed=args.seed,
        network=args.network,
        random_walk=args.random_walk,
        tick_interval=args.tick_interval,
    )
    sim.limits.weight_per_minute = args.weight_limit
    await sim.start(args.host, args.port)
    print(f"BINANCE_NETWORK={args.network}")
    print(f"BINANCE_API_URL={sim.rest_url}")
    print(f"BINANCE_STREAM_URL={sim.stream_url}")
    print(f"BINANCE_WS_API_URL={sim.ws_api_url}")
    print(f"BINANCE_FUTURES_API_URL={sim.futures_rest_url}")
    print(f"BINANCE_FUTURES_STREAM_URL={sim.futures_stream_url}")
    if args.demo_account:
        key, secret = demo_credentials(args.seed)
        sim.add_account(key, secret=secret, balances=DEMO_BALANCES)
        print(f"# demo account (HMAC): API key {key}")
        print(f"# demo account (HMAC): secret  {secret}")
    print(f"# control: {sim.rest_url}/_sandbox/state ; Ctrl-C stops", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
