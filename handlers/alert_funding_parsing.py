"""The perpetuals' part of the /alert grammar: which conditions a perpetual takes, and the
funding level.

    /alert BTCUSDT.P > 70000        the mark price crossing a level (also < and +5% / -5%)
    /alert BTC.P funding > 0.05%    the funding rate at or above a level (a percentage)
    /alert BTC-PERP funding < -0.01%

A funding level is typed as a percentage, as Binance's pages show rates, and kept as the
fraction Binance sends (0.05% -> 0.0005). A number without `%` is refused rather than guessed
at: 0.05 could mean 0.05% or 5%.
"""

from __future__ import annotations

import re
from decimal import Decimal

from chatbot.services.alert_kinds import FundingLevel
from chatbot.services.alert_perpetuals import FUNDING_ON_SPOT, ONLY_LEVELS
from handlers.parsing import CommandError, _clip, _refuse_foreign_digits

FUNDING_EXAMPLE = "/alert BTC.P funding > 0.05%"
MAX_FUNDING_PCT = Decimal(10)  # Binance caps funding far below this (±2-3% a period)
_RATE_RE = re.compile(r"([+-]?)([0-9]{1,3}(?:\.[0-9]{1,6})?|\.[0-9]{1,6})%")

__all__ = ["FUNDING_ON_SPOT", "ONLY_LEVELS", "funding_level", "refuse_on_perpetual"]


def funding_level(rest: list[str]) -> tuple[FundingLevel, list[str]]:
    """`> 0.05%`, `< -0.01%` (after the word `funding`), and what follows it."""
    if not rest or rest[0] not in {">", "<"}:
        got = f"“{_clip(rest[0])}”" if rest else "nothing"
        raise CommandError(
            f"Type > or < after funding, not {got}. Example: {FUNDING_EXAMPLE}, or "
            "/alert BTC.P funding < -0.01%"
        )
    if len(rest) < 2:
        raise CommandError(f"Which funding rate, in percent? Example: {FUNDING_EXAMPLE}")
    text = rest[1]
    _refuse_foreign_digits(text, FUNDING_EXAMPLE)
    match = _RATE_RE.fullmatch(text)
    if match is None:
        raise CommandError(
            f"“{_clip(text)}” is not a funding rate: type it in percent with the % sign, "
            f"like 0.05% or -0.01%. Example: {FUNDING_EXAMPLE}"
        )
    pct = Decimal(match.group(1) + match.group(2))
    if abs(pct) > MAX_FUNDING_PCT:
        raise CommandError(
            f"A funding rate of {_clip(text)} never happens: Binance caps funding at a few "
            f"percent a period. Example: {FUNDING_EXAMPLE}"
        )
    return FundingLevel(rest[0], pct / 100), rest[2:]


def refuse_on_perpetual(head: str) -> CommandError:
    """What a perpetual does not take (a move over a window, an indicator, volume)."""
    return CommandError(f"“{_clip(head)}” does not work on perpetuals. {ONLY_LEVELS}")
