"""/setkey, /keyinfo and /delkey: a user's Binance key, handled so that it never leaks.

/setkey works in a private chat only, and every message that carried a secret is deleted before
anything else reads it (handlers/scrub.py; also for strangers and rate-limited users). Forms:
`/setkey API_KEY SECRET` (HMAC key), or `/setkey` then the API key, then the secret or the PEM
private key (Ed25519 or RSA) as text or as a file.

The step-by-step form keeps its step in the database (chatbot/storage/conversations.py, which
says why not PTB's ConversationHandler and persistence): each answer may reach another replica,
or this bot after a restart. `step_handlers` come before the commands; a message that answers
no waiting step goes on to the handler that would have taken it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial

from pydantic import SecretStr
from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from chatbot.errors import UserError
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.signing import KeyFormatError, guess_key_type
from chatbot.services.keys import KeyReport
from chatbot.storage.conversations import SetkeyConversations, SetkeyStep
from chatbot.storage.vault import VaultError
from handlers.common import (
    edit,
    esc,
    message_of,
    press_of,
    pressed_message,
    reply,
    typing,
    user_id,
)
from handlers.context import BotContext
from handlers.parsing import DELKEY_BUTTON, button_fields
from handlers.scrub import secret_deleted

log = logging.getLogger(__name__)

Callback = Callable[[Update, BotContext], Awaitable[None]]

MAX_PEM_BYTES = 16 * 1024

ASK_SECRET = (
    "Now send the secret: the <b>secret key</b> for an HMAC key, or the <b>private key</b> "
    "(PEM text, or the .pem file) for an Ed25519 or RSA key. I will delete your message as soon "
    "as I have read it. /cancel stops."
)
TIMED_OUT = (
    "I stopped waiting for that after 5 minutes, so nothing was stored (and I deleted your "
    "message). Let's start again: /setkey"
)


async def setkey(update: Update, context: BotContext) -> None:
    """/setkey [API_KEY [SECRET]]: start (or complete in one message) a key registration. A
    /setkey always starts over: any step already waiting is dropped."""
    message = message_of(update)
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await _refuse_in_group(update, secret_deleted(context))
        return
    uid, steps = user_id(update), context.services.setkey
    api_key, secret = _split_setkey(message.text or "")  # handlers.scrub deleted the message
    if api_key and secret:
        await steps.end(uid)
        await _register(update, context, SecretStr(api_key), SecretStr(secret))
    elif api_key:
        await steps.ask_secret(uid, SecretStr(api_key))
        await reply(update, ASK_SECRET)
    else:
        await steps.ask_api_key(uid)
        await reply(
            update,
            "Send me your Binance <b>API key</b> (the public part). Create one on "
            "testnet.binance.vision to try things out first; allow reading and spot trading "
            "only, never withdrawals. /cancel stops.",
        )


async def answer_step(update: Update, context: BotContext, otherwise: Callback) -> None:
    """A private message while a /setkey conversation may be waiting (the step is read from
    the database: the conversation may have begun on another replica, or before a restart).
    With no conversation waiting, `otherwise` answers it."""
    uid, steps = user_id(update), context.services.setkey
    waiting = await steps.waiting(uid)
    if waiting is None:
        await otherwise(update, context)
    elif waiting.expired:
        await steps.end(uid)
        await reply(update, TIMED_OUT)
    elif waiting.step is SetkeyStep.API_KEY:
        await _receive_api_key(update, steps, uid)
    else:
        await _receive_secret(update, context, uid)


async def _receive_api_key(update: Update, steps: SetkeyConversations, uid: int) -> None:
    api_key = (message_of(update).text or "").strip()
    if not api_key:
        await reply(
            update, "Send the API key as text (the public part, not a file). /cancel stops."
        )
        return
    await steps.ask_secret(uid, SecretStr(api_key))
    await reply(update, ASK_SECRET)


async def _receive_secret(update: Update, context: BotContext, uid: int) -> None:
    secret = await _read_secret(message_of(update))
    try:
        api_key = await context.services.setkey.take_api_key(uid)
    except VaultError:  # sealed under a master key since removed: ask again, store nothing
        log.warning("a pending /setkey of user_id=%s does not open", uid)
        api_key = None
    if api_key is None:  # it expired, or was cancelled, on the way
        await reply(update, "Let's start again: /setkey")
        return
    await _register(update, context, api_key, secret)


async def cancel_step(update: Update, context: BotContext, otherwise: Callback) -> None:
    """/cancel while a /setkey conversation waits ends it; otherwise `otherwise` (the orders'
    /cancel) answers it."""
    if await context.services.setkey.end(user_id(update)):
        await reply(update, "Cancelled; no key was stored.")
    else:
        await otherwise(update, context)


async def _register(
    update: Update, context: BotContext, api_key: SecretStr, secret: SecretStr
) -> None:
    """Verify and store; a refusal ends the conversation with the reason, nothing stored."""
    try:
        key_type = guess_key_type(secret)
        async with typing(update):
            report = await context.services.keys.register(
                user_id(update), key_type, api_key, secret
            )
    except KeyFormatError as exc:
        await reply(update, f"{esc(exc.user_message)} Nothing was stored.")
        return
    except (UserError, BinanceError) as exc:
        await reply(update, esc(exc.user_message))
        return
    log.info("key registered user_id=%s type=%s", user_id(update), key_type.value)
    await reply(update, "Key verified and stored (encrypted).\n" + render_report(report))


async def _refuse_in_group(update: Update, deleted: bool | None) -> None:
    """`deleted` is what handlers.scrub did with a /setkey that had arguments (None: it had
    none); a failed deletion was already reported there."""
    text = "For your safety /setkey works only in a private chat with me; nothing was stored."
    if deleted:
        text += (
            " I deleted your message. If it held a secret, treat the key as leaked: delete it "
            "on Binance."
        )
    await reply(update, text)


def _split_setkey(text: str) -> tuple[str, str]:
    """`/setkey KEY SECRET...` -> (KEY, SECRET...); the secret may be a multi-line PEM."""
    parts = text.split(maxsplit=2)
    api_key = parts[1] if len(parts) > 1 else ""
    secret = parts[2].strip() if len(parts) > 2 else ""
    return api_key, secret


async def _read_secret(message: Message) -> SecretStr:
    if message.document is None:
        return SecretStr((message.text or "").strip())
    if (message.document.file_size or 0) > MAX_PEM_BYTES:
        return SecretStr("")
    file = await message.document.get_file()
    data = await file.download_as_bytearray()
    return SecretStr(bytes(data).decode("utf-8", errors="replace").strip())


async def keyinfo(update: Update, context: BotContext) -> None:
    """/keyinfo: the key's type, masked id, permissions and when it was added."""
    report = await context.services.keys.describe(user_id(update))
    await reply(update, render_report(report))


async def delkey(update: Update, context: BotContext) -> None:
    """/delkey: asks for confirmation with a button, then forgets the key."""
    uid = user_id(update)
    if not await context.services.keys.has_key(uid):
        await reply(update, "You have no key registered.")
        return
    await reply(
        update,
        "Delete your Binance API key from this bot? You can add it again with /setkey.",
        [[("Delete key", f"delkey:yes:{uid}"), ("Keep it", f"delkey:no:{uid}")]],
    )


async def delkey_button(update: Update, context: BotContext) -> None:
    query = press_of(update)
    choice, owner = button_fields(context.match)
    if int(owner) != query.from_user.id:
        await query.answer("This is not your key.", show_alert=True)
        return
    message = pressed_message(query)
    await query.answer()
    if choice != "yes":
        await edit(message, "Kept your key.")
        return
    deleted = await context.services.keys.delete(query.from_user.id)
    text = (
        "Your key was deleted from this bot. To be thorough, delete it on Binance too."
        if deleted
        else "You had no key registered."
    )
    await edit(message, text)


def render_report(report: KeyReport) -> str:
    lines = [
        f"Key: {esc(report.masked_key)} ({report.key_type.value.upper()})",
        f"Spot trading: {'allowed' if report.can_trade else 'not allowed'}",
        "Withdrawals: " + _tri(report.can_withdraw, "ENABLED", "disabled"),
        "IP restriction: " + _tri(report.ip_restricted, "yes", "none (add one on Binance)"),
    ]
    if report.created_at:
        lines.append(f"Added: {report.created_at:%Y-%m-%d %H:%M} UTC")
    return "\n".join(lines)


def _tri(value: bool | None, yes: str, no: str) -> str:
    if value is None:
        return "not reported on this network"
    return yes if value else no


def setkey_handler() -> CommandHandler:
    """/setkey itself, among the commands (group 0)."""
    return CommandHandler("setkey", setkey)


def step_handlers(*, unknown: Callback, cancel: Callback) -> list[BaseHandler]:
    """The /setkey conversation's answers and its /cancel, registered before the commands:
    each asks the stored step, and when no conversation waits hands the message to what would
    have answered it otherwise (`unknown`: the hint for text; `cancel`: the orders' /cancel).
    PTB picks one handler per group, and a step kept in the database cannot be asked in the
    synchronous `check_update`, so the fallback is called here rather than reached by PTB."""
    private = filters.ChatType.PRIVATE
    answers = private & ((filters.TEXT & ~filters.COMMAND) | filters.Document.ALL)
    return [
        CommandHandler("cancel", partial(cancel_step, otherwise=cancel), filters=private),
        MessageHandler(answers, partial(answer_step, otherwise=unknown)),
    ]


def delkey_button_handler() -> CallbackQueryHandler:
    return CallbackQueryHandler(delkey_button, pattern=DELKEY_BUTTON)
