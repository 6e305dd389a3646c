"""A Telegram Bot API emulator: the real python-telegram-bot talks to it over HTTP on 127.0.0.1.

Point PTB at it with `base_url=api.base_url` and `base_file_url=api.base_file_url` (or
`TELEGRAM_API_URL=api.url`). It answers like Telegram, down to the HTTP status and description
of each error, so the bot's error paths run for real: 401 wrong token, 404 unknown method,
400 "chat not found", "message is not modified", "message to edit not found",
"message is too long", "can't parse entities", 403 blocked, 409 two pollers, 429 retry_after.

Driving it from a test::

    api = BotApiEmulator(token="123456:TEST-TOKEN", bot_username="binance_test_bot")
    await api.start()                          # 127.0.0.1, a port the OS picks; api.url
    alice = api.user(1001, first_name="Alice")
    conv = api.conversation(alice)             # her private chat (or pass api.group_chat(...))
    await conv.send("/price BTCUSDT")          # a message update with bot_command entities
    reply = await conv.reply()                 # the bot's next new message (a ChatMessage)
    query_id = await conv.press(reply, "Confirm")
    await conv.answer(query_id)                # how the bot answered the press
    edited = await conv.edit(reply)            # the next edit of that message
    api.fail_next("sendMessage", count=2, error_code=429, retry_after=1)
    api.block(conv.chat)                       # 403 "Forbidden: bot was blocked by the user"
    await api.wait_for_call("answerCallbackQuery")
    api.listen(lambda chat, event: ...)        # every message, edit, deletion in any chat, at once
    api.enable_flood_control(); api.flood_refusals  # Telegram's limits; sends refused with 429
    await api.stop()

`python -m chatbot.sandbox.botapi --port 0` runs one alone and prints its URL and token.
"""

from .conversation import DEFAULT_TIMEOUT, Conversation
from .errors import ApiError
from .models import (
    ApiCall,
    Button,
    CallbackAnswer,
    ChatEvent,
    ChatMessage,
    DocumentFile,
    TgChat,
    TgUser,
)
from .server import BotApiEmulator
from .updates import WebhookConfig

__all__ = [
    "DEFAULT_TIMEOUT",
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "Button",
    "CallbackAnswer",
    "ChatEvent",
    "ChatMessage",
    "Conversation",
    "DocumentFile",
    "TgChat",
    "TgUser",
    "WebhookConfig",
]
