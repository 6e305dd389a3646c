"""Methods that write into chats: send, edit, delete, chat actions, callback answers.

Each takes the call's `Params` and returns the `result` Telegram would return, or raises
ApiError with Telegram's wording (the bot's error handling is tested against these strings).
"""

from __future__ import annotations

import mimetypes
import time
from pathlib import PurePosixPath

from .errors import QUERY_TOO_OLD, bad_request
from .formatting import caption_text, message_text
from .media import image_size, photo_sizes, store_photo
from .models import CallbackAnswer, ChatMessage, JsonDict
from .params import Params, UploadedFile
from .state import ChatLog, StoredFile
from .world import BotWorld, parse_reply_markup

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
MAX_CALLBACK_ANSWER = 200


def inline_part(markup: JsonDict | None) -> JsonDict | None:
    """The part of a markup that lives on the message (only inline keyboards do)."""
    return markup if markup is not None and "inline_keyboard" in markup else None


class Messaging:
    """sendMessage, sendPhoto, sendDocument, edits, deletes, sendChatAction, callbacks."""

    def __init__(self, world: BotWorld) -> None:
        self.world = world

    def _new_message(self, params: Params, **content: object) -> JsonDict:
        """Check the rest of the call, then post the bot's message with `content` in the chat.

        Limits and blocks are checked last, so a call refused for bad parameters is not
        counted against the flood limits (as on Telegram).
        """
        log = self.world.chat_log(params.values.get("chat_id"))
        markup, buttons = parse_reply_markup(
            params.opt_object("reply_markup", "reply keyboard markup")
        )
        reply_to = self.world.reply_target(log, params)
        log = self.world.target(params)
        message = ChatMessage(
            message_id=log.next_message_id(),
            chat_id=log.chat.id,
            from_bot=True,
            sender=self.world.bot,
            date=self.world.now(),
            buttons=buttons,
            reply_markup=markup,
            reply_to=reply_to,
            parse_mode=params.opt_str("parse_mode"),
            silent=params.flag("disable_notification"),
            **content,  # type: ignore[arg-type]
        )
        self.world.publish(log, message)
        return self.world.message_json(log, message)

    async def send_message(self, params: Params) -> JsonDict:
        self.world.chat_log(params.values.get("chat_id"))
        text, entities = message_text(
            params.get_str("text", missing="message text is empty"),
            params.opt_str("parse_mode"),
            params.opt_array("entities", "entities"),
        )
        preview = params.opt_object("link_preview_options", "link preview options")
        return self._new_message(params, text=text, entities=entities, link_preview_options=preview)

    async def send_photo(self, params: Params) -> JsonDict:
        self.world.chat_log(params.values.get("chat_id"))
        caption, entities = self._caption(params)
        sizes = self._photo(params.input_file("photo"))
        data = self.world.files.get(sizes[-1]["file_id"]).data
        return self._new_message(
            params, text=caption, entities=entities, photo=data, media={"photo": sizes}
        )

    def _photo(self, source: UploadedFile | str) -> list[JsonDict]:
        if isinstance(source, UploadedFile):
            return store_photo(self.world.files, source.data)
        stored = self._known_file(source, "photo")
        width, height, _ = image_size(stored.data) or (1, 1, "")
        return photo_sizes(self.world.files, stored, width, height)

    async def send_document(self, params: Params) -> JsonDict:
        self.world.chat_log(params.values.get("chat_id"))
        caption, entities = self._caption(params)
        source = params.input_file("document")
        if isinstance(source, UploadedFile):
            suffix = PurePosixPath(source.filename or "").suffix
            stored = self.world.files.add(source.data, "document", suffix)
            name = source.filename
            mime = source.content_type or mimetypes.guess_type(name or "")[0]
        else:
            stored, name, mime = self._known_file(source, "document"), None, None
        files = self.world.files
        return self._new_message(
            params,
            text=caption,
            entities=entities,
            document=files.document_file(stored, name, mime),
            media={"document": files.document(stored, name, mime)},
        )

    def _caption(self, params: Params) -> tuple[str, list[JsonDict]]:
        return caption_text(
            params.opt_str("caption"),
            params.opt_str("parse_mode"),
            params.opt_array("caption_entities", "caption entities"),
        )

    def _known_file(self, file_id: str, kind: str) -> StoredFile:
        stored = self.world.files.find(file_id)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise bad_request("type of file mismatch")
        return stored

    def _editable(self, params: Params) -> tuple[ChatLog, ChatMessage]:
        if params.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        log = self.world.target(params, sending=False)
        message_id = params.get_int("message_id", missing="message identifier is not specified")
        message = log.live(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return log, message

    def _edit(
        self, log: ChatLog, message: ChatMessage, params: Params, **changes: object
    ) -> JsonDict:
        markup, buttons = parse_reply_markup(
            params.opt_object("reply_markup", "reply keyboard markup")
        )
        markup = inline_part(markup)
        unchanged = all(getattr(message, k) == v for k, v in changes.items())
        if unchanged and inline_part(message.reply_markup) == markup:
            raise bad_request(NOT_MODIFIED)
        version = self.world.change(
            log,
            message,
            reply_markup=markup,
            buttons=buttons if markup else [],
            edited=True,
            edit_date=self.world.now(),
            **changes,
        )
        return self.world.message_json(log, version)

    async def edit_message_text(self, params: Params) -> JsonDict:
        log, message = self._editable(params)
        if message.media:
            raise bad_request("there is no text in the message to edit")
        text, entities = message_text(
            params.get_str("text", missing="message text is empty"),
            params.opt_str("parse_mode"),
            params.opt_array("entities", "entities"),
        )
        preview = params.opt_object("link_preview_options", "link preview options")
        changes: dict[str, object] = {"text": text, "entities": entities}
        if preview is not None:
            changes["link_preview_options"] = preview
        return self._edit(log, message, params, **changes)

    async def edit_message_caption(self, params: Params) -> JsonDict:
        log, message = self._editable(params)
        if not message.media:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self._caption(params)
        return self._edit(log, message, params, text=caption, entities=entities)

    async def edit_message_reply_markup(self, params: Params) -> JsonDict:
        log, message = self._editable(params)
        return self._edit(log, message, params)

    async def delete_message(self, params: Params) -> bool:
        log = self.world.chat_log(params.values.get("chat_id"))
        message_id = params.get_int("message_id", missing="message identifier is not specified")
        message = log.live(message_id)
        if message is None:
            raise bad_request("message to delete not found")
        self.world.change(log, message, deleted=True)
        return True

    async def delete_messages(self, params: Params) -> bool:
        log = self.world.chat_log(params.values.get("chat_id"))
        ids = params.opt_array("message_ids", "message identifiers")
        if not ids:
            raise bad_request("message identifiers are not specified")
        for message_id in ids:
            message = log.live(message_id) if isinstance(message_id, int) else None
            if message is not None:
                self.world.change(log, message, deleted=True)
        return True

    async def send_chat_action(self, params: Params) -> bool:
        self.world.target(params, sending=False)
        if params.opt_str("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def answer_callback_query(self, params: Params) -> bool:
        query_id = params.get_str("callback_query_id", missing="query_id is empty")
        query = self.world.pending_queries.pop(query_id, None)
        if query is None or time.monotonic() - query.created > self.world.callback_answer_timeout:
            raise bad_request(QUERY_TOO_OLD)
        text = params.opt_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        self.world.answered_callbacks[query_id] = CallbackAnswer(
            query_id,
            text,
            params.flag("show_alert"),
            params.opt_str("url"),
            params.opt_int("cache_time"),
        )
        self.world.signal.notify()
        return True
