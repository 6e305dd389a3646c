"""`chatbot sandbox`: the whole bot offline, chatted with from the terminal.

One process runs the exchange simulator (prices moving), the Bot API emulator, and the real bot
wired to both, with a demo account whose key is already registered. What you type goes to the
bot as a Telegram user's message; the bot's replies, edits, alerts and fills print as they come.
Buttons are numbered: type the number (or `press N`) to press one. Sandbox-only commands:
`price SYMBOL X` moves the simulated market, `wait S` pauses a script, `/quit` (or Ctrl-D) ends.
`--script FILE` runs such lines from a file and prints the transcript, without a terminal.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr

from chatbot.app import running_bot
from chatbot.config import Settings
from chatbot.key_types import KeyType
from chatbot.runtime import runtime
from chatbot.sandbox.botapi import BotApiEmulator, Conversation
from chatbot.sandbox.botapi.models import ChatMessage
from chatbot.sandbox.exchange import ExchangeSimulator

USER_ID = 777
DEMO_KEY = "SandboxDemoKey" + "0" * 50
DEMO_SECRET = "SandboxDemoSecret" + "1" * 47
DEMO_BALANCES = {"USDT": Decimal(10_000), "BTC": Decimal("0.25"), "ETH": Decimal(2)}
BANNER = """binance-chatbot sandbox: simulated Binance exchange at {rest}, Telegram Bot API emulator
at {api}, and the real bot between them. You are a Telegram user with a demo account
(10,000 USDT, 0.25 BTC, 2 ETH) whose key is registered. Try:
  /price BTC ETH
  /price BTC.P            (the perpetual: mark price, funding, open interest)
  /buy BTC 0.001          (then type the Confirm button's number)
  /alert BTC > {above}
Type `price BTCUSDT {above}` to move the market, a button's number to press it, /quit to end."""


class Chat:
    """Prints what the bot does and keeps the buttons of its messages numbered."""

    def __init__(self, conv: Conversation, out: TextIO) -> None:
        self.conv = conv
        self._out = out
        self._buttons: list[tuple[ChatMessage, str]] = []

    async def follow(self) -> None:
        async for event in self.conv.events():
            if event.kind != "delete":
                self.show(event.message, edited=event.kind == "edit")

    def show(self, message: ChatMessage, *, edited: bool = False) -> None:
        head = "(edited) " if edited else ""
        lines = [f"bot: {head}{message.text}"]
        if message.photo:
            path = Path(tempfile.gettempdir()) / f"chatbot-photo-{message.message_id}.png"
            path.write_bytes(message.photo)
            lines.append(f"     (picture saved to {path})")
        labels = []
        for row in message.buttons:
            for button in row:
                self._buttons.append((message, button.text))
                labels.append(f"[{len(self._buttons)}] {button.text}")
        if labels:
            lines.append("     " + "  ".join(labels))
        print("\n".join(lines), file=self._out, flush=True)

    async def press(self, number: int) -> None:
        if not 1 <= number <= len(self._buttons):
            print(f"(no button {number})", file=self._out, flush=True)
            return
        message, text = self._buttons[number - 1]
        query = await self.conv.press(message, text)
        answer = await self.conv.answer(query)
        if answer.text:
            print(f"bot (answer): {answer.text}", file=self._out, flush=True)


@asynccontextmanager
async def sandbox(
    workdir: Path, *, live_prices: bool = True
) -> AsyncIterator[tuple[ExchangeSimulator, BotApiEmulator]]:
    """The simulator, the emulator and the bot running, the demo key registered. Prices move
    by themselves when `live_prices` (a script keeps them still, so its transcript repeats)."""
    sim = ExchangeSimulator(seed=42, random_walk=live_prices, tick_interval=1.0)
    api = BotApiEmulator(token="1000:SANDBOX-TOKEN", bot_username="binance_sandbox_bot")
    await sim.start()
    await api.start()
    sim.add_account(DEMO_KEY, secret=DEMO_SECRET, balances=DEMO_BALANCES)
    settings = Settings(
        _env_file=None,
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_URL=api.url,
        CHATBOT_MASTER_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        CHATBOT_DB=str(workdir / "sandbox.sqlite3"),
        BINANCE_API_URL=sim.rest_url,
        BINANCE_STREAM_URL=sim.stream_url,
        BINANCE_WS_API_URL=sim.ws_api_url,
        BINANCE_FUTURES_API_URL=sim.futures_rest_url,
        BINANCE_FUTURES_STREAM_URL=sim.futures_stream_url,
        CHATBOT_ALLOWED_USERS=str(USER_ID),
    )
    try:
        async with running_bot(settings, poll_timeout=5) as app:
            keys = runtime(app).services.keys
            await keys.register(USER_ID, KeyType.HMAC, SecretStr(DEMO_KEY), SecretStr(DEMO_SECRET))
            yield sim, api
    finally:
        await api.stop()
        await sim.stop()


async def handle(line: str, chat: Chat, sim: ExchangeSimulator, out: TextIO) -> bool:
    """One line typed or scripted; False ends the session."""
    text = line.strip()
    if not text:
        return True
    if text in {"/quit", "quit", "exit"}:
        return False
    words = text.split()
    if text.isdigit() or (words[0] == "press" and len(words) == 2 and words[1].isdigit()):
        await chat.press(int(words[-1]))
    elif words[0] == "wait" and len(words) == 2:
        await asyncio.sleep(float(words[1]))
    elif words[0] == "price" and len(words) == 3:
        _move(sim, words[1].upper(), words[2], out)
    else:
        await chat.conv.send(text)
        await asyncio.sleep(0.3)  # let the reply print before the next line
    return True


def _move(sim: ExchangeSimulator, symbol: str, value: str, out: TextIO) -> None:
    try:
        sim.set_price(symbol, Decimal(value))
    except (InvalidOperation, KeyError, ValueError) as exc:
        print(f"(cannot set {symbol} to {value}: {exc})", file=out, flush=True)
    else:
        print(f"(market: {symbol} now trades at {value})", file=out, flush=True)


async def run(lines: Iterable[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Interactive when `lines` is None (stdin), else run the given lines and return."""
    with tempfile.TemporaryDirectory(prefix="chatbot-sandbox-") as tmp:
        async with sandbox(Path(tmp), live_prices=lines is None) as (sim, api):
            above = (sim.price("BTCUSDT") * Decimal("1.002")).quantize(Decimal(1))
            print(BANNER.format(rest=sim.rest_url, api=api.url, above=above), file=out)
            chat = Chat(api.conversation(api.user(USER_ID, first_name="You")), out)
            follower = asyncio.create_task(chat.follow())
            try:
                source = _stdin_lines() if lines is None else _listed(lines, out)
                async for line in source:
                    if not await handle(line, chat, sim, out):
                        break
                await asyncio.sleep(0.5)
            finally:
                follower.cancel()
    print("sandbox stopped.", file=out, flush=True)
    return 0


async def _listed(lines: Iterable[str], out: TextIO) -> AsyncIterator[str]:
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            print(f"> {line.rstrip()}", file=out, flush=True)
            yield line


async def _stdin_lines() -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:  # Ctrl-D
            return
        yield line


async def run_telegram(settings: Settings, out: TextIO = sys.stdout) -> int:
    """`chatbot sandbox --telegram`: the real Telegram bot (TELEGRAM_BOT_TOKEN) trading on the
    simulator: paper trading from a phone, no Binance account needed. Runs until Ctrl-C."""
    sim = ExchangeSimulator(seed=42, random_walk=True, tick_interval=1.0)
    await sim.start()
    sim.add_account(DEMO_KEY, secret=DEMO_SECRET, balances=DEMO_BALANCES)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with tempfile.TemporaryDirectory(prefix="chatbot-paper-") as tmp:
        paper = settings.model_copy(
            update={
                "binance_api_url": sim.rest_url,
                "binance_stream_url": sim.stream_url,
                "binance_ws_api_url": sim.ws_api_url,
                "binance_futures_api_url": sim.futures_rest_url,
                "binance_futures_stream_url": sim.futures_stream_url,
                "db_path": str(Path(tmp) / "paper.sqlite3"),
                "master_key": SecretStr(base64.urlsafe_b64encode(os.urandom(32)).decode()),
            }
        )
        try:
            async with running_bot(paper):
                print(PAPER_BANNER.format(key=DEMO_KEY, secret=DEMO_SECRET), file=out, flush=True)
                await stop.wait()
        finally:
            await sim.stop()
    return 0


PAPER_BANNER = """Paper trading: your Telegram bot is running against the exchange simulator
(prices move, nothing touches Binance). In a private chat with the bot, register the demo
account with
  /setkey {key} {secret}
(users must be in CHATBOT_ALLOWED_USERS). Ctrl-C stops."""
