"""Random text and random button data against the real bot, between the Bot API emulator and
the exchange simulator: every message gets a reply, every press an answer, and none of them is
the generic "Something went wrong" (nor does any handler fail after replying)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from decimal import Decimal

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import TypeHandler

from chatbot.sandbox.botapi.models import Button
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
PREFIXES = ["t:c:", "t:x:", "t:m:", "a:", "a:again:", "a:trade:", "delkey:yes:", "delkey:no:",
            "chart:"]  # fmt: skip
BUTTON_DATA = st.one_of(
    st.builds(
        str.__add__,
        st.sampled_from(PREFIXES),
        st.one_of(TOKENS, st.from_regex(r"\A[0-9]{1,25}\Z"), st.just("")),
    ),
    st.text(min_size=1, max_size=64),
).filter(lambda data: 0 < len(data.encode()) <= 64)  # Telegram's limit for callback data
STEPS = st.one_of(
    st.tuples(st.just("send"), MESSAGES, st.booleans()),  # and press the reply's buttons?
    st.tuples(st.just("press"), BUTTON_DATA, st.just(False)),
)


@pytest.fixture
def settings(settings_factory):
    return settings_factory(CHATBOT_ALLOWED_USERS="*")


@pytest.fixture
async def traders(api, running_bot, exchange):
    """Users with a funded key each, and a bot message in their chat to press buttons under."""

    async def trader(index: int):
        key, secret = f"FuzzKey{index:02d}".ljust(64, "k"), f"FuzzSecret{index:02d}".ljust(64, "s")
        funds = {"USDT": Decimal("1000"), "BTC": Decimal("0.05")}
        exchange.add_account(key, secret=secret, balances=funds)
        conv = api.conversation(api.user(3000 + index, first_name=f"Trader{index}"))
        stored = await ask(conv, f"/setkey {key} {secret}")
        assert "stored" in stored.text, stored.text
        return conv, stored

    return await asyncio.gather(*(trader(i) for i in range(TRADERS)))


@pytest.fixture
def turns():
    return itertools.count()


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
def handled(running_bot) -> Handled:
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


@hypothesis.settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(step=STEPS)
async def test_no_input_gets_the_generic_error(api, traders, handled, turns, caplog, step):
    conv, under = traders[next(turns) % TRADERS]
    kind, text, press_buttons = step
    if kind == "send":
        sent = await conv.send(text)
        reply = await conv.reply(timeout=20)
        await handled.wait((sent.chat_id, sent.message_id))
        answers = [reply.text]
        if press_buttons:
            answers += [await press(api, conv, handled, reply, data) for data in buttons(reply)]
    else:
        answers = [await press(api, conv, handled, under, text)]
    assert not [a for a in answers if GENERIC in a], (step, answers)
    assert not failures(caplog.records), (step, failures(caplog.records))
    assert not [m.text for m in conv.messages if m.from_bot and GENERIC in m.text], step


def buttons(message) -> list[str]:
    """The data of a message's buttons, but "Delete key": the traders keep their keys."""
    data = [b.callback_data for row in message.buttons for b in row if b.callback_data]
    return [d for d in data if not d.startswith("delkey:yes")]


async def press(api, conv, handled: Handled, message, data: str) -> str:
    """Press a button with `data` under `message` (whether the bot sent one or not); the
    answer's text, once the bot is done with the press."""
    log = api.world.chat_log(conv.chat.id)
    query_id = api.world.press(log, conv.user, message, Button("button", data))
    answer = await conv.answer(query_id)
    await handled.wait(query_id)
    return answer.text or ""
