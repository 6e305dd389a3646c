"""Pure helpers of the chat side: splitting long replies, redacting logs."""

import logging
import sys

from hypothesis import given
from hypothesis import strategies as st

from chatbot.logs import MASK, RedactingFormatter, Redactor
from handlers.common import split_message


def test_short_text_is_one_part():
    assert split_message("hello\nworld") == ["hello\nworld"]


def test_long_text_splits_on_line_boundaries():
    lines = [f"line {i:04d} " + "x" * 80 for i in range(200)]
    parts = split_message("\n".join(lines))
    assert len(parts) > 1
    assert all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts).split("\n") == lines


@given(st.lists(st.text(alphabet="ab \n", max_size=300), max_size=40))
def test_split_keeps_every_character_and_respects_the_limit(chunks):
    text = "\n".join(chunks)
    parts = split_message(text, limit=100)
    assert all(len(p) <= 100 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_redactor_masks_known_and_shaped_secrets():
    redact = Redactor(["123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"])
    key = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAw\n-----END PRIVATE KEY-----"
    text = (
        f"GET https://api.telegram.org/bot123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij/getMe "
        f"key={key} {pem} signature=c8db56825ae71d6d79447849e617115f"
    )
    out = redact(text)
    assert "ABCDEFGHIJ" not in out and key not in out and "MC4CAQAw" not in out
    assert "c8db5682" not in out and out.count(MASK) >= 4


def test_formatter_redacts_tracebacks():
    secret = "S" * 64
    formatter = RedactingFormatter(Redactor())
    try:
        raise ValueError(f"boom {secret}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "f", 1, "failed", None, sys.exc_info())
    assert secret not in formatter.format(record)


def test_text_lines_cannot_be_forged_by_input():
    formatter = RedactingFormatter(Redactor())
    forged = "x\n2099-01-01 00:00:00,000 INFO chatbot.app: approved\r\u2028\x1b[2K"
    record = logging.LogRecord("x", logging.INFO, "f", 1, "got %s", (forged,), None)
    line = formatter.format(record)
    assert "\n" not in line and "\r" not in line and "\u2028" not in line and "\x1b" not in line
    assert "x\\n2099-01-01" in line and "\\u2028" in line and "\\x1b" in line


def test_traceback_lines_are_indented_below_their_entry():
    formatter = RedactingFormatter(Redactor())
    try:
        raise ValueError("bad\n2099-01-01 00:00:00,000 INFO chatbot.app: approved")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "f", 1, "failed", None, sys.exc_info())
    first, *rest = formatter.format(record).split("\n")
    assert "failed" in first and rest and all(line.startswith("    ") for line in rest)
