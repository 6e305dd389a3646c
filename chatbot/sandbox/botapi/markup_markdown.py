"""parse_mode=MarkdownV2 and the legacy Markdown, close to Telegram's parser.

MarkdownV2's trap is its reserved characters: an unescaped `.`, `-` or `!` anywhere outside
markup fails the whole message with "Character '.' is reserved and must be escaped with the
preceding '\\'", the classic bug of a bot that formats prices without `escape_markdown`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .textutil import Entity, TextBuilder, byte_offset, parse_error

RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
}
SINGLE_ENDS = {"bold": "*", "italic": "_", "strikethrough": "~", "text_link": "]"}


@dataclass
class OpenMark:
    kind: str
    offset: int
    index: int
    language: str | None = None


class MarkdownV2Parser:
    """One pass over the source: text goes to `out`, each closed mark becomes an entity."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.out = TextBuilder()
        self.stack: list[OpenMark] = []
        self.entities: list[Entity] = []
        self.quote_start: int | None = None

    def run(self) -> tuple[str, list[Entity]]:
        i = 0
        while i < len(self.source):
            i = self.step(i)
        self.end_quote()
        if self.stack:
            mark = self.stack[-1]
            offset = byte_offset(self.source, mark.index)
            name = NAMES[mark.kind]
            raise parse_error(f"Can't find end of {name} entity at byte offset {offset}")
        return self.out.text(), self.entities

    def step(self, i: int) -> int:
        char = self.source[i]
        nxt = self.source[i + 1] if i + 1 < len(self.source) else ""
        top = self.stack[-1].kind if self.stack else None
        if char == "\\" and nxt and 0 < ord(nxt) <= 126:
            self.out.add(nxt)
            return i + 2
        if top in ("code", "pre"):
            return self.in_code(i, top)
        if char == "\n":
            self.end_quote()
        if char not in RESERVED:
            self.out.add(char)
            return i + 1
        width = self.closing_width(char, nxt, top)
        return self.close(i, width) if width else self.open(i, char, nxt)

    def in_code(self, i: int, top: str) -> int:
        marker = "```" if top == "pre" else "`"
        if self.source.startswith(marker, i):
            return self.close(i, len(marker))
        self.out.add(self.source[i])
        return i + 1

    @staticmethod
    def closing_width(char: str, nxt: str, top: str | None) -> int:
        if top == "underline" and char == "_" and nxt == "_":
            return 2
        if top == "spoiler" and char == "|" and nxt == "|":
            return 2
        return 1 if top is not None and SINGLE_ENDS.get(top) == char else 0

    def open(self, i: int, char: str, nxt: str) -> int:
        if char == "`":
            return self.open_code(i)
        if char == ">" and (i == 0 or self.source[i - 1] == "\n"):
            if self.quote_start is None:
                self.quote_start = self.out.size
            return i + 1
        kind, width = self.opening(char, nxt)
        if kind is None:
            raise parse_error(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        self.stack.append(OpenMark(kind, self.out.size, i))
        return i + width

    @staticmethod
    def opening(char: str, nxt: str) -> tuple[str | None, int]:
        if char == "_":
            return ("underline", 2) if nxt == "_" else ("italic", 1)
        if char == "|" and nxt == "|":
            return "spoiler", 2
        simple = {"*": "bold", "~": "strikethrough", "[": "text_link"}
        return simple.get(char), 1

    def open_code(self, i: int) -> int:
        if not self.source.startswith("```", i):
            self.stack.append(OpenMark("code", self.out.size, i))
            return i + 1
        mark = OpenMark("pre", self.out.size, i)
        line_end = self.source.find("\n", i + 3)
        first_line = self.source[i + 3 : line_end] if line_end >= 0 else ""
        start = i + 3
        if first_line and not any(c.isspace() for c in first_line):
            mark.language = first_line
            start = line_end + 1
        self.stack.append(mark)
        return start

    def close(self, i: int, width: int) -> int:
        mark = self.stack.pop()
        entity: Entity = {
            "type": mark.kind,
            "offset": mark.offset,
            "length": self.out.size - mark.offset,
        }
        i += width
        if mark.language:
            entity["language"] = mark.language
        if mark.kind == "text_link":
            url, i = self.link_target(i)
            if url is None:
                return i
            entity["url"] = url
        if entity["length"] > 0:
            self.entities.append(entity)
        return i

    def link_target(self, i: int) -> tuple[str | None, int]:
        if not self.source.startswith("(", i):
            return None, i
        url, j = [], i + 1
        while j < len(self.source) and self.source[j] != ")":
            if self.source[j] == "\\" and j + 1 < len(self.source):
                j += 1
            url.append(self.source[j])
            j += 1
        if j >= len(self.source):
            offset = byte_offset(self.source, i)
            raise parse_error(f"Can't find end of a URL at byte offset {offset}")
        return "".join(url), j + 1

    def end_quote(self) -> None:
        """Close a `>` quote at the end of its line, merging it with a quote on the line above."""
        if self.quote_start is None:
            return
        start, self.quote_start = self.quote_start, None
        previous = self.entities[-1] if self.entities else {"type": None}
        if previous["type"] == "blockquote" and previous_end(previous) + 1 == start:
            previous["length"] = self.out.size - previous["offset"]
            return
        if self.out.size > start:
            self.entities.append(
                {"type": "blockquote", "offset": start, "length": self.out.size - start}
            )


def previous_end(entity: Entity) -> int:
    return entity["offset"] + entity["length"]


def parse_markdown_v2(source: str) -> tuple[str, list[Entity]]:
    """Plain text and entities of a MarkdownV2 text; ApiError 400 on bad markup."""
    return MarkdownV2Parser(source).run()


LEGACY_MARKS = {"*": "bold", "_": "italic", "`": "code", "```": "pre", "[": "text_link"}


def parse_markdown(source: str) -> tuple[str, list[Entity]]:
    """Legacy Markdown: `*bold*`, `_italic_`, `` `code` ``, ```` ```pre``` ````, `[text](url)`."""
    out, entities, i = TextBuilder(), [], 0
    while i < len(source):
        char = source[i]
        if char == "\\" and i + 1 < len(source) and source[i + 1] in "*_`[":
            out.add(source[i + 1])
            i += 2
            continue
        opener = "```" if source.startswith("```", i) else char
        if opener not in LEGACY_MARKS:
            out.add(char)
            i += 1
            continue
        closer = "]" if opener == "[" else opener
        start = i + len(opener)
        end = source.find(closer, start)
        if end < 0:
            offset = byte_offset(source, i)
            raise parse_error(f"Can't find end of the entity starting at byte offset {offset}")
        entity: Entity = {"type": LEGACY_MARKS[opener], "offset": out.size}
        out.add(source[start:end])
        entity["length"] = out.size - entity["offset"]
        i = end + len(closer)
        if opener == "[":
            url_end = source.find(")", i) if source.startswith("(", i) else -1
            if url_end < 0:
                continue
            entity["url"], i = source[i + 1 : url_end], url_end + 1
        if entity["length"] > 0:
            entities.append(entity)
    return out.text(), entities
