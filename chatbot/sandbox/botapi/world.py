"""The emulated Telegram as one bot sees it: its users, chats, files, updates and calls.

Method implementations (`messaging.py`, `setup.py`) and the test driver (`conversation.py`)
both act on a `BotWorld`; it builds the Telegram objects PTB deserializes (Message, Update,
CallbackQuery) from the chat transcripts, so the two sides always agree.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import bad_request, forbidden
from .faults import FaultPlan, FloodControl
from .formatting import command_entities
from .models import (
    ApiCall,
    Button,
    CallbackAnswer,
    ChatEvent,
    ChatMessage,
    JsonDict,
    TgChat,
    TgUser,
)
from .params import Params
from .state import ChatLog, FileStore, Signal
from .updates import UpdateQueue

CALLBACK_DATA_MAX_BYTES = 64
BUTTON_URL = re.compile(r"^(tg://\S+|(https?://)?[^\s/.]+(\.[^\s/.]+)+(/\S*)?)$", re.IGNORECASE)
BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


@dataclass
class PendingQuery:
    """A button press waiting for answerCallbackQuery."""

    query_id: str
    chat_id: int
    message_id: int
    data: str
    created: float


class BotWorld:
    """State shared by the HTTP methods and the test-side drivers."""

    def __init__(
        self,
        bot: TgUser,
        *,
        clock: Callable[[], float] = time.time,
        callback_answer_timeout: float = 15.0,
    ) -> None:
        self.bot = bot
        self.clock = clock
        self.callback_answer_timeout = callback_answer_timeout
        self.signal = Signal()
        self.users: dict[int, TgUser] = {}
        self.chats: dict[int, ChatLog] = {}
        self.files = FileStore()
        self.updates = UpdateQueue(self.signal)
        self.calls: list[ApiCall] = []
        self.faults = FaultPlan()
        self.flood: FloodControl | None = None
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.pending_queries: dict[str, PendingQuery] = {}
        self.answered_callbacks: dict[str, CallbackAnswer] = {}
        self._query_ids = itertools.count(1)
        self.listeners: list[Callable[[ChatLog, ChatEvent], None]] = []

    def now(self) -> int:
        return int(self.clock())

    # --- chats -------------------------------------------------------------------------------

    def add_chat(self, chat: TgChat) -> ChatLog:
        """Register a chat (idempotent: the same id keeps its transcript)."""
        log = self.chats.get(chat.id)
        if log is None:
            instance = str((chat.id * 2654435761 + self.bot.id) % (2**63))
            log = self.chats[chat.id] = ChatLog(chat, instance)
        return log

    def chat_log(self, chat_id: int | str | None) -> ChatLog:
        """The chat a call names, or 400 "chat not found"."""
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        try:
            log = self.chats.get(int(chat_id))
        except (TypeError, ValueError):
            log = None
        if log is None:
            raise bad_request("chat not found")
        return log

    def target(self, params: Params, *, sending: bool = True) -> ChatLog:
        """The chat a call writes to: it must exist and must not have blocked the bot."""
        log = self.chat_log(params.values.get("chat_id"))
        if log.blocked:
            if log.chat.type == "private":
                raise forbidden("bot was blocked by the user")
            raise forbidden(f"bot was kicked from the {log.chat.type} chat")
        if sending and self.flood is not None:
            self.flood.check(log.chat.id, log.chat.type != "private")
        return log

    def publish(self, log: ChatLog, message: ChatMessage) -> ChatMessage:
        log.add(message)
        self._tell(log)
        return message

    def change(self, log: ChatLog, message: ChatMessage, **changes: Any) -> ChatMessage:
        version = log.replace(message, **changes)
        self._tell(log)
        return version

    def _tell(self, log: ChatLog) -> None:
        """Wake the waiters, and hand the chat's newest event to each listener (a load
        driver with a thousand chats follows them this way instead of a waiter per chat)."""
        for listener in self.listeners:
            listener(log, log.events[-1])
        self.signal.notify()

    def record(self, call: ApiCall) -> None:
        self.calls.append(call)
        self.signal.notify()

    # --- Telegram objects --------------------------------------------------------------------

    def message_json(self, log: ChatLog, message: ChatMessage, *, nested: bool = False) -> JsonDict:
        """The Message object for a transcript entry (with the message it replies to)."""
        data: JsonDict = {
            "message_id": message.message_id,
            "from": message.sender.to_json(),
            "chat": log.chat.to_json(),
            "date": message.date,
        }
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if not nested and message.reply_to is not None:
            replied = log.live(message.reply_to)
            if replied is not None:
                data["reply_to_message"] = self.message_json(log, replied, nested=True)
        if message.media:
            data.update(message.media)
            if message.text:
                data["caption"] = message.text
            if message.entities:
                data["caption_entities"] = message.entities
        else:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        if message.link_preview_options is not None:
            data["link_preview_options"] = message.link_preview_options
        if message.reply_markup is not None and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = {"inline_keyboard": message.reply_markup["inline_keyboard"]}
        return data

    def reply_target(self, log: ChatLog, params: Params) -> int | None:
        """The message a new message replies to (reply_parameters or reply_to_message_id)."""
        reply = params.opt_object("reply_parameters", "reply parameters")
        if reply is None and params.has("reply_to_message_id"):
            reply = {
                "message_id": params.opt_int("reply_to_message_id"),
                "allow_sending_without_reply": params.flag("allow_sending_without_reply"),
            }
        if reply is None:
            return None
        message_id = reply.get("message_id")
        if isinstance(message_id, int) and log.live(message_id) is not None:
            return message_id
        if reply.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")

    # --- updates from users --------------------------------------------------------------------

    def user_message(
        self,
        log: ChatLog,
        user: TgUser,
        text: str,
        *,
        reply_to: int | None = None,
        media: JsonDict | None = None,
        document: Any = None,
    ) -> ChatMessage:
        """A message the user sends: stored in the transcript and queued as an update."""
        entities = command_entities(text) if not media else []
        message = ChatMessage(
            message_id=log.next_message_id(),
            chat_id=log.chat.id,
            from_bot=False,
            sender=user,
            date=self.now(),
            text=text,
            entities=entities,
            reply_to=reply_to,
            document=document,
            media=media or {},
        )
        self.publish(log, message)
        self.updates.put("message", self.message_json(log, message))
        return message

    def press(self, log: ChatLog, user: TgUser, message: ChatMessage, button: Button) -> str:
        """A tap on an inline button: queued as a callback_query update; its query id."""
        if message.chat_id != log.chat.id:
            raise LookupError(f"message {message.message_id} is in chat {message.chat_id}")
        current = log.live(message.message_id)
        if current is None:
            raise LookupError(f"message {message.message_id} was deleted; nothing to press")
        if button.callback_data is None:
            raise LookupError(f"button {button.text!r} opens a URL; it sends no callback query")
        query_id = f"{self.bot.id}{next(self._query_ids):08d}"
        self.pending_queries[query_id] = PendingQuery(
            query_id, log.chat.id, message.message_id, button.callback_data, time.monotonic()
        )
        payload = {
            "id": query_id,
            "from": user.to_json(),
            "message": self.message_json(log, current),
            "chat_instance": log.instance,
            "data": button.callback_data,
        }
        self.updates.put("callback_query", payload)
        return query_id


def parse_reply_markup(markup: JsonDict | None) -> tuple[JsonDict | None, list[list[Button]]]:
    """Validate reply_markup; the markup to keep and its inline buttons (if inline)."""
    if markup is None:
        return None, []
    if "inline_keyboard" not in markup:
        if not any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
            raise bad_request("can't parse reply keyboard markup JSON object")
        return markup, []
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    return markup, [[inline_button(button) for button in row] for row in rows]


def inline_button(button: Any) -> Button:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    actions = [name for name in BUTTON_ACTIONS if button.get(name) is not None]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if data is not None and not valid_callback_data(data):
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and not (isinstance(url, str) and BUTTON_URL.match(url)):
        raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return Button(button["text"], data)


def valid_callback_data(data: Any) -> bool:
    """1-64 bytes of UTF-8, as Telegram requires."""
    return isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_MAX_BYTES
