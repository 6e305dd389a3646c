"""Market data for the chat: symbols resolved against exchangeInfo, quotes, trades, prices.

Public data only: nothing here needs a user's key. A symbol is checked against the cached
exchangeInfo before any request that names it, so a typo costs no request weight.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from dataclasses import dataclass
from decimal import Decimal

from chatbot.errors import UserError
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.market_models import Kline, MarketTrade, Ticker24h
from chatbot.exchange.reference_prices import ReferencePrices, reference_minutes
from chatbot.exchange.symbol_rules import ExchangeFilters, SymbolRules
from chatbot.exchange.weight_governor import background
from chatbot.services.move_series import RESOLUTIONS, resolution_of
from chatbot.services.shared_answers import SharedAnswers

DEFAULT_QUOTE = "USDT"
PRICE_CACHE_SECONDS = 5.0
# A /price answer at most this old: every user asking about a symbol within this second is
# served by one request, so a thousand users asking for BTC cost the weight budget one call.
QUOTE_CACHE_SECONDS = 1.0


class UnknownSymbol(UserError):
    """Binance does not list the symbol; the message suggests the closest real ones."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown symbol {name}.{hint}")


class SymbolNotTrading(UserError):
    def __init__(self, rules: SymbolRules) -> None:
        super().__init__(f"{rules.symbol} is not trading right now (status {rules.status}).")


@dataclass(frozen=True)
class Quote:
    rules: SymbolRules
    ticker: Ticker24h


class MarketService:
    """Resolves what users type to Binance symbols and fetches public market data."""

    def __init__(self, client: BinanceClient) -> None:
        self._client = client
        self._prices: dict[str, Decimal] = {}
        self._prices_at = 0.0
        self._quotes = SharedAnswers(self._tickers, QUOTE_CACHE_SECONDS)

    async def resolve(self, name: str) -> SymbolRules:
        """`BTCUSDT` as listed, else `BTC` + the default quote; raises `UnknownSymbol`."""
        symbols = (await self._client.exchange_info()).symbols
        for candidate in (name, name + DEFAULT_QUOTE):
            if candidate in symbols:
                return symbols[candidate]
        raise UnknownSymbol(name, _suggest(name, list(symbols)))

    async def refresh_rules(self) -> None:
        """Re-read every symbol's rules now (Binance refused an order by one of them)."""
        await self._client.exchange_info(refresh=True)

    async def resolve_many(self, names: list[str]) -> list[SymbolRules]:
        return [await self.resolve(name) for name in names]

    async def quotes(self, names: list[str]) -> list[Quote]:
        """24 h statistics for up to ten symbols in one request (weight 2)."""
        rules = await self.resolve_many(names)
        by_symbol = await self._quotes.get([r.symbol for r in rules])
        return [Quote(r, by_symbol[r.symbol]) for r in rules if r.symbol in by_symbol]

    async def _tickers(self, symbols: list[str]) -> dict[str, Ticker24h]:
        return {t.symbol: t for t in await self._client.ticker_24hr(symbols)}

    async def recent_trades(
        self, name: str, limit: int = 10
    ) -> tuple[SymbolRules, list[MarketTrade]]:
        """The last market trades, newest first."""
        rules = await self.resolve(name)
        trades = await self._client.trades(rules.symbol, limit=limit)
        return rules, sorted(trades, key=lambda t: t.id, reverse=True)

    async def last_prices(self, *, refresh: bool = False) -> dict[str, Decimal]:
        """Every symbol's last price, cached a few seconds (one request of weight 4)."""
        if refresh or time.monotonic() - self._prices_at > PRICE_CACHE_SECONDS:
            self._prices = {p.symbol: p.price for p in await self._client.ticker_prices()}
            self._prices_at = time.monotonic()
        return self._prices

    async def exchange_filters(self) -> ExchangeFilters:
        """The limits over all symbols together (exchangeInfo's `exchangeFilters`), cached."""
        return (await self._client.exchange_info()).exchange_filters

    async def reference_prices(self, rules: SymbolRules, order_type: str) -> ReferencePrices:
        """The reference price of each filter that will judge an order of `order_type` (see
        `reference_minutes`), fetched as Binance defines it by the filter's avgPriceMins:

        - the minutes `/api/v3/avgPrice` reports (`{mins, price}`, usually all filters'): its
          price, one request of weight 2;
        - 0: the last price (`/api/v3/ticker/price`);
        - any other number: the volume-weighted price of the last that many 1-minute klines.
          That is an approximation: Binance averages the trades of exactly those minutes, the
          klines cover whole minutes, the current one only partly. A window without trades
          falls back to the last price.
        """
        needed = reference_minutes(rules, order_type)
        wanted = set(needed.values())
        by_minutes: dict[int, Decimal] = {}
        if any(minutes > 0 for minutes in wanted):
            average = await self._client.avg_price(rules.symbol)
            by_minutes[average.mins] = average.price
        missing = sorted(wanted - by_minutes.keys())
        prices = await asyncio.gather(*(self._price_over(rules.symbol, m) for m in missing))
        by_minutes.update(zip(missing, prices, strict=True))
        return ReferencePrices.from_minutes(needed, by_minutes)

    async def closed_klines(self, symbol: str, interval: str, since_ms: int) -> list[Kline]:
        """The closed candles of `interval` opened at or after `since_ms`, oldest first: alert
        history, read as background work of the weight budget, 1,000 a call. The newest candle
        Binance returns is the one still open, left out."""
        klines: list[Kline] = []
        start = since_ms
        with background():
            while True:
                page = await self._client.klines(symbol, interval, limit=1000, start_time=start)
                klines += page
                if len(page) < 1000:
                    break
                start = page[-1].open_time + 1
        return klines[:-1]

    async def price_before(self, symbol: str, window: int) -> Decimal | None:
        """The price `window` seconds before the last trade, as a move alert's book reads it:
        the close of the candle holding that instant, 1-minute candles for windows up to
        12 h and 15-minute ones beyond (None when the symbol's history is shorter). Counted in
        Binance's own candles, so it holds whatever the bot's clock says."""
        interval = resolution_of(window)
        back = max(1, window * 1000 // RESOLUTIONS[interval])
        candles = await self._client.klines(symbol, interval, limit=back + 1)
        return candles[0].close if len(candles) == back + 1 else None

    async def _price_over(self, symbol: str, minutes: int) -> Decimal:
        """The last price (0 minutes), or the VWAP of the last `minutes` 1-minute klines."""
        if minutes > 0:
            candles = await self._client.klines(symbol, "1m", limit=minutes)
            volume = sum((c.volume for c in candles), Decimal(0))
            if volume > 0:
                return sum((c.quote_volume for c in candles), Decimal(0)) / volume
        return (await self._client.ticker_price(symbol)).price

    async def usdt_value(self, asset: str, amount: Decimal) -> Decimal | None:
        """`amount` of `asset` in USDT: direct pair, else through BTC; None when unpriceable."""
        if asset == DEFAULT_QUOTE:
            return amount
        prices = await self.last_prices()
        if (direct := prices.get(asset + DEFAULT_QUOTE)) is not None:
            return amount * direct
        if (inverse := prices.get(DEFAULT_QUOTE + asset)) and inverse > 0:
            return amount / inverse
        via_btc, btc = prices.get(asset + "BTC"), prices.get("BTC" + DEFAULT_QUOTE)
        if via_btc is not None and btc is not None:
            return amount * via_btc * btc
        return None


def _suggest(name: str, symbols: list[str]) -> list[str]:
    """Close spellings first, then other pairs of the same base asset."""
    close = difflib.get_close_matches(name, symbols, n=3, cutoff=0.6)
    same_base = sorted(s for s in symbols if s.startswith(name[:3]) and s not in close)
    return (close + same_base)[:3]
