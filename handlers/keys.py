"""/setkey, /keyinfo and /delkey: a user's Binance key, handled so that it never leaks.

/setkey works in a private chat only, and every message that carried a secret is deleted before
anything else reads it (handlers/scrub.py; also for strangers and rate-limited users). Forms:
`/setkey API_KEY SECRET` (HMAC key), or `/setkey` then the API key, then the secret or the PEM
private key (Ed25519 or RSA) as text or as a file.
"""

from __future__ import annotations

import logging

from pydantic import SecretStr
from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from chatbot.errors import UserError
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.signing import KeyFormatError, guess_key_type
from chatbot.services.keys import KeyReport
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

WAIT_API_KEY, WAIT_SECRET = range(2)
PENDING = "pending_api_key"
MAX_PEM_BYTES = 16 * 1024
CONVERSATION_TIMEOUT = 300

ASK_SECRET = (
    "Now send the secret: the <b>secret key</b> for an HMAC key, or the <b>private key</b> "
    "(PEM text, or the .pem file) for an Ed25519 or RSA key. I will delete your message as soon "
    "as I have read it. /cancel stops."
)


async def setkey(update: Update, context: BotContext) -> int:
    """/setkey [API_KEY [SECRET]]: start (or complete in one message) a key registration."""
    message = message_of(update)
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await _refuse_in_group(update, secret_deleted(context))
        return ConversationHandler.END
    api_key, secret = _split_setkey(message.text or "")  # handlers.scrub deleted the message
    if api_key and secret:
        return await _register(update, context, SecretStr(api_key), SecretStr(secret))
    if api_key:
        context.user_data[PENDING] = SecretStr(api_key)  # type: ignore[index]
        await reply(update, ASK_SECRET)
        return WAIT_SECRET
    await reply(
        update,
        "Send me your Binance <b>API key</b> (the public part). Create one on "
        "testnet.binance.vision to try things out first; allow reading and spot trading only, "
        "never withdrawals. /cancel stops.",
    )
    return WAIT_API_KEY


async def receive_api_key(update: Update, context: BotContext) -> int:
    message = message_of(update)
    context.user_data[PENDING] = SecretStr((message.text or "").strip())  # type: ignore[index]
    await reply(update, ASK_SECRET)
    return WAIT_SECRET


async def receive_secret(update: Update, context: BotContext) -> int:
    message = message_of(update)
    secret = await _read_secret(message)
    api_key = context.user_data.pop(PENDING, None)  # type: ignore[union-attr]
    if api_key is None:
        await reply(update, "Let's start again: /setkey")
        return ConversationHandler.END
    return await _register(update, context, api_key, secret)


async def cancel_setkey(update: Update, context: BotContext) -> int:
    context.user_data.pop(PENDING, None)  # type: ignore[union-attr]
    await reply(update, "Cancelled; no key was stored.")
    return ConversationHandler.END


async def setkey_timeout(update: Update, context: BotContext) -> None:
    context.user_data.pop(PENDING, None)  # type: ignore[union-attr]


async def _register(
    update: Update, context: BotContext, api_key: SecretStr, secret: SecretStr
) -> int:
    """Verify and store; a refusal ends the conversation with the reason, nothing stored."""
    try:
        key_type = guess_key_type(secret)
        async with typing(update):
            report = await context.services.keys.register(
                user_id(update), key_type, api_key, secret
            )
    except KeyFormatError as exc:
        await reply(update, f"{esc(exc.user_message)} Nothing was stored.")
        return ConversationHandler.END
    except (UserError, BinanceError) as exc:
        await reply(update, esc(exc.user_message))
        return ConversationHandler.END
    log.info("key registered user_id=%s type=%s", user_id(update), key_type.value)
    await reply(update, "Key verified and stored (encrypted).\n" + render_report(report))
    return ConversationHandler.END


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


def setkey_conversation() -> ConversationHandler:
    private = filters.ChatType.PRIVATE
    return ConversationHandler(
        entry_points=[CommandHandler("setkey", setkey)],
        states={
            WAIT_API_KEY: [
                MessageHandler(private & filters.TEXT & ~filters.COMMAND, receive_api_key)
            ],
            WAIT_SECRET: [
                MessageHandler(
                    private & ((filters.TEXT & ~filters.COMMAND) | filters.Document.ALL),
                    receive_secret,
                )
            ],
            ConversationHandler.TIMEOUT: [MessageHandler(filters.ALL, setkey_timeout)],
        },
        fallbacks=[CommandHandler("cancel", cancel_setkey)],
        conversation_timeout=CONVERSATION_TIMEOUT,
    )


def delkey_button_handler() -> CallbackQueryHandler:
    return CallbackQueryHandler(delkey_button, pattern=DELKEY_BUTTON)
