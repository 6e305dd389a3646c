"""The emulator's world: chat transcripts, stored files, and one signal that wakes waiters.

Everything runs on one event loop (the server's handlers and the test), so plain objects
mutated between awaits are consistent; waiters re-check their condition when the signal fires
instead of sleeping in a loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from .errors import bad_request
from .models import ChatEvent, ChatMessage, DocumentFile, JsonDict, TgChat

T = TypeVar("T")


class Signal:
    """Wakes every waiter on each change; a waiter re-checks its own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, check: Callable[[], T | None], seconds: float | None, what: str) -> T:
        """The first non-None result of `check`; TimeoutError naming `what` after `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                while (result := check()) is None:
                    await self._event.wait()
                return result
        except TimeoutError:
            raise TimeoutError(f"timed out after {seconds} s waiting for {what}") from None


@dataclass
class ChatLog:
    """One chat's messages (latest versions) and the ordered events that produced them."""

    chat: TgChat
    instance: str
    messages: dict[int, ChatMessage] = field(default_factory=dict)
    events: list[ChatEvent] = field(default_factory=list)
    blocked: bool = False
    _next_id: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_message_id(self) -> int:
        return next(self._next_id)

    def add(self, message: ChatMessage) -> ChatMessage:
        self.messages[message.message_id] = message
        self.events.append(ChatEvent("new", message))
        return message

    def replace(self, message: ChatMessage, **changes: Any) -> ChatMessage:
        """Store a new version of `message` and record it as an edit or deletion."""
        version = dataclasses.replace(message, **changes)
        self.messages[message.message_id] = version
        self.events.append(ChatEvent("delete" if version.deleted else "edit", version))
        return version

    def live(self, message_id: int) -> ChatMessage | None:
        message = self.messages.get(message_id)
        return None if message is None or message.deleted else message

    def transcript(self) -> list[ChatMessage]:
        return list(self.messages.values())


@dataclass(frozen=True)
class StoredFile:
    """A file the Bot API knows: its ids, its path on the file server, its bytes."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes = field(repr=False)
    kind: str = "document"

    def to_json(self) -> JsonDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


class FileStore:
    """Files by file_id and by path; the file server answers `{url}/file/bot<token>/<path>`."""

    MAX_DOWNLOAD = 20 * 1024 * 1024
    PREFIXES: ClassVar[dict[str, str]] = {"photo": "AgACAgIAAxkBAA", "document": "BQACAgIAAxkBAA"}

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._numbers = itertools.count(1)

    def add(self, data: bytes, kind: str, extension: str = "") -> StoredFile:
        number = next(self._numbers)
        folder = "photos" if kind == "photo" else "documents"
        stored = StoredFile(
            file_id=f"{self.PREFIXES.get(kind, 'BQAC')}{number}{secrets.token_hex(8)}",
            file_unique_id=f"AQAD{number}{secrets.token_hex(4)}",
            file_path=f"{folder}/file_{number}{extension}",
            data=data,
            kind=kind,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def alias(self, stored: StoredFile) -> StoredFile:
        """Another file_id for the same bytes (one per photo size)."""
        number = next(self._numbers)
        alias = dataclasses.replace(
            stored,
            file_id=f"{self.PREFIXES.get(stored.kind, 'BQAC')}{number}{secrets.token_hex(8)}",
            file_unique_id=f"AQAD{number}{secrets.token_hex(4)}",
        )
        self._by_id[alias.file_id] = alias
        return alias

    def get(self, file_id: str) -> StoredFile:
        """The file, or 400 "invalid file_id"."""
        stored = self._by_id.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        return stored

    def find(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def at_path(self, path: str) -> StoredFile | None:
        return self._by_path.get(path)

    def document(self, stored: StoredFile, file_name: str | None, mime: str | None) -> JsonDict:
        """The Document object Telegram puts in a message."""
        data: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if file_name:
            data["file_name"] = file_name
        if mime:
            data["mime_type"] = mime
        return data

    @staticmethod
    def document_file(stored: StoredFile, file_name: str | None, mime: str | None) -> DocumentFile:
        return DocumentFile(stored.file_id, file_name, mime, stored.data)
