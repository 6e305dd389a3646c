"""Deleting messages that carry a secret, before anything else looks at the update.

The access guard (group -1) stops strangers and rate-limited users before any command handler
runs, so deletion inside /setkey would leave their secrets on screen (in a group, for every
member to read). This handler runs in group -2, ahead of the guard, for every sender in every
chat, and lets the update go on to the guard and the handlers either way.

A message carries a secret when it is:
- a `/setkey` command with arguments, in any chat (the API key, perhaps the secret);
- an answer to the /setkey conversation: any text or file (not a command) in a private chat
  while the stored step (chatbot/storage/conversations.py, shared by every replica) waits for
  the API key or the secret, also when it waited too long, so a late secret goes too, and also
  when the guard then drops it (a rate-limited user);
- in a private chat, anything shaped like a secret: a 64-character Binance key or secret, a
  PEM private key, or a .pem/.key file. A user who pastes a secret after the conversation timed
  out, after /cancel, or without /setkey at all leaks it just the same; a false positive costs
  only the deletion of a message the bot could not use anyway;
- in a group, a PEM private key (a 64-character token there is more often a transaction hash,
  and deleting other people's messages in a group needs a stronger reason).

When the deletion fails, the user is told at once (in any chat) to delete it and revoke the key.
"""

from __future__ import annotations

import logging
import re

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import TypeHandler

from handlers.common import delete_quietly
from handlers.context import BotContext

log = logging.getLogger(__name__)

GROUP = -2  # before the access guard (group -1)
CONTEXT_FLAG = "secret_message_deleted"
_TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_KEY_FILE = (".pem", ".key")

NOT_DELETED = (
    "I could not delete your message, and it holds a secret: delete it yourself now. "
    "Treat that API key as leaked: delete it on Binance (Account → API Management) and "
    "create a new one."
)


def scrub_handler() -> TypeHandler:
    """The group -2 handler."""

    async def scrub(update: Update, context: BotContext) -> None:
        message = update.message or update.edited_message  # never a button's (bot) message
        if message is None or not await carries_secret(update, message, context):
            return
        deleted = await delete_quietly(message)
        setattr(context, CONTEXT_FLAG, deleted)
        if not deleted:
            user = update.effective_user
            log.warning("could not delete a secret-bearing message user_id=%s", user and user.id)
            await message.chat.send_message(NOT_DELETED)

    return TypeHandler(Update, scrub)


def secret_deleted(context: BotContext) -> bool | None:
    """Whether the scrub handler deleted this update's message: None when it carried no
    secret, False when the deletion failed (the user was told)."""
    return getattr(context, CONTEXT_FLAG, None)


async def carries_secret(update: Update, message: Message, context: BotContext) -> bool:
    text = message.text or message.caption or ""
    if _is_setkey_with_arguments(text):
        return True
    if _PEM.search(text):
        return True
    if message.chat.type != ChatType.PRIVATE:
        return False
    name = (message.document.file_name or "") if message.document else ""
    if _TOKEN.search(text) or name.lower().endswith(_KEY_FILE):
        return True
    return await _answers_setkey(update, message, text, context)


async def _answers_setkey(update: Update, message: Message, text: str, context: BotContext) -> bool:
    """An answer the /setkey conversation waits for (or waited for: a late one is a secret
    all the same): one read of the stored step, for private texts and files only."""
    user = update.effective_user
    if user is None or text.startswith("/") or not (message.text or message.document):
        return False
    return await context.services.setkey.waiting(user.id) is not None


def _is_setkey_with_arguments(text: str) -> bool:
    parts = text.split(maxsplit=1)
    return len(parts) == 2 and parts[0].split("@", 1)[0].lower() == "/setkey"
