"""The command grammar: what users type, turned into typed values or a `CommandError`.

Parsing checks the shape only (a symbol looks like a symbol, a number like a number); whether
Binance lists the symbol is the market service's business. Every error says what was wrong and
shows a correct example. The /alert grammar, with its many kinds, is `handlers/alert_parsing.py`.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from chatbot.errors import UserError
from chatbot.exchange.grid import FINEST, LARGEST
from chatbot.services.order_intent import OrderIntent
from chatbot.side import Side

MAX_SYMBOLS = 10
# No price, quantity or amount on Binance exceeds LARGEST (see grid.py), and no asset is counted
# in finer units than 10^-18. Anything past these is a typo, and refusing it here keeps every
# number the filters see to a few dozen digits.
MAX_NUMBER = LARGEST
MAX_DECIMALS = 18
# Order ids (Binance) and alert ids (SQLite) are 64-bit signed integers.
MAX_ID = 2**63 - 1
# No price can rise further than from the finest (10^-8) to the largest Binance number.
MAX_MOVE = (LARGEST / FINEST - 1) * 100
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}$")
# A perpetual, as users write it: TradingView's `BTCUSDT.P`, exchanges' `BTC-PERP` / `BTCPERP`.
_PERPETUAL_RE = re.compile(r"^(?P<name>.+?)(?:\.P|PERP)$")
# The margin assets of Binance's USDⓈ-M perpetuals; a bare base asset gets USDT.
FUTURES_QUOTES = ("USDT", "USDC")
# [0-9], not \d: \d also matches full-width and other scripts' digits, which Decimal() reads.
_NUMBER_RE = re.compile(r"^[0-9]+(\.[0-9]+)?$|^\.[0-9]+$")
_ID_RE = re.compile(r"^[0-9]{1,19}$")


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


def names_perpetual(text: str) -> bool:
    """True when `text` carries a perpetual's suffix (`.P`, `PERP`): `/price BTCUSDT.P` asks
    for the futures market, `/price BTCUSDT` for spot."""
    return _PERPETUAL_RE.match(text.strip().upper()) is not None


def normalize_futures_symbol(
    text: str, example: str = "/fprice BTC", *, suffix_required: bool = False
) -> str:
    """What a user types for a USDⓈ-M perpetual, as Binance's futures symbol: `BTCUSDT.P`,
    `btcusdt.p`, `BTC.P`, `BTC-PERP`, `BTCPERP` -> `BTCUSDT`; `ETHUSDC.P` -> `ETHUSDC`.

    A command that serves only futures (/fprice, /funding) needs no suffix (`BTC`, `BTCUSDT`);
    one that serves both markets passes `suffix_required`, and a text without the suffix is
    refused. Whether Binance lists the contract is the futures market service's business.
    """
    cleaned = text.strip().upper()
    match = _PERPETUAL_RE.match(cleaned)
    if match is None and suffix_required:
        raise CommandError(
            f"“{_clip(text)}” is not a perpetual futures symbol. Add .P to the name, like "
            f"BTCUSDT.P or BTC.P: {example}"
        )
    name = re.sub(r"[/\-_]", "", match.group("name") if match else cleaned)
    if not _SYMBOL_RE.fullmatch(name) or name in FUTURES_QUOTES:
        raise CommandError(
            f"“{_clip(text)}” is not a perpetual futures symbol. Type it like BTCUSDT.P, BTC.P "
            f"or BTC-PERP: {example}"
        )
    if name.endswith(FUTURES_QUOTES) and len(name) > 4:
        return name
    return f"{name}USDT"


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
    _refuse_foreign_digits(text, example)
    if not _NUMBER_RE.match(cleaned):
        hint = " Use a dot for decimals and no thousands separators." if "," in cleaned else ""
        raise CommandError(f"“{_clip(text)}” is not a valid {what}.{hint} Example: {example}")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise CommandError(f"“{_clip(text)}” is not a valid {what}. Example: {example}") from None
    if value <= 0:
        raise CommandError(f"The {what} must be more than zero. Example: {example}")
    return _within_limits(value, text, what, example)


def _within_limits(value: Decimal, text: str, what: str, example: str) -> Decimal:
    """`value` unless it is larger or finer than any number Binance deals in."""
    if abs(value) > MAX_NUMBER:
        largest = f"{MAX_NUMBER.to_integral_value(rounding='ROUND_FLOOR'):,}"
        article = "an" if what[:1] in "aeiou" else "a"
        raise CommandError(
            f"“{_clip(text)}” is too large: Binance takes {article} {what} of at most {largest}. "
            f"Example: {example}"
        )
    return _refuse_many_decimals(value, text, example)


def _refuse_many_decimals(value: Decimal, text: str, example: str) -> Decimal:
    if -int(value.as_tuple().exponent) > MAX_DECIMALS:
        raise CommandError(
            f"“{_clip(text)}” has too many decimals: at most {MAX_DECIMALS}, and Binance "
            f"rounds to far fewer. Example: {example}"
        )
    return value


def parse_id(text: str, what: str, example: str) -> int:
    """An id (an order's, an alert's): digits 0-9, a leading `#` allowed, at most 2^63 - 1."""
    cleaned = text.strip().removeprefix("#")
    _refuse_foreign_digits(text, example)
    if not _ID_RE.match(cleaned) or int(cleaned) > MAX_ID:
        raise CommandError(f"“{_clip(text)}” is not {what}. Example: {example}")
    return int(cleaned)


def _refuse_foreign_digits(text: str, example: str) -> None:
    """Refuse digits other than 0-9: full-width (１２), superscript (²), circled (①), other
    scripts' (١٢). `int()` and `Decimal()` read some of them and not others, so rather than
    guess, the bot reads none, and a number it echoes back is always the one the user typed."""
    if any(char.isnumeric() and not char.isascii() for char in text):
        raise CommandError(
            f"“{_clip(text)}” has digits I cannot read: type numbers with the digits 0-9 "
            f"(switch off full-width input). Example: {example}"
        )


def _clip(text: str, limit: int = 24) -> str:
    """Echo user input back short, so a pasted secret or a long string is not repeated whole."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


_LIMIT_WORDS = {"@", "at", "limit"}


def parse_order(side: Side, args: list[str]) -> OrderIntent:
    """`SYMBOL QTY`, `SYMBOL QTY @ PRICE` (or `at`/`limit`), `SYMBOL 100 USDT`, `SYMBOL $100`."""
    command = f"/{side.lower()}"
    example = (
        f"{command} BTCUSDT 0.001 (market), {command} BTCUSDT 0.001 @ 65000 (limit), "
        f"{command} BTCUSDT 100 USDT (spend/receive an amount)"
    )
    tokens = " ".join(args).replace("@", " @ ").split()
    if len(tokens) < 2:
        raise CommandError(f"Type it like {example}")
    symbol = normalize_symbol(tokens[0], f"{command} BTCUSDT 0.001")
    amount_text, rest = tokens[1], tokens[2:]
    in_quote = amount_text.startswith("$")
    amount = parse_amount(amount_text.removeprefix("$"), "amount", f"{command} BTCUSDT 0.001")
    unit = None
    if rest and rest[0].lower() not in _LIMIT_WORDS:
        unit = rest.pop(0).upper()
        if in_quote or not _SYMBOL_RE.match(unit):
            raise CommandError(f"Type it like {example}")
    price = None
    if rest:
        if rest[0].lower() not in _LIMIT_WORDS or len(rest) != 2:
            raise CommandError(f"Type it like {example}")
        price = parse_amount(rest[1], "price", f"{command} BTCUSDT 0.001 @ 65000")
    return OrderIntent(side, symbol, amount, unit=unit, in_quote=in_quote, price=price)


def parse_cancel(args: list[str]) -> tuple[int | None, str | None]:
    """`/cancel ORDER_ID` -> (id, None); `/cancel SYMBOL all` -> (None, SYMBOL)."""
    example = (
        "/cancel 123456 (one order; /orders lists them), /cancel list 12 (an OCO or OTOCO) "
        "or /cancel BTCUSDT all"
    )
    if len(args) == 1:
        return parse_id(args[0], "an order id", example), None
    if len(args) == 2 and args[1].lower() == "all":
        return None, normalize_symbol(args[0], "/cancel BTCUSDT all")
    raise CommandError(f"Type it like {example}")


def parse_cancel_list(args: list[str]) -> tuple[int, str | None]:
    """`/cancel list 12` -> (12, None); `/cancel list 12 BTCUSDT` -> (12, BTCUSDT): Binance
    numbers order lists per symbol, so the symbol settles which list when two share an id."""
    example = "/cancel list 12 (the list's # in /orders), or /cancel list 12 BTCUSDT"
    if len(args) not in (1, 2):
        raise CommandError(f"Type it like {example}")
    list_id = parse_id(args[0], "an order list id", example)
    symbol = normalize_symbol(args[1], "/cancel list 12 BTCUSDT") if len(args) == 2 else None
    return list_id, symbol


def parse_unalert(args: list[str]) -> list[int] | None:
    """`/unalert 12 13` -> [12, 13]; `/unalert all` -> None (all of them)."""
    if len(args) == 1 and args[0].lower() == "all":
        return None
    example = "/unalert 12 (ids from /alerts) or /unalert all"
    if not args:
        raise CommandError(f"Type it like {example}")
    return [parse_id(arg, "an alert id", example) for arg in args]


# -- button data ---------------------------------------------------------------------------------
# What the bot's own buttons carry. Each button handler is registered for its pattern only, so
# data a client forged (or a button of an older version) never reaches it: it gets "This button
# is no longer active" instead. `\Z`, not `$`, which would let a trailing newline through.
DELKEY_BUTTON = r"^delkey:(yes|no):([0-9]{1,19})\Z"
TICKET_BUTTON = r"^t:([cx]):([A-Za-z0-9_-]{1,36})\Z"  # a ticket id is a client order id
LARGEST_BUTTON = r"^t:m:([A-Za-z0-9_-]{1,36})\Z"
ALERT_BUTTON = r"^a:(again|trade):([0-9]{1,18})\Z"  # an id SQLite can hold
CHART_BUTTON = r"^chart:([A-Z0-9]{2,20}(?:\.P)?)\Z"  # a spot symbol or a perpetual's key


def button_fields(match: re.Match[str] | None) -> tuple[str, ...]:
    """The fields of button data, as its handler's pattern matched them."""
    if match is None:  # the handler was registered without its pattern
        raise UserError("This button is no longer active.")
    return match.groups()
