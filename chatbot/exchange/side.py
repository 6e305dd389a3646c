"""An order's side, as Binance spells it on the wire."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """BUY or SELL. A StrEnum is its own string: it goes into Binance's parameters and the
    tickets table as exactly "BUY" / "SELL", and compares equal to the strings Binance sends."""

    BUY = "BUY"
    SELL = "SELL"
