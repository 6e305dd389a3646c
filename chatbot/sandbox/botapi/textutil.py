"""Text measures shared by the markup parsers: UTF-16 lengths and UTF-8 byte offsets.

Bot API entity offsets count UTF-16 code units (an emoji outside the BMP counts 2), while
Telegram's parse errors name UTF-8 byte offsets; getting either wrong misplaces formatting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, bad_request

Entity = dict[str, Any]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: what Bot API entity offsets count."""
    return len(text.encode("utf-16-le")) // 2


def byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of `text[index]`, as Telegram's parse errors report it."""
    return len(text[:index].encode("utf-8"))


def parse_error(detail: str) -> ApiError:
    """400 "Bad Request: can't parse entities: <detail>"."""
    return bad_request(f"can't parse entities: {detail}")


@dataclass
class TextBuilder:
    """Plain text being produced by a parser, with its running length in UTF-16 units."""

    parts: list[str] = field(default_factory=list)
    size: int = 0

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.size += utf16_len(chunk)

    def text(self) -> str:
        return "".join(self.parts)
