"""`python -m chatbot.sandbox.botapi`: run a standalone Bot API emulator until interrupted.

Prints `TELEGRAM_API_URL` and `TELEGRAM_BOT_TOKEN` as environment assignments, so the bot can
be started against it from another terminal (`chatbot run` with those two set).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from .server import BotApiEmulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chatbot.sandbox.botapi",
        description="A Telegram Bot API emulator for one bot, on HTTP.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: the OS picks one)")
    parser.add_argument("--token", default="123456:TEST-TOKEN", help="the bot's token")
    parser.add_argument("--username", default="binance_test_bot", help="the bot's username")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    api = BotApiEmulator(token=args.token, bot_username=args.username)
    await api.start(host=args.host, port=args.port)
    # Printed once serving and once a signal stops us cleanly: a caller may act on it at once.
    print(f"TELEGRAM_API_URL={api.url}", flush=True)
    print(f"TELEGRAM_BOT_TOKEN={api.token}", flush=True)
    try:
        await stop.wait()
    finally:
        await api.stop()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
