"""An order's side, as Binance spells it on the wire: a value every layer names (the exchange
sends it, the tickets table keeps it, the services and handlers decide and word by it), so it
lives beside `key_types.py` where storage can name it without importing the exchange."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """BUY or SELL. A StrEnum is its own string: it goes into Binance's parameters and the
    tickets table as exactly "BUY" / "SELL", and compares equal to the strings Binance sends."""

    BUY = "BUY"
    SELL = "SELL"
