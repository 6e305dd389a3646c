"""The fuzz tests' harness (tests/e2e/test_input_fuzz.py, test_order_fuzz.py): strategies of chat
text, funded traders, and a way to know the bot is done with an update."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import Application, TypeHandler

from chatbot.sandbox.botapi import BotApiEmulator, Conversation
from chatbot.sandbox.botapi.models import Button, ChatMessage
from chatbot.sandbox.exchange import ExchangeSimulator
from handlers.commands import COMMANDS
from tests.e2e.conftest import ask

GENERIC = "Something went wrong"
TRADERS = 12  # users take turns, so none passes the 20 commands a minute
WORDS = st.sampled_from(
    ["BTC", "btcusdt", "ETH/USDT", "BNBBTC", "XRP", "ＢＴＣ", "all", "repeat", "USDT", "@", "at",
     "limit", ">", "<", "%", "+5%", "-5%", "-100%", "1h", "4h", "#1", "$", "$5", "1e3", "NaN",
     "-1", "0", ".5", "1,000", "²", "①", "１２", "<b>", "\n"]
)  # fmt: skip
NUMBERS = st.one_of(
    st.from_regex(r"\A[0-9]{1,45}(\.[0-9]{1,30})?\Z"),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.text(st.characters(categories=["Nd", "Nl", "No"]), min_size=1, max_size=6),
    st.builds(
        "{}{}%".format, st.sampled_from("+-"), st.from_regex(r"\A[0-9]{1,25}(\.[0-9]{1,25})?\Z")
    ),
)
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=24)
TOKENS = st.one_of(WORDS, NUMBERS, ANY_TEXT)
COMMAND_NAMES = sorted(
    {f"/{c.name}" for c in COMMANDS if c.menu} | {"/start", "/cancel", "/setkey"}
)
SYMBOLS = st.sampled_from(["BTC", "ETHUSDT", "BNBBTC", "XRPUSDT", "btc/usdt"])
ORDERS = st.builds(
    "{} {} {}".format,
    st.sampled_from(["/buy", "/sell"]),
    SYMBOLS,
    st.one_of(
        st.sampled_from(["0.001", "0.0005 @ 60000", "$20", "20 USDT", "1 @ 0.01", "0.01 at 1e9"]),
        NUMBERS,
        st.builds("{} @ {}".format, NUMBERS, NUMBERS),
    ),
)
ALERTS = st.builds(
    "/alert {} {}{}".format,
    SYMBOLS,
    st.one_of(st.builds("{} {}".format, st.sampled_from("<>"), NUMBERS), NUMBERS),
    st.sampled_from(["", " repeat", " a note <i>", " " + "n" * 201]),
)
MESSAGES = st.one_of(
    ORDERS,
    ALERTS,
    st.builds(
        lambda command, args: " ".join([command, *args]),
        st.sampled_from(COMMAND_NAMES),
        st.lists(TOKENS, max_size=5),
    ),
    ANY_TEXT,
).filter(str.strip)


@pytest.fixture
async def traders(
    api: BotApiEmulator, running_bot: Application, exchange: ExchangeSimulator
) -> list[tuple[Conversation, ChatMessage]]:
    """Users with a funded key each, and a bot message in their chat to press buttons under."""

    async def trader(index: int) -> tuple[Conversation, ChatMessage]:
        key, secret = f"FuzzKey{index:02d}".ljust(64, "k"), f"FuzzSecret{index:02d}".ljust(64, "s")
        funds = {"USDT": Decimal("1000"), "BTC": Decimal("0.05")}
        exchange.add_account(key, secret=secret, balances=funds)
        conv = api.conversation(api.user(3000 + index, first_name=f"Trader{index}"))
        stored = await ask(conv, f"/setkey {key} {secret}")
        assert "stored" in stored.text, stored.text
        return conv, stored

    return await asyncio.gather(*(trader(i) for i in range(TRADERS)))


class Handled:
    """The updates the bot is done with: a handler in a last group sees each one after every
    other handler (and the error handler) has returned."""

    def __init__(self) -> None:
        self._seen: set[object] = set()
        self._changed = asyncio.Condition()

    async def __call__(self, update: Update, _: object) -> None:
        async with self._changed:
            self._seen.add(self.key(update))
            self._changed.notify_all()

    @staticmethod
    def key(update: Update) -> object:
        if update.callback_query is not None:
            return update.callback_query.id
        message = update.effective_message
        return (message.chat_id, message.message_id) if message is not None else None

    async def wait(self, key: object) -> None:
        async with asyncio.timeout(20), self._changed:
            await self._changed.wait_for(lambda: key in self._seen)


@pytest.fixture
def handled(running_bot: Application) -> Handled:
    """Tells when the bot is done with an update (a handler in a last group)."""
    done = Handled()
    running_bot.add_handler(TypeHandler(Update, done), group=99)
    return done


def failures(records: list[logging.LogRecord]) -> list[str]:
    """What the error handler logged as a bug, or what failed inside PTB itself."""
    return [
        r.getMessage()
        for r in records
        if r.levelno >= logging.ERROR
        and ("unhandled error" in r.getMessage() or r.name.startswith("telegram"))
    ]


async def press(
    api: BotApiEmulator, conv: Conversation, handled: Handled, message: ChatMessage, data: str
) -> str:
    """Press a button with `data` under `message` (whether the bot sent one or not); the
    answer's text, once the bot is done with the press."""
    log = api.world.chat_log(conv.chat.id)
    query_id = api.world.press(log, conv.user, message, Button("button", data))
    answer = await conv.answer(query_id)
    await handled.wait(query_id)
    return answer.text or ""
