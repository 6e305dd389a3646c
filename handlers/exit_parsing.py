"""The exit grammar: a stop-loss, a take-profit and a trailing stop typed after a /buy, or on
coins already held with /protect, /sl and /tp, turned into an `ExitSpec` or a `CommandError`.

    /buy COIN AMOUNT [@ PRICE] CLAUSE...      /buy BTC 0.01 @ 66000 tp 70000 sl 64000
    /protect COIN [QUANTITY] CLAUSE...        /protect ETH 0.5 sl 2500 tp 3600
    /sl COIN [QUANTITY @] LEVEL [trail PCT]   /sl BTC 64000, /sl BTC 0.01 @ -5%
    /sl COIN [QUANTITY @] trail PCT           /sl BTC trail 2% (trails from now)
    /tp COIN [QUANTITY @] LEVEL [trail PCT]   /tp BTC +8%, /tp BTC 70000 trail 2%

    CLAUSE is `tp LEVEL`, `sl LEVEL` or `trail [sl|tp] PCT`, in any order, each at most once.
    LEVEL is a price (`70000`) or a percentage of the reference price (`+5%`, `-3%`; an unsigned
    `5%` is +5% for tp and -5% for sl). The reference is a /buy's limit price, else the price
    when the entry is placed; for /protect, /sl and /tp it is the last price.
    `trail PCT` trails the stop-loss; `trail tp PCT` trails the take-profit instead. The
    percentage is Binance's trailingDelta in whole basis points (1.5% = 150; 1.505% is refused).
    A trailing leg's level is where it starts to trail; a trailing stop with no level trails
    from the moment it is placed. A trailing take-profit needs its level.

Only what the typed values prove is refused here (a tp below a typed limit price, a stop of
-100%); relations to the market's price are the exit service's to check.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

from chatbot.exchange.grid import format_decimal
from chatbot.services.order_intent import (
    ExitLevel,
    ExitRole,
    ExitSpec,
    OrderIntent,
    ProtectIntent,
    ProtectKind,
)
from chatbot.side import Side
from handlers.parsing import (
    _LIMIT_WORDS,
    MAX_MOVE,
    CommandError,
    _clip,
    _refuse_foreign_digits,
    _refuse_many_decimals,
    normalize_symbol,
    parse_amount,
    parse_order,
)

BUY_EXAMPLE = "/buy BTC 0.01 @ 66000 tp 70000 sl 64000"
PROTECT_EXAMPLE = "/protect ETH sl 2500 tp 3600"
SL_EXAMPLE = "/sl BTC 64000, /sl BTC -5%, /sl BTC 0.01 @ 64000 or /sl BTC trail 2%"
TP_EXAMPLE = "/tp BTC 70000, /tp BTC +8% or /tp BTC 0.01 @ 70000"
_EXIT_WORDS = {"tp", "sl", "trail"}
_ROLE_WORDS = {"tp": ExitRole.TAKE_PROFIT, "sl": ExitRole.STOP_LOSS}
_NAMES = {ExitRole.TAKE_PROFIT: "take-profit", ExitRole.STOP_LOSS: "stop-loss"}
_PERCENT_RE = re.compile(r"([+-]?)([0-9]+(?:\.[0-9]+)?|\.[0-9]+)%")


def parse_order_with_exits(side: Side, args: list[str]) -> OrderIntent:
    """`/buy` or `/sell` as `parse_order` reads it, plus the exit clauses a /buy may carry."""
    tokens = " ".join(args).replace("@", " @ ").split()
    start = next((i for i, t in enumerate(tokens) if i >= 2 and t.lower() in _EXIT_WORDS), None)
    if start is None:
        return parse_order(side, tokens)
    if side is Side.SELL:
        raise CommandError(f"tp/sl follow a /buy; to protect coins you hold type {PROTECT_EXAMPLE}")
    if any(t.lower() in _LIMIT_WORDS for t in tokens[start:]):
        raise CommandError(f"Put the limit price before the exits, like {BUY_EXAMPLE}")
    intent = parse_order(side, tokens[:start])
    exits = parse_exit_clauses(tokens[start:], BUY_EXAMPLE)
    _check_against(exits, intent.price, BUY_EXAMPLE)
    return replace(intent, exits=exits)


def parse_protect(args: list[str]) -> ProtectIntent:
    """`/protect COIN [QUANTITY] CLAUSE...`; no quantity means the free balance."""
    tokens = " ".join(args).split()
    if len(tokens) < 2 or tokens[0].lower() in _EXIT_WORDS:
        raise CommandError(f"Type the coin first, like {PROTECT_EXAMPLE} or /protect ETH sl -5%")
    symbol = normalize_symbol(tokens[0], PROTECT_EXAMPLE)
    rest, quantity = tokens[1:], None
    if rest[0].lower() not in _EXIT_WORDS:
        quantity = parse_amount(rest.pop(0), "quantity", "/protect ETH 0.5 sl 2500 tp 3600")
    if not rest:
        raise CommandError(f"Which exits? Type it like {PROTECT_EXAMPLE}")
    exits = parse_exit_clauses(rest, PROTECT_EXAMPLE)
    _check_against(exits, None, PROTECT_EXAMPLE)
    return ProtectIntent(ProtectKind.PROTECT, symbol, exits, quantity)


def parse_single_exit(kind: ProtectKind, args: list[str]) -> ProtectIntent:
    """`/sl COIN [QUANTITY @] LEVEL [trail PCT]` (or `/sl COIN trail PCT`), likewise `/tp`.

    `kind` is STOP_LOSS for /sl or TAKE_PROFIT for /tp (/protect is `parse_protect`'s).
    """
    if kind is ProtectKind.PROTECT:
        raise ValueError("/protect is parse_protect's")
    role = ExitRole.STOP_LOSS if kind is ProtectKind.STOP_LOSS else ExitRole.TAKE_PROFIT
    word, example = ("sl", SL_EXAMPLE) if role is ExitRole.STOP_LOSS else ("tp", TP_EXAMPLE)
    tokens = " ".join(args).replace("@", " @ ").split()
    if len(tokens) < 2:
        raise CommandError(f"Type it like {example}")
    symbol = normalize_symbol(tokens[0], example.split(",")[0])
    rest, quantity = tokens[1:], None
    at = next((i for i, t in enumerate(rest) if t.lower() in _LIMIT_WORDS), None)
    if at is not None:
        if at != 1:
            raise CommandError(f"Type the quantity before @, like {example}")
        quantity = parse_amount(rest[0], "quantity", f"/{word} BTC 0.01 @ 64000")
        rest = rest[2:]
    clauses = _single_clauses(word, rest, example)
    exits = parse_exit_clauses(clauses, example, single=f"/{word} BTC")
    return ProtectIntent(kind, symbol, exits, quantity)


def _single_clauses(word: str, rest: list[str], example: str) -> list[str]:
    """/sl and /tp's words as /protect's clauses: `64000 trail 2%` -> `sl 64000 trail sl 2%`."""
    trail = [i for i, t in enumerate(rest) if t.lower() == "trail"]
    level, tail = (rest, []) if not trail else (rest[: trail[0]], rest[trail[0] :])
    if len(level) > 1 or (tail and len(tail) != 2) or (not level and not tail):
        raise CommandError(f"Type it like {example}")
    if not level and word == "tp":
        raise CommandError(
            "A trailing take-profit starts to trail at its level: type it like "
            "/tp BTC 70000 trail 2%"
        )
    clauses = [word, level[0]] if level else []
    return clauses + (["trail", word, tail[1]] if tail else [])


def parse_exit_clauses(tokens: list[str], example: str, single: str | None = None) -> ExitSpec:
    """`tp LEVEL`, `sl LEVEL`, `trail [sl|tp] PCT` in any order, each at most once.

    `single` (`/sl BTC`, `/tp BTC`) words a level's examples for the one-exit commands.
    """
    levels: dict[ExitRole, ExitLevel] = {}
    trail: tuple[int, ExitRole] | None = None
    rest = list(tokens)
    while rest:
        word = rest.pop(0).lower()
        if word in _ROLE_WORDS:
            role = _ROLE_WORDS[word]
            if role in levels:
                raise CommandError(f"“{word}” is given twice; type each exit once: {example}")
            levels[role] = _parse_level(role, _next(rest, word, example), single)
        elif word == "trail":
            if trail is not None:
                raise CommandError(f"“trail” is given twice; one leg trails: {example}")
            leg = _ROLE_WORDS.get(rest[0].lower()) if rest else None
            if leg is not None:
                rest.pop(0)
            trail = (parse_trail(_next(rest, "trail", example)), leg or ExitRole.STOP_LOSS)
        else:
            raise CommandError(
                f"“{_clip(word)}” is not an exit: type tp PRICE, sl PRICE or trail PCT, "
                f"for example {example}"
            )
    return _spec(levels, trail)


def _spec(levels: dict[ExitRole, ExitLevel], trail: tuple[int, ExitRole] | None) -> ExitSpec:
    trails_tp = trail is not None and trail[1] is ExitRole.TAKE_PROFIT
    if trails_tp and ExitRole.TAKE_PROFIT not in levels:
        raise CommandError(
            "A trailing take-profit starts to trail at its level: type it like tp 70000 trail tp 2%"
        )
    return ExitSpec(
        take_profit=levels.get(ExitRole.TAKE_PROFIT),
        stop_loss=levels.get(ExitRole.STOP_LOSS),
        trail_bps=trail[0] if trail else None,
        trail_leg=trail[1] if trail else None,
    )


def _next(rest: list[str], word: str, example: str) -> str:
    if not rest or rest[0].lower() in _EXIT_WORDS:
        what = "a percentage such as 1.5%" if word == "trail" else "a price or a percentage"
        raise CommandError(f"“{word}” needs {what} after it, for example {example}")
    return rest.pop(0)


def _parse_level(role: ExitRole, text: str, single: str | None) -> ExitLevel:
    """A price, or a percentage signed by the role: tp up (+), sl down (-)."""
    name = _NAMES[role]
    word = single or ("tp" if role is ExitRole.TAKE_PROFIT else "sl")
    up = role is ExitRole.TAKE_PROFIT
    example = f"{word} 70000 or {word} +5%" if up else f"{word} 64000 or {word} -3%"
    if not text.endswith("%"):
        return ExitLevel(price=parse_amount(text, f"{name} price", example))
    percent = _parse_percent(text, example)
    sign = -1 if role is ExitRole.STOP_LOSS else 1
    if text.startswith("-" if sign > 0 else "+"):
        where = "above" if sign > 0 else "below"
        raise CommandError(f"A {name} is {where} the price: type {example}, not {text}.")
    if percent == 0:
        raise CommandError(f"A {name} of 0% is at the price itself. Type {example}")
    if sign < 0 and percent >= 100:
        raise CommandError(f"A stop-loss of -{percent}% is below zero. Type {example}")
    if percent > MAX_MOVE:
        raise CommandError(f"“{_clip(text)}” is more than any price can move. Type {example}")
    return ExitLevel(percent=sign * percent)


def _parse_percent(text: str, example: str) -> Decimal:
    """The unsigned size of `+5%`, `-3%`, `5%`, `.5%`."""
    _refuse_foreign_digits(text, example)
    match = _PERCENT_RE.fullmatch(text.strip())
    if match is None:
        raise CommandError(f"“{_clip(text)}” is not a percentage. Type {example}")
    return _refuse_many_decimals(Decimal(match.group(2)), text, example)


def parse_trail(text: str) -> int:
    """`1.5%` -> 150: Binance's trailingDelta, in whole basis points (0.01%), 0.01% to 99.99%.

    The symbol's TRAILING_DELTA filter narrows this (often 0.1% to 20%); the exit service
    checks it against the symbol.
    """
    example = "trail 1.5%"
    if text.startswith(("+", "-")):
        raise CommandError(f"Type the trailing distance without a sign, like {example}")
    percent = _parse_percent(text, example)
    bps = percent * 100
    if bps != bps.to_integral_value():
        raise CommandError(
            f"Binance trails in whole basis points (steps of 0.01%); {_clip(text)} is not one. "
            f"Type for example {example}"
        )
    if not 1 <= bps < 10_000:
        raise CommandError(f"A trailing distance is between 0.01% and 99.99%: {example}")
    return int(bps)


def _check_against(exits: ExitSpec, entry: Decimal | None, example: str) -> None:
    """Refuse what typed prices alone prove wrong: a tp at or under the sl or the entry."""
    tp = exits.take_profit.price if exits.take_profit else None
    sl = exits.stop_loss.price if exits.stop_loss else None
    if tp is not None and sl is not None and tp <= sl:
        raise CommandError(
            f"The take-profit ({format_decimal(tp)}) must be above the stop-loss "
            f"({format_decimal(sl)}): it sells when the price rises. For example {example}"
        )
    if entry is None:
        return
    if tp is not None and tp <= entry:
        raise CommandError(
            f"The take-profit ({format_decimal(tp)}) must be above your limit price "
            f"({format_decimal(entry)}), or it sells at a loss. For example tp +5%"
        )
    if sl is not None and sl >= entry:
        raise CommandError(
            f"The stop-loss ({format_decimal(sl)}) must be below your limit price "
            f"({format_decimal(entry)}), or it sells as soon as you buy. For example sl -3%"
        )
