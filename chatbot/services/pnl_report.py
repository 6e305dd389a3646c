"""/pnl: the user's profit and loss from their own trades, as a typed report.

The history is brought up to date first (`TradeHistory.read`, background work of the weight
budget), then every rate a trade or transfer needs is looked up at its own time
(`UsdtRates`), the figures computed (`pnl.compute`) and the books valued at today's prices
(one `ticker/price` call for every symbol, weight 4). The chart is drawn in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum

from chatbot.exchange.client import BinanceClient
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.exchange.weight_governor import background
from chatbot.services.keys import KeyService
from chatbot.services.pnl import Figures, PricedTrade, PricedTransfer, compute, value_now
from chatbot.services.pnl_chart import render_curve
from chatbot.services.trade_history import HistoryRead, Progress, TradeHistory, merged_transfers
from chatbot.services.usdt_rates import UsdtRates
from chatbot.storage.trade_history import StoredFill, Transfer

USDT = "USDT"


class Period(Enum):
    """What /pnl counts: by the bot's clock in UTC (users have no time zone yet)."""

    TODAY = "today"
    DAYS_7 = "7d"
    DAYS_30 = "30d"
    YTD = "ytd"
    ALL = "all"

    def start_ms(self, now: datetime) -> int | None:
        """The first millisecond counted; None: since the beginning."""
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        starts = {
            Period.TODAY: midnight,
            Period.DAYS_7: now - timedelta(days=7),
            Period.DAYS_30: now - timedelta(days=30),
            Period.YTD: midnight.replace(month=1, day=1),
        }
        start = starts.get(self)
        return None if start is None else int(start.timestamp() * 1000)


@dataclass(frozen=True)
class PnlReport:
    period: Period
    asset: str | None
    since_ms: int | None
    figures: Figures
    read: HistoryRead
    following_since: datetime  # when the bot began hearing the user's balance updates


class PnlService:
    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        history: TradeHistory,
        rates: UsdtRates,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._keys = keys
        self._history = history
        self._rates = rates
        self._clock = clock

    async def report(
        self,
        user_id: int,
        period: Period = Period.ALL,
        asset: str | None = None,
        progress: Progress | None = None,
    ) -> PnlReport:
        """Read what is new, then compute. Raises `NoApiKey` before anything is read."""
        read = await self._history.read(user_id, progress)
        since = period.start_ms(datetime.fromtimestamp(self._clock(), UTC))
        repo = self._history.repo
        with background():
            trades, transfers = await self._priced(
                await repo.trades(user_id), merged_transfers(await repo.transfers(user_id))
            )
            prices = await self._prices_now()
        figures = compute(trades, transfers, since_ms=since)
        value_now(figures, prices, read.balances)
        key = await self._keys.describe(user_id)
        return PnlReport(period, asset, since, figures, read, key.created_at)

    async def chart(self, report: PnlReport) -> bytes:
        """The report's curve as a PNG, drawn off the event loop."""
        return await asyncio.to_thread(render_curve, report.figures, report.since_ms)

    async def _priced(
        self, trades: list[StoredFill], transfers: list[Transfer]
    ) -> tuple[list[PricedTrade], list[PricedTransfer]]:
        listed = (await self._client.exchange_info()).symbols
        known = [(t, listed[t.symbol]) for t in trades if t.symbol in listed]
        wanted = {(r.quote_asset, t.time) for t, r in known}
        wanted |= {(t.commission_asset, t.time) for t, r in known if _third(t, r)}
        wanted |= {(t.asset, t.time_ms) for t in transfers}
        rates = await self._rates.rates(wanted)
        priced = [
            PricedTrade(
                t,
                r.base_asset,
                r.quote_asset,
                rates.get((r.quote_asset, t.time)),
                rates.get((t.commission_asset, t.time)) if _third(t, r) else None,
            )
            for t, r in known
        ]
        moves = [PricedTransfer(t, rates.get((t.asset, t.time_ms))) for t in transfers]
        return priced, moves

    async def _prices_now(self) -> dict[str, Decimal]:
        """USDT per unit of every asset with a USDT market (or a BTC one) now."""
        info = await self._client.exchange_info()
        last = {p.symbol: p.price for p in await self._client.ticker_prices()}
        prices: dict[str, Decimal] = {USDT: Decimal(1)}
        btc = last.get("BTCUSDT")
        for symbol, rules in info.symbols.items():
            price = last.get(symbol)
            if price is None:
                continue
            if rules.quote_asset == USDT:
                prices[rules.base_asset] = price
            elif rules.quote_asset == "BTC" and btc is not None:
                prices.setdefault(rules.base_asset, price * btc)
        return prices


def _third(trade: StoredFill, rules: SymbolRules) -> bool:
    """The fee was paid in neither of the symbol's assets (BNB, typically)."""
    return trade.commission_asset not in (rules.base_asset, rules.quote_asset, USDT)
