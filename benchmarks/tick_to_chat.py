"""Tick to chat: from the simulator sending a crossing trade to the Bot API emulator receiving
the `sendMessage`, over real sockets, with 100,000 other alerts loaded. With `perpetual`, the
alert is a mark price level on BTCUSDT.P instead: the same trade moves the simulator's mark
price, which its `markPrice@1s` stream publishes at once, through the bot's futures stream.

Everything runs in this process (simulator, emulator, bot): the timestamps are taken in one
clock. The 100,000 background alerts sit far from the price (they never fire); each measured
round arms one alert just above the price, moves the market through it, and waits for the
message.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import sqlite3
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from chatbot.app import running_bot
from chatbot.config import Settings
from chatbot.runtime import runtime
from chatbot.sandbox.botapi import BotApiEmulator
from chatbot.sandbox.exchange import ExchangeSimulator
from chatbot.storage.sqlite import SqliteDatabase as Database

USER = 4242
SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT"]


async def _seed_alerts(path: Path, count: int, prices: dict[str, Decimal]) -> None:
    """Write `count` far-away alerts straight into the database (the bot loads them)."""
    db = await Database.open(path)  # creates the schema
    await db.close()
    rng = random.Random(7)
    now = time.time()
    rows = []
    for i in range(count):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        above = i % 2 == 0
        factor = Decimal(1 + rng.uniform(0.5, 3.0)) if above else Decimal(rng.uniform(0.05, 0.4))
        threshold = (prices[symbol] * factor).quantize(Decimal("0.01"))
        op, user = "≥" if above else "≤", 1000 + i % 5000
        direction = "above" if above else "below"
        condition = f"{op} {threshold}"
        rows.append((user, user, symbol, direction, str(threshold), condition, 0, 900.0, now))
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO alerts (user_id, chat_id, symbol, direction, threshold, condition, "
            "repeat, cooldown, state, created_at) VALUES (?,?,?,?,?,?,?,?,'active',?)",
            rows,
        )


async def measure(
    rounds: int = 200, background: int = 100_000, *, perpetual: bool = False
) -> dict[str, float]:
    sim = ExchangeSimulator(seed=3, random_walk=False)
    api = BotApiEmulator(token="999:BENCH-TOKEN", bot_username="bench_bot")
    await sim.start()
    await api.start()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.sqlite3"
        await _seed_alerts(db_path, background, {s: sim.price(s) for s in SYMBOLS})
        settings = Settings(
            _env_file=None,
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_API_URL=api.url,
            CHATBOT_MASTER_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            CHATBOT_DB=str(db_path),
            BINANCE_API_URL=sim.rest_url,
            BINANCE_STREAM_URL=sim.stream_url,
            BINANCE_WS_API_URL=sim.ws_api_url,
            BINANCE_FUTURES_API_URL=sim.futures_rest_url,
            BINANCE_FUTURES_STREAM_URL=sim.futures_stream_url,
            CHATBOT_ALLOWED_USERS=str(USER),
        )
        async with running_bot(settings, poll_timeout=5) as app:
            latencies = await _rounds(app, sim, api, rounds, perpetual)
    await api.stop()
    await sim.stop()
    latencies.sort()
    return {
        "alerts": float(background),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "rounds": float(len(latencies)),
    }


async def _rounds(app, sim, api, rounds: int, perpetual: bool) -> list[float]:  # type: ignore[no-untyped-def]
    from chatbot.services.alert_kinds import AlertSpec, PriceLevel

    service = runtime(app).services.alerts
    live = runtime(app).alert_feed
    while len(service.book) < 100 or "BTCUSDT" not in live.stream.symbols:  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # the bot loads the alerts in the background
    await asyncio.wait_for(live.stream.settle(), 10)
    service._limit = 10**9
    chats = [api.private_chat(api.user(USER + n, first_name=f"u{n}")).id for n in range(50)]
    latencies = []
    symbol = "BTCUSDT.P" if perpetual else "BTCUSDT"
    sim.futures.set_basis("BTCUSDT", Decimal(0))  # the mark is then the spot price
    price = sim.price("BTCUSDT")
    if perpetual:  # a far alert keeps BTCUSDT on the futures stream, as the 100,000 keep spot's
        await service.create(USER, USER, AlertSpec(symbol, PriceLevel(">", price * 10)))
        await asyncio.wait_for(_settled(live.futures_stream), 10)
    for i in range(rounds):
        threshold = price + Decimal("5")
        chat = chats[i % len(chats)]  # Telegram allows one message a second per chat
        await service.create(chat, chat, AlertSpec(symbol, PriceLevel(">", threshold)))
        seen = len(api.calls)
        start = time.perf_counter()
        sim.set_price("BTCUSDT", threshold + Decimal("0.01"))
        await api.wait_for_call("sendMessage", timeout=10, since=seen)
        latencies.append(time.perf_counter() - start)
        price = threshold + Decimal("0.01")
        await asyncio.sleep(0.02)
    return latencies


async def _settled(stream) -> None:  # type: ignore[no-untyped-def]
    """The stream holds BTCUSDT, and Binance confirmed it."""
    while "BTCUSDT" not in stream.symbols:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await stream.settle()
