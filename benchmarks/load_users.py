"""The simulated users of the load benchmark, and what is tallied while they talk to the bot.

Each user is a Poisson process: the pause before the next command is exponential, so arrivals
are random, never lock-step; a user waits for the reply before thinking of the next command,
as a person does. Bot messages are followed through `BotApiEmulator.listen` (one callback for
every chat, each event stamped as it happens) instead of a waiter per chat: with a thousand
chats, a thousand waiters re-checking on every event would cost more than the bot.

Alerts: a user sets one a fraction of a percent from the price; `PriceMover` moves the prices
and notes, per alert, the tick at which its condition became true, so the time from that tick
to the fired message reaching the chat (tick-to-chat) is measured for every alert.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from chatbot.sandbox.botapi import BotApiEmulator, ChatEvent, ChatMessage, Conversation, TgChat
from chatbot.sandbox.exchange import ExchangeSimulator

SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT"]
# Commands per user per minute: keyed users do everything, keyless ones only what needs no key.
MIX_KEYED = {"price": 2.0, "alert": 0.5, "balance": 0.5, "orders": 0.2, "trade": 0.1}
MIX_KEYLESS = {"price": 2.0, "alert": 0.5}
REPLY_TIMEOUT = 120.0  # a reply later than this counts as unanswered
INTERNAL_ERROR = "Something went wrong"
RATE_LIMITED = "request limit was reached"
ALERT_ID = re.compile(r"#(\d+)")
ALERT_SET = re.compile(r"Alert #(\d+) set")


def on_tick(sim: ExchangeSimulator, symbol: str, value: Decimal) -> Decimal:
    """`value` rounded to the symbol's price tick, as a price the simulator and bot accept."""
    tick = sim.catalog.get(symbol).tick
    return ((value / tick).to_integral_value() * tick).quantize(tick).normalize()


def is_fired(text: str) -> bool:
    return "crossed at" in text or "alerts fired" in text


@dataclass
class Alert:
    chat_id: int
    symbol: str
    above: bool
    threshold: Decimal
    tick: float | None = None  # perf_counter() of the price move that made it due


@dataclass
class Tally:
    """Everything counted during a run; `load.report` turns it into the table."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    unanswered: Counter[str] = field(default_factory=Counter)
    internal_errors: int = 0
    rate_limited_replies: int = 0
    sends: list[float] = field(default_factory=list)  # when each bot message arrived
    chat_sends: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    edits: int = 0
    alerts: dict[int, Alert] = field(default_factory=dict)  # by the bot's alert id
    alert_latencies: list[float] = field(default_factory=list)
    alert_deliveries: Counter[int] = field(default_factory=Counter)
    confirms: int = 0  # Confirm presses sent
    unanswered_presses: Counter[str] = field(default_factory=Counter)  # by the press's answer
    stuck_previews: int = 0  # answered by a new message, the preview left "Sending to Binance"
    start: float = field(default_factory=time.perf_counter)

    @property
    def commands(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def alerts_due(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.tick is not None]

    def undelivered(self) -> int:
        return sum(1 for i, a in self.alerts.items() if a.tick and not self.alert_deliveries[i])

    def duplicate_alerts(self) -> int:
        return sum(n - 1 for n in self.alert_deliveries.values() if n > 1)


def busiest(times: list[float], window: float) -> int:
    """The most of `times` (ascending) that fall in any `window` seconds (a sliding window)."""
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


class ChatFeed:
    """The bot's messages and edits in every chat, stamped on arrival, one queue per chat."""

    def __init__(self, api: BotApiEmulator, tally: Tally) -> None:
        self._tally = tally
        self._queues: dict[int, asyncio.Queue[tuple[float, ChatEvent]]] = {}
        self.answers = api.answered_callbacks  # by callback query id
        api.listen(self._on_event)

    def queue(self, chat_id: int) -> asyncio.Queue[tuple[float, ChatEvent]]:
        return self._queues.setdefault(chat_id, asyncio.Queue())

    def _on_event(self, chat: TgChat, event: ChatEvent) -> None:
        message, now = event.message, time.perf_counter()
        if not message.from_bot:
            return
        if event.kind == "new":
            self._tally.sends.append(now)
            self._tally.chat_sends[chat.id].append(now)
        elif event.kind == "edit":
            self._tally.edits += 1
        if event.kind == "new" and is_fired(message.text):
            self._delivered(message.text, now)
        else:
            self.queue(chat.id).put_nowait((now, event))

    def _delivered(self, text: str, now: float) -> None:
        for match in ALERT_ID.finditer(text):
            alert_id = int(match.group(1))
            self._tally.alert_deliveries[alert_id] += 1
            alert = self._tally.alerts.get(alert_id)
            first = self._tally.alert_deliveries[alert_id] == 1
            if first and alert is not None and alert.tick is not None:
                self._tally.alert_latencies.append(now - alert.tick)


class PriceMover:
    """Moves one symbol at a time by a small random step that reverts to its start price,
    and marks the alerts each move makes due."""

    def __init__(self, sim: ExchangeSimulator, tally: Tally, rng: random.Random) -> None:
        self._sim, self._tally, self._rng = sim, tally, rng
        self._start = {s: sim.price(s) for s in SYMBOLS}

    async def run(self, interval: float, until: float) -> None:
        while time.perf_counter() < until:
            await asyncio.sleep(self._rng.expovariate(1 / interval))
            self.step(self._rng.choice(SYMBOLS))

    def step(self, symbol: str) -> None:
        price, start = self._sim.price(symbol), self._start[symbol]
        drift = float(price / start - 1)
        move = Decimal(str(round(self._rng.gauss(0, 0.002) - 0.2 * drift, 6)))
        new = on_tick(self._sim, symbol, price * (1 + move))
        self._sim.set_price(symbol, new)
        now = time.perf_counter()
        for alert in self._tally.alerts.values():
            crossed = new >= alert.threshold if alert.above else new <= alert.threshold
            if alert.tick is None and alert.symbol == symbol and crossed:
                alert.tick = now


class User:
    """One chat: sends commands at random, waits for each reply, presses Confirm on orders."""

    def __init__(
        self,
        conv: Conversation,
        feed: ChatFeed,
        sim: ExchangeSimulator,
        tally: Tally,
        rng: random.Random,
        *,
        keyed: bool,
    ) -> None:
        self.conv, self._sim, self._tally, self._rng = conv, sim, tally, rng
        self._queue = feed.queue(conv.chat.id)
        self._answers = feed.answers
        self._mix = MIX_KEYED if keyed else MIX_KEYLESS
        self._side = "buy"

    async def run(self, until: float) -> None:
        per_second = sum(self._mix.values()) / 60
        names, weights = list(self._mix), list(self._mix.values())
        while True:
            pause = self._rng.expovariate(per_second)
            if time.perf_counter() + pause >= until:
                return
            await asyncio.sleep(pause)
            await self.command(self._rng.choices(names, weights)[0])

    async def command(self, name: str) -> None:
        symbol = self._rng.choice(SYMBOLS)
        if name == "trade":
            await self._trade()
        elif name == "alert":
            await self._alert(symbol)
        else:
            await self._ask(name, f"/{name} {symbol}" if name == "price" else f"/{name}")

    async def _ask(self, name: str, text: str) -> ChatMessage | None:
        """Send `text` and wait for the bot's next new message; its latency is tallied."""
        self._drain()
        await self.conv.send(text)
        sent = time.perf_counter()
        reply = await self._next(lambda e: e.kind == "new")
        if reply is None:
            self._tally.unanswered[name] += 1
            return None
        self._tally.latencies[name].append(reply[0] - sent)
        self._check(reply[1].message.text)
        return reply[1].message

    async def _alert(self, symbol: str) -> None:
        price, above = self._sim.price(symbol), self._rng.random() < 0.5
        threshold = on_tick(self._sim, symbol, price * Decimal("1.003" if above else "0.997"))
        command = f"/alert {symbol} {'>' if above else '<'} {threshold:f}"
        reply = await self._ask("alert", command)
        match = ALERT_SET.search(reply.text) if reply is not None else None
        if match is not None:
            alert_id = int(match.group(1))
            self._tally.alerts[alert_id] = Alert(self.conv.chat.id, symbol, above, threshold)

    async def _trade(self) -> None:
        side, self._side = self._side, "sell" if self._side == "buy" else "buy"
        preview = await self._ask(side, f"/{side} BTCUSDT 0.001")
        if preview is None or not any("Confirm" in b.text for row in preview.buttons for b in row):
            return
        query_id = await self.conv.press(preview, "Confirm")
        self._tally.confirms += 1
        pressed = time.perf_counter()
        done = await self._next(
            lambda e: (
                e.kind == "new"
                or (
                    e.message.message_id == preview.message_id
                    and "Sending to Binance" not in e.message.text
                )
            )
        )
        if done is None:
            self._tally.unanswered["confirm"] += 1
            answer = self._answers.get(query_id)
            self._tally.unanswered_presses[str(answer.text) if answer else "(no answer)"] += 1
            return
        if done[1].kind == "new":  # an error reply instead of the preview's outcome
            self._tally.stuck_previews += 1
        self._tally.latencies["confirm"].append(done[0] - pressed)
        self._check(done[1].message.text)

    async def _next(self, wanted) -> tuple[float, ChatEvent] | None:  # type: ignore[no-untyped-def]
        """The first event from now on that `wanted` accepts (others are dropped)."""
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                while True:
                    stamped = await self._queue.get()
                    if wanted(stamped[1]):
                        return stamped
        except TimeoutError:
            return None

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    def _check(self, text: str) -> None:
        if INTERNAL_ERROR in text:
            self._tally.internal_errors += 1
        if RATE_LIMITED in text:
            self._tally.rate_limited_replies += 1
