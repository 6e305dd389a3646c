"""parse_mode=HTML as Telegram implements it, errors worded as Telegram's.

Only the tags in TAG_TYPES exist; only `&lt; &gt; &amp; &quot;` and numeric references are
decoded (any other `&name;` stays literal). A bare `<` starts a tag, so "1 < 2" fails with
'Unsupported start tag ""', which is exactly what a bot that forgets `html.escape` gets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ApiError
from .textutil import Entity, TextBuilder, byte_offset, parse_error

TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
REFERENCE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def decode_reference(text: str, index: int) -> tuple[str, int] | None:
    """The character an `&...;` at `index` stands for and its source length, or None."""
    match = REFERENCE.match(text, index)
    if match is None:
        return None
    name = match.group(1)
    if not name.startswith("#"):
        char = NAMED_REFERENCES.get(name)
        return None if char is None else (char, match.end() - index)
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end() - index


def unescape(text: str) -> str:
    """An attribute value with its character references decoded."""
    out, i = [], 0
    while i < len(text):
        decoded = decode_reference(text, i) if text[i] == "&" else None
        if decoded is None:
            out.append(text[i])
            i += 1
        else:
            out.append(decoded[0])
            i += decoded[1]
    return "".join(out)


@dataclass
class OpenTag:
    name: str
    attributes: dict[str, str]
    offset: int
    language: str | None = None


class HtmlParser:
    """One pass over the source: text goes to `out`, each closed tag becomes an entity."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.out = TextBuilder()
        self.stack: list[OpenTag] = []
        self.entities: list[Entity] = []

    def run(self) -> tuple[str, list[Entity]]:
        i = 0
        while i < len(self.source):
            char = self.source[i]
            decoded = decode_reference(self.source, i) if char == "&" else None
            if decoded is not None:
                self.out.add(decoded[0])
                i += decoded[1]
            elif char != "<":
                self.out.add(char)
                i += 1
            elif self.source.startswith("</", i):
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            name = self.stack[-1].name
            raise parse_error(f'Can\'t find end tag corresponding to start tag "{name}"')
        return self.out.text(), self.entities

    def fail(self, detail: str, index: int) -> ApiError:
        return parse_error(f"{detail} at byte offset {byte_offset(self.source, index)}")

    def start_tag(self, begin: int) -> int:
        source, i = self.source, begin + 1
        while i < len(source) and not source[i].isspace() and source[i] != ">":
            i += 1
        if i >= len(source):
            raise self.fail("Unclosed start tag", begin)
        name = source[begin + 1 : i].lower()
        if name not in TAG_TYPES:
            raise self.fail(f'Unsupported start tag "{name}"', begin)
        attributes, i = self.attributes(i, name, begin)
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise self.fail('Tag "span" must have class "tg-spoiler"', begin)
        self.stack.append(OpenTag(name, attributes, self.out.size))
        return i

    def attributes(self, i: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
        source, found = self.source, {}
        while True:
            i = self.skip_spaces(i)
            if i >= len(source):
                raise self.fail("Unclosed start tag", begin)
            if source[i] == ">":
                return found, i + 1
            start = i
            while i < len(source) and not source[i].isspace() and source[i] not in "=>":
                i += 1
            name = source[start:i].lower()
            if not name:
                raise self.fail(f'Empty attribute name in the tag "{tag}"', begin)
            i = self.skip_spaces(i)
            if name == "expandable" and (i >= len(source) or source[i] != "="):
                found[name] = ""
                continue
            if i >= len(source) or source[i] != "=":
                detail = f'Expected equal sign in declaration of an attribute of the tag "{tag}"'
                raise self.fail(detail, begin)
            found[name], i = self.attribute_value(self.skip_spaces(i + 1), begin)

    def skip_spaces(self, i: int) -> int:
        while i < len(self.source) and self.source[i].isspace():
            i += 1
        return i

    def attribute_value(self, i: int, begin: int) -> tuple[str, int]:
        source = self.source
        if i >= len(source):
            raise self.fail("Unclosed start tag", begin)
        if source[i] in "'\"":
            end = source.find(source[i], i + 1)
            if end < 0:
                raise self.fail("Unclosed start tag", begin)
            return unescape(source[i + 1 : end]), end + 1
        start = i
        while i < len(source) and (source[i].isalnum() or source[i] in ".-_"):
            i += 1
        return unescape(source[start:i]), i

    def end_tag(self, begin: int) -> int:
        end = self.source.find(">", begin)
        if end < 0:
            raise self.fail("Unclosed end tag", begin)
        name = self.source[begin + 2 : end].strip().lower()
        if not self.stack:
            raise self.fail("Unexpected end tag", begin)
        opened = self.stack.pop()
        if name != opened.name:
            offset = byte_offset(self.source, begin)
            raise parse_error(
                f'Unmatched end tag at byte offset {offset}, expected "</{opened.name}>", '
                f'found "</{name}>"'
            )
        self.close(opened)
        return end + 1

    def close(self, opened: OpenTag) -> None:
        css_class = opened.attributes.get("class", "")
        parent = self.stack[-1] if self.stack else None
        in_pre = opened.name == "code" and parent is not None and parent.name == "pre"
        if in_pre and parent is not None and css_class.startswith("language-"):
            parent.language = css_class.removeprefix("language-")
            return
        entity = self.entity(opened)
        if entity is not None and entity["length"] > 0:
            self.entities.append(entity)

    def entity(self, opened: OpenTag) -> Entity | None:
        entity: Entity = {
            "type": TAG_TYPES[opened.name],
            "offset": opened.offset,
            "length": self.out.size - opened.offset,
        }
        if opened.name == "a":
            if "href" not in opened.attributes:
                return None
            entity["url"] = opened.attributes["href"]
        elif opened.name == "pre" and opened.language:
            entity["language"] = opened.language
        elif opened.name == "blockquote" and "expandable" in opened.attributes:
            entity["type"] = "expandable_blockquote"
        elif opened.name == "tg-emoji":
            entity["custom_emoji_id"] = opened.attributes.get("emoji-id", "")
        return entity


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Plain text and entities of an HTML-formatted text; ApiError 400 on bad markup."""
    return HtmlParser(source).run()
