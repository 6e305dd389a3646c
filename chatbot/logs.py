"""Logging set-up: one line per event, text or JSON, with secrets redacted from every line.

Redaction happens in the formatter, after the message and any traceback are rendered, so a
secret that slips into an exception's text or a library's debug line is still masked. Known
secrets (the bot token, the master keys) are masked exactly; Binance-shaped keys (64 letters and
digits), bot tokens and PEM private keys are masked by pattern.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

MASK = "[REDACTED]"
_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b"),  # Telegram bot token
    re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])"),  # Binance API key or secret
    re.compile(r"(signature=)[A-Za-z0-9%+/=]{20,}"),
    re.compile(r"(X-MBX-APIKEY['\"]?\s*[:=]\s*['\"]?)[^'\",\s]+", re.I),
]


class Redactor:
    """Masks known secret values and secret-shaped strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 6 and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
        return text


# Characters that could end a line or rewrite it on a terminal: C0/C1 controls, DEL and the
# Unicode line and paragraph separators. (JSON lines escape them already.)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    r"""`\n` for a newline, `\r`, `\t`, and `\xNN` / `\uNNNN` for the others: user input in a
    message can then never start a line that looks like a log entry of its own."""
    return _CONTROL.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named is not None:
        return named
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


class RedactingFormatter(logging.Formatter):
    """Text lines (`time level logger: message`) or JSON lines, redacted. In text lines the
    message is kept on its line (control characters escaped), and every line of a traceback
    is indented, so only the first line of an entry ever starts at the margin."""

    def __init__(self, redactor: Redactor, json_lines: bool = False) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redact = redactor
        self._json = json_lines

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        text = super().formatException(ei)
        return text if self._json else _indent(text)

    def formatStack(self, stack_info: str) -> str:
        return _indent(stack_info)

    def format(self, record: logging.LogRecord) -> str:
        if not self._json:
            return self._redact(super().format(record))
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return self._redact(json.dumps(entry, ensure_ascii=False))


def _indent(text: str) -> str:
    """Every line indented: an exception's message may hold user input with newlines."""
    return "\n".join("    " + line for line in text.split("\n"))


# Loggers held above DEBUG whatever LOG_LEVEL says, and why.
QUIET_LOGGERS = {
    # python-telegram-bot's DEBUG lines dump whole updates: what users typed, secrets included.
    "telegram": logging.INFO,
    # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "apscheduler": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    # aiosqlite's DEBUG lines repr every statement with its parameters: alert notes, user ids,
    # key ciphertext.
    "aiosqlite": logging.WARNING,
    # aiohttp's client, server and WebSocket loggers may show payloads at DEBUG.
    "aiohttp": logging.INFO,
    # asyncio's DEBUG lines show task and callback reprs, which can hold arguments.
    "asyncio": logging.INFO,
    # Not secret, but their DEBUG output (font scans) drowns the bot's own lines.
    "matplotlib": logging.INFO,
    "PIL": logging.INFO,
}


def configure_logging(
    level: str = "INFO",
    json_lines: bool = False,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> Redactor:
    """Route all logging to `stream` (stderr) through the redacting formatter; returns the
    redactor so secrets learnt later can be added."""
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(redactor, json_lines))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, floor in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))
    return redactor
