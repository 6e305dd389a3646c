"""The Bot API emulator driven by the real python-telegram-bot over HTTP on 127.0.0.1.

A trivial echo bot (commands, a confirm button, a photo, a document, a self-destructing
message) stands in for the real one: these tests pin what the emulator promises, so the bot's
own end-to-end tests can trust it.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from chatbot.sandbox.botapi import BotApiEmulator, Conversation
from tests.e2e.conftest import Polling


def png(width: int, height: int) -> bytes:
    """A valid, tiny grey PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


CHART = png(3, 2)

# PTB's own RetryAfter constructor reads its deprecated `retry_after` attribute.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/echo words: repeats them in bold, quoting the command."""
    words = " ".join(context.args or [])
    await update.effective_message.reply_html(f"<b>{words}</b>", do_quote=True)


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask: a question with Confirm and Cancel buttons."""
    buttons = [
        [
            InlineKeyboardButton("✅ Confirm", callback_data="ok:7"),
            InlineKeyboardButton("Cancel", callback_data="no:7"),
        ]
    ]
    await update.effective_message.reply_text("Sure?", reply_markup=InlineKeyboardMarkup(buttons))


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button: answer the press, then replace the question by the outcome."""
    query = update.callback_query
    await query.answer("Done", show_alert=True)
    await query.edit_message_text(f"Chose {query.data}")


async def chart(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_photo(CHART, caption="BTCUSDT 1h")


async def secret(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/secret x: deletes the user's message (it held a secret), then says so."""
    await update.effective_message.delete()
    await context.bot.send_message(update.effective_chat.id, "Deleted your message.")


async def received_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    document = update.effective_message.document
    data = await (await document.get_file()).download_as_bytearray()
    digest = hashlib.sha256(data).hexdigest()[:12]
    await update.effective_message.reply_text(f"{document.file_name}: {len(data)} bytes {digest}")


async def collect_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Handler errors go to a queue the test can await."""
    context.application.bot_data["errors"].put_nowait(context.error)


@pytest.fixture
def echo_app(app_builder: ApplicationBuilder) -> Application:
    app = app_builder.build()
    app.add_handler(CommandHandler("echo", echo))
    app.add_handler(CommandHandler("ask", ask))
    app.add_handler(CommandHandler("chart", chart))
    app.add_handler(CommandHandler("secret", secret))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.Document.ALL, received_document))
    app.add_error_handler(collect_error)
    app.bot_data["errors"] = asyncio.Queue()
    return app


@pytest.fixture
async def running(echo_app: Application, polling: Polling) -> AsyncIterator[None]:
    async with polling(echo_app):
        yield


@pytest.mark.usefixtures("running")
async def test_a_command_round_trip(conv: Conversation, api: BotApiEmulator) -> None:
    sent = await conv.send("/echo hello world")
    reply = await conv.reply(timeout=5)
    assert reply.from_bot and reply.sender == api.bot
    assert reply.text == "hello world"
    assert reply.entities == [{"type": "bold", "offset": 0, "length": 11}]
    assert reply.reply_to == sent.message_id
    assert [m.text for m in conv.messages] == ["/echo hello world", "hello world"]
    assert [method for method, _ in api.calls[:2]] == ["getMe", "deleteWebhook"]


@pytest.mark.usefixtures("running")
async def test_a_button_press_is_answered_and_the_message_edited(conv: Conversation) -> None:
    await conv.send("/ask")
    question = await conv.reply(timeout=5)
    assert question.buttons == [[("✅ Confirm", "ok:7"), ("Cancel", "no:7")]]
    query_id = await conv.press(question, "Confirm")
    answer = await conv.answer(query_id, timeout=5)
    assert (answer.text, answer.show_alert) == ("Done", True)
    edited = await conv.edit(question, timeout=5)
    assert (edited.text, edited.buttons, edited.edited) == ("Chose ok:7", [], True)
    assert question.text == "Sure?"  # the snapshot the test held is unchanged
    assert conv.current(question) == edited


@pytest.mark.usefixtures("running")
async def test_fifty_taps_on_one_button_each_reach_the_bot(
    conv: Conversation, api: BotApiEmulator, echo_app
) -> None:
    await conv.send("/ask")
    question = await conv.reply(timeout=5)
    ids = await asyncio.gather(*(conv.press(question, "Confirm") for _ in range(50)))
    await asyncio.gather(*(conv.answer(query_id, timeout=10) for query_id in ids))
    assert len(set(ids)) == 50
    errors = echo_app.bot_data["errors"]
    refused = [await asyncio.wait_for(errors.get(), 5) for _ in range(49)]
    assert all("Message is not modified" in str(error) for error in refused)
    assert len(api.calls_to("editMessageText")) == 50
    assert len([event for event in conv.history if event.kind == "edit"]) == 1


@pytest.mark.usefixtures("running")
async def test_a_photo_arrives_with_its_bytes(conv: Conversation, api: BotApiEmulator) -> None:
    await conv.send("/chart")
    photo = await conv.reply(timeout=5)
    assert photo.photo == CHART
    assert photo.text == "BTCUSDT 1h"
    assert api.calls_to("sendPhoto")[0]["photo"].data == CHART


async def test_a_sent_photo_reports_its_sizes_and_downloads(bot: Bot, conv: Conversation) -> None:
    message = await bot.send_photo(
        conv.chat.id, png(400, 100), caption="<i>chart</i>", parse_mode=ParseMode.HTML
    )
    sizes = [(size.width, size.height) for size in message.photo]
    assert sizes == [(90, 22), (320, 80), (400, 100)]
    assert message.caption == "chart"
    data = await (await message.photo[-1].get_file()).download_as_bytearray()
    assert bytes(data) == png(400, 100)


async def test_a_photo_the_user_sent_can_be_fetched(
    bot: Bot, conv: Conversation, api: BotApiEmulator
) -> None:
    await conv.send_photo(png(40, 20), caption="my chart")
    (update,) = await bot.get_updates()
    assert update.message.caption == "my chart"
    largest = update.message.photo[-1]
    assert (largest.width, largest.height) == (40, 20)
    assert api.file_bytes(largest.file_id) == png(40, 20)
    data = await (await bot.get_file(largest.file_id)).download_as_bytearray()
    assert bytes(data) == png(40, 20)


@pytest.mark.usefixtures("running")
async def test_the_bot_downloads_a_document_the_user_sent(conv: Conversation) -> None:
    pem = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI...\n-----END PRIVATE KEY-----\n"
    await conv.send_document("key.pem", pem)
    reply = await conv.reply(timeout=5)
    assert reply.text == f"key.pem: {len(pem)} bytes {hashlib.sha256(pem).hexdigest()[:12]}"


@pytest.mark.usefixtures("running")
async def test_the_bot_deletes_the_users_message(conv: Conversation, bot: Bot) -> None:
    sent = await conv.send("/secret hunter2")
    assert (await conv.reply(timeout=5)).text == "Deleted your message."
    assert conv.current(sent).deleted
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(conv.chat.id, sent.message_id)


async def test_429_surfaces_as_retry_after(api: BotApiEmulator, bot: Bot, conv) -> None:
    api.fail_next("sendMessage", count=2, error_code=429, retry_after=3)
    for _ in range(2):
        with pytest.raises(RetryAfter, match="Retry in 3 seconds"):
            await bot.send_message(conv.chat.id, "hi")
    assert (await bot.send_message(conv.chat.id, "hi")).text == "hi"
    assert [m.text for m in conv.messages] == ["hi"]


async def test_a_blocked_user_surfaces_as_forbidden(api: BotApiEmulator, bot: Bot, conv) -> None:
    api.block(conv.chat)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(conv.chat.id, "price alert")
    group = api.group_chat(-100123, title="Traders")
    api.block(group)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.id, "hello")


async def test_flood_control_answers_429_beyond_a_burst(api: BotApiEmulator, bot: Bot, conv):
    api.enable_flood_control(per_chat=1.0, chat_burst=3)
    for n in range(3):
        await bot.send_message(conv.chat.id, f"alert {n}")
    with pytest.raises(RetryAfter, match="Retry in 1 seconds"):
        await bot.send_message(conv.chat.id, "one too many")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda b, c: b.send_message(-42, "x"), "Chat not found"),
        (lambda b, c: b.send_message(c, "x" * 4097), "Message is too long"),
        (lambda b, c: b.send_message(c, "  "), "Message text is empty"),
        (lambda b, c: b.send_message(c, "<b>x", parse_mode="HTML"), "find end tag"),
        (lambda b, c: b.send_message(c, "1 < 2", parse_mode="HTML"), "unsupported start tag"),
        (lambda b, c: b.send_message(c, "<x>y</x>", parse_mode="HTML"), 'start tag "x"'),
        (lambda b, c: b.send_message(c, "1.5", parse_mode="MarkdownV2"), "reserved"),
        (lambda b, c: b.edit_message_text("x", c, 999), "Message to edit not found"),
        (lambda b, c: b.delete_message(c, 999), "Message to delete not found"),
        (lambda b, c: b.answer_callback_query("123"), "Query is too old"),
        (lambda b, c: b.get_file("nope"), "Invalid file_id"),
        (
            lambda b, c: b.send_message(
                c, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("b", "nope")]])
            ),
            "URL 'nope' is invalid",
        ),
        (
            lambda b, c: b.send_message(
                c,
                "x",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("b", callback_data="d" * 65)]]
                ),
            ),
            "Button_data_invalid",
        ),
    ],
)
async def test_bad_requests_are_worded_like_telegram(bot: Bot, conv, call, error) -> None:
    with pytest.raises(BadRequest, match=f"(?i){error}"):
        await call(bot, conv.chat.id)


async def test_editing_to_the_same_text_is_not_modified(bot: Bot, conv: Conversation) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Refresh", callback_data="r")]])
    sent = await bot.send_message(conv.chat.id, "BTC 100", reply_markup=keyboard)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("BTC 100", conv.chat.id, sent.message_id, reply_markup=keyboard)
    edited = await bot.edit_message_text("BTC 100", conv.chat.id, sent.message_id)
    assert edited.reply_markup is None  # no reply_markup: the keyboard goes, as on Telegram
    again = await bot.edit_message_reply_markup(
        conv.chat.id, sent.message_id, reply_markup=keyboard
    )
    assert again.reply_markup == keyboard


@pytest.mark.parametrize(
    ("source", "mode", "text", "entity"),
    [
        ("<b>BTC</b> &lt; 1.5", "HTML", "BTC < 1.5", ("bold", 0, 3)),
        ("*BTC* 1\\.5 \\- up", "MarkdownV2", "BTC 1.5 - up", ("bold", 0, 3)),
        ("📈 <code>BTCUSDT</code>", "HTML", "📈 BTCUSDT", ("code", 3, 7)),
    ],
)
async def test_formatting_becomes_entities(bot: Bot, conv, source, mode, text, entity) -> None:
    message = await bot.send_message(conv.chat.id, source, parse_mode=mode)
    assert message.text == text
    assert [(e.type, e.offset, e.length) for e in message.entities] == [entity]


async def test_a_slow_send_times_out_in_the_bot_but_still_arrives(
    api: BotApiEmulator, bot: Bot, conv: Conversation
) -> None:
    api.delay_next("sendMessage", seconds=0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(conv.chat.id, "order filled", read_timeout=0.1)
    assert (await conv.reply(timeout=5)).text == "order filled"


async def test_events_stream_what_the_bot_does(bot: Bot, conv: Conversation) -> None:
    stream = conv.events()
    await conv.send("/hello")  # the user's own message is not an event
    sent = await bot.send_message(conv.chat.id, "a")
    await bot.edit_message_text("b", conv.chat.id, sent.message_id)
    await bot.delete_message(conv.chat.id, sent.message_id)
    events = [await asyncio.wait_for(anext(stream), 5) for _ in range(3)]
    assert [(e.kind, e.message.text) for e in events] == [
        ("new", "a"),
        ("edit", "b"),
        ("delete", "b"),
    ]
    await stream.aclose()


@pytest.mark.usefixtures("running")
async def test_commands_in_a_group_address_the_bot(api: BotApiEmulator) -> None:
    group = api.group_chat(-100123, title="Traders")
    alice = api.conversation(api.user(1001, first_name="Alice"), group)
    bob = api.conversation(api.user(1002, first_name="Bob"), group)
    await alice.send("/echo@binance_test_bot hi all")
    assert (await bob.reply(timeout=5)).text == "hi all"
    await bob.send("/echo@some_other_bot not for us")
    await alice.send("/echo done")
    assert (await alice.reply(timeout=5)).text == "done"
    assert [m.text for m in api.transcript(group) if m.from_bot] == ["hi all", "done"]


async def test_tokens_and_methods_are_checked_on_the_wire(api: BotApiEmulator) -> None:
    async with aiohttp.ClientSession(trust_env=False) as http:
        async with http.post(f"{api.url}/bot999:WRONG/getMe") as resp:
            assert (resp.status, await resp.json()) == (
                401,
                {"ok": False, "error_code": 401, "description": "Unauthorized"},
            )
        async with http.get(f"{api.base_url}{api.token}/noSuchMethod") as resp:
            assert (resp.status, (await resp.json())["description"]) == (404, "Not Found")
        async with http.get(f"{api.base_url}{api.token}/getme") as resp:
            assert (await resp.json())["result"]["username"] == "binance_test_bot"
        body = {"chat_id": 1001, "text": "json body"}
        api.private_chat(api.user(1001))
        async with http.post(f"{api.base_url}{api.token}/sendMessage", json=body) as resp:
            assert (await resp.json())["result"]["text"] == "json body"
    request = HTTPXRequest(httpx_kwargs={"trust_env": False})
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=api.base_url, request=request):
            pass


async def test_updates_stay_until_a_later_offset_confirms_them(
    bot: Bot, conv: Conversation, api: BotApiEmulator
) -> None:
    await conv.send("/one")
    await conv.send("/two")
    first = await bot.get_updates()
    assert [u.message.text for u in first] == ["/one", "/two"]
    assert [u.update_id for u in await bot.get_updates()] == [u.update_id for u in first]
    assert await bot.get_updates(offset=first[-1].update_id + 1) == ()
    assert api.pending_updates == 0
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await api.wait_for_call("getUpdates", lambda p: p.get("timeout") == 5)
    await conv.send("/three")
    assert [u.message.text for u in await asyncio.wait_for(waiting, 2)] == ["/three"]


async def test_a_second_poller_gets_409_conflict(
    echo_app, polling, api: BotApiEmulator, bot: Bot, conv: Conversation
) -> None:
    async with polling(echo_app):
        await api.wait_for_call("getUpdates", lambda p: p.get("timeout") == 10)
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            # Our long poll cuts the bot's; the bot retries (after ~1 s) and cuts ours.
            await asyncio.wait_for(bot.get_updates(timeout=5), 5)
        await conv.send("/echo still here")
        assert (await conv.reply(timeout=5)).text == "still here"


async def test_my_commands_are_stored_per_scope(bot: Bot, api: BotApiEmulator) -> None:
    await bot.set_my_commands([("price", "Last price"), ("buy", "Market buy")])
    await bot.set_my_commands([("preis", "Letzter Preis")], language_code="de")
    assert api.commands() == [("price", "Last price"), ("buy", "Market buy")]
    assert api.commands(language_code="de") == [("preis", "Letzter Preis")]
    assert [c.command for c in await bot.get_my_commands()] == ["price", "buy"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Price!", "bad")])


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[tuple[str, asyncio.Queue, list[int]]]:
    """A local HTTP endpoint: its URL, a queue of (headers, update) and statuses to answer."""
    received: asyncio.Queue = asyncio.Queue()
    statuses: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        await received.put((dict(request.headers), await request.json()))
        return web.Response(status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", received, statuses
    finally:
        await runner.cleanup()


async def test_webhook_delivery_carries_the_secret_token(
    bot: Bot, conv: Conversation, webhook_receiver
) -> None:
    url, received, statuses = webhook_receiver
    statuses.append(500)  # the first delivery fails and is retried
    await bot.set_webhook(url, secret_token="s3cr3t-token")
    await conv.send("/price BTCUSDT")
    for _ in range(2):
        headers, update = await asyncio.wait_for(received.get(), 5)
        assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t-token"
        assert update["message"]["text"] == "/price BTCUSDT"
    info = await bot.get_webhook_info()
    assert info.url == url
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    await conv.send("/after")
    assert [u.message.text for u in await bot.get_updates()] == ["/after"]


def test_runs_standalone_and_prints_its_url_and_token() -> None:
    command = [sys.executable, "-m", "chatbot.sandbox.botapi", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        try:
            url = process.stdout.readline().strip()
            token = process.stdout.readline().strip()
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert process.returncode == 0  # SIGTERM is a clean stop
    assert url.startswith("TELEGRAM_API_URL=http://127.0.0.1:")
    assert token == "TELEGRAM_BOT_TOKEN=123456:TEST-TOKEN"
