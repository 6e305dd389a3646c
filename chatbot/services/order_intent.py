"""What the user typed for an order (`/buy BTCUSDT 0.01 @ 65000`, `/sell BTC 100 USDT`,
`/buy ETH $50`), and whether its amount is of the base or the quote asset; and the exits typed
with it or on their own (`tp 70000 sl -3% trail 1.5%`, `/protect ETH sl 2500`, `/sl BTC 64000`).

Exits are always SELL orders: the bot trades spot, so an exit protects coins held (bought by the
entry, or already in the account). `exit_plan.py` turns an `ExitSpec` into orders."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

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
    exits: ExitSpec | None = None  # `tp ... sl ... trail ...` typed after a /buy

    def __post_init__(self) -> None:
        # "BUY" typed by a caller becomes Side.BUY, so `side is Side.BUY` holds; a typo raises.
        object.__setattr__(self, "side", Side(self.side))


class ExitRole(StrEnum):
    """Which exit a level or a leg is: the take-profit (above the entry) or the stop-loss."""

    TAKE_PROFIT = "TAKE_PROFIT"
    STOP_LOSS = "STOP_LOSS"


@dataclass(frozen=True)
class ExitLevel:
    """Where an exit triggers, as typed: a price (`70000`) or a percentage of the reference
    price (`+5%` is `percent=Decimal(5)`, `-3%` is `Decimal(-3)`). Exactly one is set.

    The reference is the entry's limit price, else the best price when the entry is placed, or
    for /protect, /sl and /tp the last price; `exit_plan.resolve_level` applies it. The parser
    gives a take-profit's percentage a positive sign and a stop-loss's a negative one.
    """

    price: Decimal | None = None
    percent: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.price is None) == (self.percent is None):
            raise ValueError("an ExitLevel has a price or a percent, exactly one")


@dataclass(frozen=True)
class ExitSpec:
    """The exits typed with a /buy or a /protect, /sl or /tp (at least one of them is set).

    `trail_bps` is Binance's `trailingDelta` (1.5% is 150 basis points); it applies to the leg
    `trail_leg` names. A trailing leg's level, if any, is its activation price (Binance's
    `stopPrice` with a `trailingDelta`); a trailing stop-loss with no level trails from the
    moment it is placed (on a /buy, from the entry's fill). A trailing take-profit needs a level.
    """

    take_profit: ExitLevel | None = None
    stop_loss: ExitLevel | None = None
    trail_bps: int | None = None
    trail_leg: ExitRole | None = None

    def __post_init__(self) -> None:
        if (self.trail_bps is None) != (self.trail_leg is None):
            raise ValueError("trail_bps and trail_leg are set together")
        if self.take_profit is None and self.stop_loss is None and self.trail_bps is None:
            raise ValueError("an ExitSpec has at least one exit")
        if self.trail_leg is ExitRole.TAKE_PROFIT and self.take_profit is None:
            raise ValueError("a trailing take-profit needs its level (where it starts to trail)")

    @property
    def trailing_stop(self) -> bool:
        return self.trail_leg is ExitRole.STOP_LOSS

    @property
    def has_stop(self) -> bool:
        """A stop-loss leg exists: typed with a level, or a trailing stop with none."""
        return self.stop_loss is not None or self.trailing_stop


class ProtectKind(StrEnum):
    """Which command typed the exits on coins already held."""

    PROTECT = "protect"  # /protect ETH sl 2500 tp 3600: an OCO, or one side
    STOP_LOSS = "sl"  # /sl BTC 64000: a stop-loss alone
    TAKE_PROFIT = "tp"  # /tp BTC 70000: a take-profit alone


@dataclass(frozen=True)
class ProtectIntent:
    """`/protect ETH 0.5 sl 2500 tp 3600`, `/sl BTC 64000`, `/tp BTC +8%`: exits on coins held.

    `symbol` is as typed and normalized (`ETH` or `ETHUSDT`; the market service resolves a bare
    asset). `quantity` None means the free balance of the base asset, read when previewing.
    Percentages in `exits` are of the last price.
    """

    kind: ProtectKind
    symbol: str
    exits: ExitSpec
    quantity: Decimal | None = None


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
