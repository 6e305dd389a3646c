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
from typing import TextIO

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


class RedactingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor, json_lines: bool = False) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redact = redactor
        self._json = json_lines

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
