"""End-to-end fixtures for the Telegram side: the Bot API emulator and PTB pointed at it.

PTB talks to the emulator over real HTTP on 127.0.0.1. `trust_env=False` keeps a developer's
HTTP(S)_PROXY from swallowing those requests. Polling starts with `poll_interval=0` and stops
at once: `Updater.stop()` cancels the waiting long poll and the emulator drops it as soon as
the connection closes, so the hold time (`POLL_TIMEOUT`) never delays a test.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from telegram import Bot
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from chatbot.config import Settings
from chatbot.sandbox.botapi import BotApiEmulator, Conversation
from chatbot.sandbox.botapi.models import ChatMessage
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.binance_wire import DOC_KEY, DOC_SECRET, FUNDS, Binance
from tests.e2e.clock import ShiftedClock

POLL_TIMEOUT = 10  # seconds a getUpdates call may be held open by the emulator

SettingsFactory = Callable[..., Settings]  # settings by env name over `bot_env`'s
Polling = Callable[[Application], AbstractAsyncContextManager[Application]]


def local_request() -> HTTPXRequest:
    """An HTTPX request layer that ignores proxy settings (everything is on 127.0.0.1)."""
    return HTTPXRequest(httpx_kwargs={"trust_env": False})


@pytest.fixture
async def api() -> AsyncIterator[BotApiEmulator]:
    """A started Bot API emulator for the bot @binance_test_bot."""
    emulator = BotApiEmulator(token="123456:TEST-TOKEN", bot_username="binance_test_bot")
    await emulator.start(host="127.0.0.1", port=0)
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
def conv(api: BotApiEmulator) -> Conversation:
    """Alice (user 1001) in her private chat with the bot."""
    return api.conversation(api.user(1001, first_name="Alice", username="alice"))


@pytest.fixture
def app_builder(api: BotApiEmulator) -> ApplicationBuilder:
    """`Application.builder()` already pointed at the emulator; add handlers and build."""
    return (
        Application.builder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .request(local_request())
        .get_updates_request(local_request())
    )


@pytest.fixture
async def bot(api: BotApiEmulator) -> AsyncIterator[Bot]:
    """A bare, initialized PTB `Bot` for calling methods directly (no Application)."""
    async with Bot(
        api.token,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        request=local_request(),
        get_updates_request=local_request(),
    ) as client:
        yield client


@asynccontextmanager
async def polling_app(app: Application) -> AsyncIterator[Application]:
    """Run `app` with long polling for the duration of the block, then stop it promptly."""
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=POLL_TIMEOUT)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


@pytest.fixture
def polling() -> Polling:
    """`async with polling(app):` runs a built Application against the emulator."""
    return polling_app


# --- the real bot, wired to the emulator, the exchange simulator and a database on each engine ---


async def ask(conv: Conversation, text: str) -> ChatMessage:
    """Send `text` as the user and return the bot's next new message (20 s at most)."""
    await conv.send(text)
    return await conv.reply(timeout=20)


MASTER_KEY = "Y2hhdGJvdC10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM="  # 32 bytes, test only
ALICE, BOB, STRANGER = 1001, 1002, 1003
ALICE_KEY = "AliceApiKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
ALICE_SECRET = "AliceSecret0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"


def bot_env(
    api: BotApiEmulator, exchange: ExchangeSimulator, database: str | Path, **overrides: str
) -> dict[str, str]:
    """The environment of a bot talking to the emulator and the simulator, by env name;
    `database` is CHATBOT_DB (a SQLite path or a postgresql:// URL, see `database_target`)."""
    return {
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.url,
        "CHATBOT_MASTER_KEY": MASTER_KEY,
        "CHATBOT_DB": str(database),
        "BINANCE_API_URL": exchange.rest_url,
        "BINANCE_STREAM_URL": exchange.stream_url,
        "BINANCE_WS_API_URL": exchange.ws_api_url,
        "BINANCE_FUTURES_API_URL": exchange.futures_rest_url,
        "BINANCE_FUTURES_STREAM_URL": exchange.futures_stream_url,
        "CHATBOT_ALLOWED_USERS": f"{ALICE},{BOB}",
        **overrides,
    }


@pytest.fixture
def settings_factory(
    api: BotApiEmulator, exchange: ExchangeSimulator, database_target: str
) -> SettingsFactory:
    """Settings for a bot talking to the emulator and the simulator, on each engine in turn
    (`database_target`: a SQLite file, then a fresh PostgreSQL database); overrides by env
    name."""

    def make(**overrides: object) -> Settings:
        values = {**bot_env(api, exchange, database_target), **overrides}
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def overrides() -> dict[str, str]:
    """This test's settings by env name; a test sets its own with
    `@pytest.mark.parametrize("overrides", [{"CHATBOT_ALERT_LIMIT": "2"}])`."""
    return {}


@pytest.fixture
def settings(settings_factory: SettingsFactory, overrides: dict[str, str]) -> Settings:
    """The running bot's settings: `bot_env` with this test's `overrides`."""
    return settings_factory(**overrides)


@pytest.fixture
def ticket_clock() -> ShiftedClock:
    """The clock of the running bot's order tickets: real time until the test moves it on."""
    return ShiftedClock()


@pytest.fixture
async def running_bot(settings: Settings, ticket_clock: ShiftedClock) -> AsyncIterator[Application]:
    """The bot, started with long polling against the emulator; stopped after the test."""
    from chatbot.app import running_bot as run

    async with run(settings, poll_timeout=POLL_TIMEOUT, clock=ticket_clock) as app:
        yield app


@pytest.fixture
def alice(api: BotApiEmulator, running_bot: Application) -> Conversation:
    """Alice in her private chat with the running bot."""
    return api.conversation(api.user(ALICE, first_name="Alice"))


@pytest.fixture
async def alice_with_key(alice: Conversation, exchange: ExchangeSimulator) -> Conversation:
    """Alice after registering an HMAC key of a funded simulator account."""
    from decimal import Decimal

    exchange.add_account(
        ALICE_KEY,
        secret=ALICE_SECRET,
        balances={"USDT": Decimal("1000"), "BTC": Decimal("0.05"), "XRP": Decimal("0.2")},
    )
    await alice.send(f"/setkey {ALICE_KEY} {ALICE_SECRET}")
    reply = await alice.reply()
    assert "stored" in reply.text, reply.text
    return alice


@pytest.fixture
def bot_log(settings: Settings) -> Iterator[io.StringIO]:
    """Everything logged at LOG_LEVEL=DEBUG, set up and formatted as `chatbot run` does."""
    import logging

    from chatbot.logs import QUIET_LOGGERS, configure_logging

    assert settings.telegram_bot_token is not None and settings.master_key is not None
    token, master = settings.telegram_bot_token, settings.master_key
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in QUIET_LOGGERS})
    output = io.StringIO()
    configure_logging("DEBUG", False, [token.get_secret_value(), master.get_secret_value()], output)
    try:
        yield output
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


# --- a raw signed client for the simulator's own wire tests (tests/e2e/test_simulator*.py) ---


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, closed after the test."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def trader(exchange: ExchangeSimulator, session: aiohttp.ClientSession) -> Binance:
    """The documentation's HMAC key, with 10 000 USDT, 1 BTC and 10 ETH."""
    from pydantic import SecretStr

    from chatbot.exchange.signing import HmacSigner

    exchange.add_account(DOC_KEY, secret=DOC_SECRET, balances=FUNDS)
    return Binance(session, exchange.rest_url, DOC_KEY, HmacSigner(SecretStr(DOC_SECRET)))
