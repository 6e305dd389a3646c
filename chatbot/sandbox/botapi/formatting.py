"""Message text as Telegram stores it: parse_mode applied, whitespace trimmed, limits checked.

A bot that forgets to escape a `<` in HTML, or a `.` in MarkdownV2, gets 400 "can't parse
entities" from Telegram; the emulator parses the same way so such bugs surface in tests.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import bad_request
from .markup_html import parse_html
from .markup_markdown import parse_markdown, parse_markdown_v2
from .textutil import Entity, utf16_len

MAX_TEXT = 4096
MAX_CAPTION = 1024
TRIMMED = " \t\r\n"
BOT_COMMAND = re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")


def message_text(
    text: str, parse_mode: str | None, entities: list[Any] | None
) -> tuple[str, list[Entity]]:
    """A message's stored text and entities; 400 when empty, too long or badly formatted."""
    plain, found = format_text(text, parse_mode, entities)
    if not plain:
        raise bad_request("message text is empty")
    if len(plain) > MAX_TEXT:
        raise bad_request("message is too long")
    return plain, found


def caption_text(
    caption: str | None, parse_mode: str | None, entities: list[Any] | None
) -> tuple[str, list[Entity]]:
    """A media caption's stored text and entities (may be empty); 400 when too long."""
    if not caption:
        return "", []
    plain, found = format_text(caption, parse_mode, entities)
    if len(plain) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return plain, found


def format_text(
    text: str, parse_mode: str | None, entities: list[Any] | None
) -> tuple[str, list[Entity]]:
    """Plain text and entities, trimmed of surrounding whitespace as Telegram does.

    Explicit `entities` win over `parse_mode`. Raises ApiError 400 on bad markup.
    """
    if entities is not None:
        plain, found = text, check_entities(text, entities)
    elif not parse_mode:
        plain, found = text, []
    else:
        plain, found = parse(text, parse_mode)
    return trim(plain, found)


def parse(text: str, parse_mode: str) -> tuple[str, list[Entity]]:
    """Apply one parse mode (case-insensitive, as Telegram accepts it)."""
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise bad_request(f"unsupported parse_mode {parse_mode!r}")


def check_entities(text: str, entities: list[Any]) -> list[Entity]:
    """Explicit entities, kept when they fall inside the text."""
    size = utf16_len(text)
    checked: list[Entity] = []
    for entity in entities:
        if not isinstance(entity, dict) or not isinstance(entity.get("type"), str):
            raise bad_request("can't parse entities JSON object")
        offset, length = entity.get("offset"), entity.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0:
            raise bad_request("can't parse entities JSON object")
        if length > 0 and offset + length <= size:
            checked.append(dict(entity))
    return checked


def trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Drop leading/trailing whitespace, shifting and clipping entities to what remains."""
    stripped = text.strip(TRIMMED)
    if stripped == text:
        return text, sorted_entities(entities)
    shift = utf16_len(text[: len(text) - len(text.lstrip(TRIMMED))])
    size = utf16_len(stripped)
    kept: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, sorted_entities(kept)


def sorted_entities(entities: list[Entity]) -> list[Entity]:
    """Outer entities first, as Telegram lists them."""
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def command_entities(text: str) -> list[Entity]:
    """The `bot_command` entities Telegram adds to a user's message ("/price", "/buy@bot")."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in BOT_COMMAND.finditer(text)
    ]
