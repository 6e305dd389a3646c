"""What the user typed for an order (`/buy BTCUSDT 0.01 @ 65000`, `/sell BTC 100 USDT`,
`/buy ETH $50`), and whether its amount is of the base or the quote asset."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chatbot.errors import UserError
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.side import Side

USD_QUOTES = frozenset({"USDT", "USDC", "FDUSD", "BUSD", "TUSD"})


@dataclass(frozen=True)
class OrderIntent:
    """What the user typed: `/buy BTCUSDT 0.01 @ 65000`, `/sell BTC 100 USDT`, `/buy ETH $50`."""

    side: Side
    symbol: str
    amount: Decimal
    unit: str | None = None  # the asset named after the amount, if any
    in_quote: bool = False  # "$100": an amount of the quote asset
    price: Decimal | None = None  # a limit price; None for a market order

    def __post_init__(self) -> None:
        # "BUY" typed by a caller becomes Side.BUY, so `side is Side.BUY` holds; a typo raises.
        object.__setattr__(self, "side", Side(self.side))


def amount_in_quote(intent: OrderIntent, rules: SymbolRules) -> bool:
    """`100 USDT` or `$100` is an amount of the quote asset; `0.01 BTC` or `0.01` is base."""
    if intent.in_quote:
        if rules.quote_asset not in USD_QUOTES:
            raise UserError(
                f"$ amounts work on USD pairs; {rules.symbol} is quoted in "
                f"{rules.quote_asset}. Example: /buy {rules.base_asset} 0.01"
            )
        return _quote_allowed(intent, rules)
    if intent.unit is None or intent.unit == rules.base_asset:
        return False
    if intent.unit == rules.quote_asset:
        return _quote_allowed(intent, rules)
    raise UserError(
        f"{rules.symbol} trades {rules.base_asset} for {rules.quote_asset}, not {intent.unit}. "
        f"Example: /buy {rules.symbol} 100 {rules.quote_asset}"
    )


def _quote_allowed(intent: OrderIntent, rules: SymbolRules) -> bool:
    if intent.price is not None:
        raise UserError(
            f"A limit order takes a quantity of {rules.base_asset}, not an amount of "
            f"{rules.quote_asset}. Example: /buy {rules.symbol} 0.01 @ 65000"
        )
    if not rules.quote_order_qty_market_allowed:
        raise UserError(f"{rules.symbol} does not accept orders by {rules.quote_asset} amount.")
    return True
