"""One user in one chat, as a test or the terminal chat drives the bot.

What the user does (`send`, `send_document`, `press`) is injected as an update at once; what
the bot does is read back from the chat's event log. `reply()` and `edit()` read only what
happened after the user's latest action, each consuming what it returns, so

    await conv.send("/buy BTCUSDT 0.001")
    preview = await conv.reply()          # the bot's first new message since the command
    await conv.press(preview, "Confirm")
    done = await conv.edit(preview)       # the first edit of the preview since the press

reads like the chat on a phone, with no sleeps: waiting is on the emulator's change signal.
"""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from .media import store_photo
from .models import CallbackAnswer, ChatEvent, ChatMessage, TgChat, TgUser
from .state import ChatLog
from .world import BotWorld

T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0


class Conversation:
    """A user's view of one chat: act as the user, wait for what the bot does."""

    def __init__(self, world: BotWorld, user: TgUser, log: ChatLog) -> None:
        self._world = world
        self._log = log
        self.user = user
        self._mark = len(log.events)
        self._reply_pos = self._mark
        self._edit_pos: dict[int, int] = {}

    @property
    def chat(self) -> TgChat:
        return self._log.chat

    @property
    def messages(self) -> list[ChatMessage]:
        """The transcript: every message in the chat, in order, each in its latest version."""
        return self._log.transcript()

    @property
    def history(self) -> list[ChatEvent]:
        """Every change in the chat so far, in order: new messages, edits, deletions."""
        return list(self._log.events)

    def current(self, message: ChatMessage) -> ChatMessage:
        """The latest version of `message` (after edits; `deleted` once deleted)."""
        return self._log.messages[message.message_id]

    def _acted(self) -> None:
        """The user just did something: later waits look only at what follows."""
        self._mark = len(self._log.events)
        self._reply_pos = self._mark
        self._edit_pos.clear()

    async def send(self, text: str, *, reply_to: ChatMessage | None = None) -> ChatMessage:
        """Type and send `text` (commands get their bot_command entities); the user's message."""
        message = self._world.user_message(
            self._log, self.user, text, reply_to=reply_to.message_id if reply_to else None
        )
        self._acted()
        return message

    async def send_document(
        self,
        file_name: str,
        content: bytes,
        caption: str | None = None,
        *,
        mime_type: str | None = None,
    ) -> ChatMessage:
        """Send a file; the bot can getFile and download it. Returns the user's message."""
        files = self._world.files
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        suffix = file_name[file_name.rfind(".") :] if "." in file_name else ""
        stored = files.add(content, "document", suffix)
        message = self._world.user_message(
            self._log,
            self.user,
            caption or "",
            media={"document": files.document(stored, file_name, mime)},
            document=files.document_file(stored, file_name, mime),
        )
        self._acted()
        return message

    async def send_photo(self, content: bytes, caption: str | None = None) -> ChatMessage:
        """Send a picture (PNG, JPEG, GIF or WebP bytes). Returns the user's message."""
        sizes = store_photo(self._world.files, content)
        message = self._world.user_message(
            self._log, self.user, caption or "", media={"photo": sizes}
        )
        self._acted()
        return message

    async def press(
        self,
        message: ChatMessage,
        text: str | None = None,
        *,
        callback_data: str | None = None,
    ) -> str:
        """Tap a button of `message` as this snapshot shows it; the callback query id.

        The button is looked up by exact text, else by a unique substring of its text, or by
        `callback_data`. Pressing a snapshot whose buttons the bot has since edited away is
        what a user with a stale screen (or a double tap) does, and is allowed.
        """
        if text is None and callback_data is None:
            raise TypeError("press() needs the button text or callback_data")
        button = message.button(text, callback_data=callback_data)
        query_id = self._world.press(self._log, self.user, message, button)
        self._acted()
        return query_id

    async def reply(self, timeout: float = DEFAULT_TIMEOUT) -> ChatMessage:  # noqa: ASYNC109
        """The bot's next new message in this chat since the user's latest action."""
        return await self._wait(self._next_reply, timeout, "a new bot message")

    async def edit(
        self,
        message: ChatMessage,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> ChatMessage:
        """The next edit of `message` since the user's latest action (the edited version)."""
        return await self._wait(
            lambda: self._next_edit(message.message_id),
            timeout,
            f"an edit of message {message.message_id}",
        )

    async def answer(
        self,
        query_id: str,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> CallbackAnswer:
        """How the bot answered the button press `query_id` (answerCallbackQuery)."""
        return await self._wait(
            lambda: self._world.answered_callbacks.get(query_id),
            timeout,
            f"the answer to callback query {query_id}",
        )

    async def wait_for(
        self,
        condition: Callable[[], T | None],
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> T:
        """The first non-None, non-False result of `condition`.

        It is re-checked whenever the emulator sees something happen (a call, a message, an
        answer), so it should depend on what the bot does through the Bot API.
        """
        return await self._wait(lambda: condition() or None, timeout, "the condition")

    def events(self) -> AsyncIterator[ChatEvent]:
        """Everything the bot does in this chat from this call on (not the user's messages)."""
        return self._events_from(len(self._log.events))

    async def _events_from(self, position: int) -> AsyncIterator[ChatEvent]:
        events = self._log.events
        while True:
            await self._world.signal.wait_for(
                functools.partial(_grown_past, events, position), None, "events"
            )
            while position < len(events):
                event = events[position]
                position += 1
                if event.kind != "new" or event.message.from_bot:
                    yield event

    def _next_reply(self) -> ChatMessage | None:
        events = self._log.events
        for index in range(self._reply_pos, len(events)):
            kind, message = events[index]
            if kind == "new" and message.from_bot:
                self._reply_pos = index + 1
                return message
        self._reply_pos = len(events)
        return None

    def _next_edit(self, message_id: int) -> ChatMessage | None:
        events = self._log.events
        for index in range(self._edit_pos.get(message_id, self._mark), len(events)):
            kind, version = events[index]
            if kind == "edit" and version.message_id == message_id:
                self._edit_pos[message_id] = index + 1
                return version
        return None

    async def _wait(self, check: Callable[[], T | None], seconds: float, what: str) -> T:
        try:
            return await self._world.signal.wait_for(check, seconds, what)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc} in chat {self.chat.id}; {self._summary()}") from None

    def _summary(self) -> str:
        tail = self._log.events[-6:]
        if not tail:
            return "the chat is empty"
        lines = [
            f"{kind} #{m.message_id} {'bot' if m.from_bot else 'user'}: {m.text[:80]!r}"
            for kind, m in tail
        ]
        return "last events: " + "; ".join(lines)


def _grown_past(events: list[ChatEvent], position: int) -> bool | None:
    return True if len(events) > position else None
