"""What a test sees: users, chats, and the messages of a chat as the user's screen shows them.

`ChatMessage` is an immutable snapshot: an edit or a deletion makes a new version in the chat's
transcript, so a test holding the preview it got earlier still sees what the user saw then
(and `Conversation.press` taps the buttons of that snapshot, like a phone that has not
refreshed yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class TgUser:
    """A Telegram user (or the bot itself, with `is_bot`)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_json(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for name in ("last_name", "username", "language_code"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data


@dataclass(frozen=True)
class TgChat:
    """A chat: a user's private chat with the bot, a group or a supergroup (id -100...)."""

    id: int
    type: Literal["private", "group", "supergroup"]
    title: str | None = None
    user: TgUser | None = None

    def to_json(self) -> JsonDict:
        data: JsonDict = {"id": self.id, "type": self.type}
        if self.title is not None:
            data["title"] = self.title
        if self.user is not None:
            data["first_name"] = self.user.first_name
            for name in ("last_name", "username"):
                if getattr(self.user, name) is not None:
                    data[name] = getattr(self.user, name)
        return data


class Button(NamedTuple):
    """An inline button: equal to the plain tuple `(text, callback_data)`; URL buttons have None."""

    text: str
    callback_data: str | None


@dataclass(frozen=True)
class DocumentFile:
    """A document in a message, with its bytes (whoever sent it)."""

    file_id: str
    file_name: str | None
    mime_type: str | None
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class ChatMessage:
    """One version of a message in a chat transcript.

    `text` is what the user reads: the message text, or the caption of a photo or document.
    `buttons` are the inline keyboard rows; `reply_markup` is the markup as the bot sent it
    (any kind). `photo` holds the uploaded bytes of a photo message.
    """

    message_id: int
    chat_id: int
    from_bot: bool
    sender: TgUser
    date: int
    text: str = ""
    entities: list[JsonDict] = field(default_factory=list)
    buttons: list[list[Button]] = field(default_factory=list)
    reply_markup: JsonDict | None = None
    photo: bytes | None = field(default=None, repr=False)
    document: DocumentFile | None = None
    reply_to: int | None = None
    parse_mode: str | None = None
    silent: bool = False
    link_preview_options: JsonDict | None = None
    edited: bool = False
    edit_date: int | None = None
    deleted: bool = False
    media: JsonDict = field(default_factory=dict, repr=False)

    @property
    def button_texts(self) -> list[str]:
        """Every button's text, row by row."""
        return [button.text for row in self.buttons for button in row]

    def button(self, text: str | None = None, *, callback_data: str | None = None) -> Button:
        """The button with exactly this text (else the one whose text contains it) or data."""
        flat = [button for row in self.buttons for button in row]
        if callback_data is not None:
            found = [b for b in flat if b.callback_data == callback_data]
        else:
            found = [b for b in flat if b.text == text] or [
                b for b in flat if text is not None and text in b.text
            ]
        if len(found) != 1:
            wanted = text if callback_data is None else f"callback_data={callback_data!r}"
            raise LookupError(
                f"{'no' if not found else 'several'} button {wanted!r} on message "
                f"{self.message_id}; buttons: {self.buttons}"
            )
        return found[0]


class ChatEvent(NamedTuple):
    """A change in a chat: a new message, an edit or a deletion, with the resulting version."""

    kind: Literal["new", "edit", "delete"]
    message: ChatMessage


@dataclass(frozen=True)
class CallbackAnswer:
    """How the bot answered a button press (answerCallbackQuery)."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None = None
    cache_time: int | None = None


class ApiCall(NamedTuple):
    """One call the bot made: the method's canonical name and its decoded parameters."""

    method: str
    params: JsonDict
