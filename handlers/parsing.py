"""The command grammar: what users type, turned into typed values or a `CommandError`.

Parsing checks the shape only (a symbol looks like a symbol, a number like a number); whether
Binance lists the symbol is the market service's business. Every error says what was wrong and
shows a correct example.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from chatbot.errors import UserError

MAX_SYMBOLS = 10
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}$")
_NUMBER_RE = re.compile(r"^\d+(\.\d+)?$|^\.\d+$")


class CommandError(UserError):
    """The command was typed wrong; the message says how to type it."""


def normalize_symbol(text: str, example: str = "/price BTCUSDT") -> str:
    """`btc/usdt`, `BTC-USDT`, `BTC_USDT`, `btcusdt` -> `BTCUSDT`; `BTC` stays `BTC`.

    A bare asset is resolved to its USDT pair by the market service, which knows what exists.
    """
    name = re.sub(r"[/\-_]", "", text.strip().upper())
    if not _SYMBOL_RE.match(name):
        raise CommandError(f"“{_clip(text)}” is not a symbol. Type it like BTCUSDT: {example}")
    return name


def parse_symbols(args: list[str], command: str = "/price") -> list[str]:
    """One to ten symbols, in order, without duplicates."""
    if not args:
        raise CommandError(f"Which symbol? Type for example: {command} BTCUSDT ETHUSDT")
    if len(args) > MAX_SYMBOLS:
        raise CommandError(
            f"At most {MAX_SYMBOLS} symbols at a time; you sent {len(args)}. "
            f"For example: {command} BTC ETH SOL"
        )
    symbols = [normalize_symbol(arg, f"{command} BTCUSDT") for arg in args]
    return list(dict.fromkeys(symbols))


def parse_one_symbol(args: list[str], command: str) -> str:
    """Exactly one symbol, for commands like `/trades BTCUSDT`."""
    if len(args) != 1:
        raise CommandError(f"Type one symbol, for example: {command} BTCUSDT")
    return normalize_symbol(args[0], f"{command} BTCUSDT")


def parse_optional_symbol(args: list[str], command: str) -> str | None:
    """No argument, or one symbol (`/orders` or `/orders BTCUSDT`)."""
    if not args:
        return None
    return parse_one_symbol(args, command)


def parse_amount(text: str, what: str, example: str) -> Decimal:
    """A positive decimal typed with `.` and no exponent (`0.001`, `65000`, `.5`)."""
    cleaned = text.strip()
    if not _NUMBER_RE.match(cleaned):
        hint = " Use a dot for decimals and no thousands separators." if "," in cleaned else ""
        raise CommandError(f"“{_clip(text)}” is not a valid {what}.{hint} Example: {example}")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise CommandError(f"“{_clip(text)}” is not a valid {what}. Example: {example}") from None
    if value <= 0:
        raise CommandError(f"The {what} must be more than zero. Example: {example}")
    return value


def _clip(text: str, limit: int = 24) -> str:
    """Echo user input back short, so a pasted secret or a long string is not repeated whole."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
