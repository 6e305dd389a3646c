"""A new alert on a perpetual (`/alert BTCUSDT.P > 70000`, `/alert BTC.P funding > 0.05%`):
the contract must trade, a price level is set against the mark price (which the futures mark
price stream then follows) and a funding level against the funding rate now; either is refused
when it is already met, since it would fire at once.

Only price levels and funding levels exist on perpetuals: moves, indicators and volume spikes
read spot trades and candles (the grammar refuses them first; this is the service's guard).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chatbot.errors import UserError
from chatbot.services.alert_kinds import AlertSpec, FundingLevel, PriceLevel, funding_pct
from chatbot.services.alert_levels import kind_level, mark_level
from chatbot.services.futures_market import FuturesMarketService, futures_key
from chatbot.storage.alerts import AlertDirection

STEP = Decimal("0.0001")  # 0.01%: how far beyond the rate now an example level goes
FUNDING_ON_SPOT = (
    "Funding rates are for perpetuals: add .P to the symbol, like /alert BTC.P funding > 0.05%"
)
ONLY_LEVELS = (
    "On a perpetual, alerts are on the mark price (/alert BTC.P > 70000, /alert BTC.P +5%) or "
    "on the funding rate (/alert BTC.P funding > 0.05%)."
)


@dataclass(frozen=True)
class Terms:
    """What a new alert is set at: its symbol (a spot symbol or a perpetual's key), the price
    now (the last trade, or the mark price), its direction, threshold and condition as shown,
    a move's change now, a perpetual's funding rate now (a fraction)."""

    symbol: str
    price: Decimal
    direction: AlertDirection
    threshold: Decimal
    shown: str
    change: Decimal | None = None
    rate: Decimal | None = None


async def perpetual_terms(futures: FuturesMarketService, spec: AlertSpec, contract: str) -> Terms:
    """The terms of an alert on `contract` (Binance's futures symbol, `BTCUSDT`); raises
    `UnknownContract`, `ContractNotTrading` or a UserError for a level already met."""
    found, premium = await futures.mark(contract)
    key, mark, rate = futures_key(found.symbol), premium.mark_price, premium.last_funding_rate
    condition = spec.condition
    if isinstance(condition, PriceLevel):
        direction, threshold, shown = mark_level(condition, mark, found.tick_size)
        if _met(direction, mark, threshold):
            raise UserError(
                f"That alert would fire at once: {key}'s mark price is {mark.normalize():f} "
                f"now. Example: /alert {key} > {(mark * Decimal('1.05')).quantize(Decimal(1))}"
            )
        return Terms(key, mark, direction, threshold, shown, rate=rate)
    if not isinstance(condition, FundingLevel):
        raise UserError(ONLY_LEVELS)
    if rate is None:
        raise UserError(f"Binance gives no funding rate for {key} now. Try again later.")
    direction, threshold, shown = kind_level(condition)
    if _met(direction, rate, threshold):
        raise UserError(
            f"That alert would fire at once: {key}'s funding rate is {funding_pct(rate)}% now. "
            f"Pick a level beyond it, like /alert {key} funding {condition.operator} "
            f"{funding_pct(rate + (STEP if condition.operator == '>' else -STEP))}%"
        )
    return Terms(key, mark, direction, threshold, shown, rate=rate)


def _met(direction: AlertDirection, now: Decimal, level: Decimal) -> bool:
    if direction is AlertDirection.ABOVE:
        return now >= level
    return now <= level
