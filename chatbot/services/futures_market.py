"""USDⓈ-M perpetual futures market data for the chat: contracts resolved against the futures
exchangeInfo, quotes with mark price, funding and open interest, trades, funding history.

Read-only and public, like `market.py` for spot: nothing here needs a user's key, and a name
is checked against the cached contracts before any request that names it, so a typo costs no
weight. Only perpetuals are served (a quarterly contract is refused like an unknown name).

Across the bot a perpetual is named by its *key*, Binance's futures symbol with `.P`
(`BTCUSDT.P`, TradingView's spelling): in an alert's `symbol` column, in buttons and in
messages. A spot symbol never ends in `.P`, so the key keeps the two markets apart wherever
alerts are indexed, sharded or followed. `futures_key` and `contract_of` convert.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from dataclasses import dataclass
from decimal import Decimal

from chatbot.errors import UserError
from chatbot.exchange.futures_client import FuturesMarketClient
from chatbot.exchange.futures_models import (
    FundingRate,
    FuturesContract,
    FuturesTicker24h,
    OpenInterest,
    PremiumIndex,
)
from chatbot.exchange.market_models import Kline, MarketTrade
from chatbot.exchange.weight_governor import background
from chatbot.services.shared_answers import SharedAnswers

FUTURES_SUFFIX = ".P"
MARK_CACHE_SECONDS = 2.0  # every contract's mark price and funding, read at most this often
QUOTE_CACHE_SECONDS = 1.0  # a contract's /price and /funding answer, shared by every user
HISTORY_RECHECK_MS = 60_000  # settled fundings read again this soon when the newest may lag
FUNDING_HISTORY = 5  # settled fundings /funding shows per contract
EXTREMES = 5  # contracts /funding lists on each side without symbols


def futures_key(symbol: str) -> str:
    """`BTCUSDT` -> `BTCUSDT.P`: how the bot names a perpetual (see the module docstring)."""
    return symbol + FUTURES_SUFFIX


def contract_of(key: str) -> str | None:
    """`BTCUSDT.P` -> `BTCUSDT`; None for a spot symbol."""
    return key[: -len(FUTURES_SUFFIX)] if key.endswith(FUTURES_SUFFIX) else None


class UnknownContract(UserError):
    """Binance lists no perpetual of that name; the message suggests the closest ones."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Binance lists no perpetual futures contract {name}.{hint}")


class ContractNotTrading(UserError):
    def __init__(self, contract: FuturesContract) -> None:
        super().__init__(
            f"{futures_key(contract.symbol)} is not trading right now (status {contract.status})."
        )


@dataclass(frozen=True)
class FuturesQuote:
    """What `/price BTCUSDT.P` shows: last price and 24 h statistics, mark and index price,
    funding (rate and next settlement in `premium`), open interest."""

    contract: FuturesContract
    ticker: FuturesTicker24h
    premium: PremiumIndex
    open_interest: OpenInterest

    @property
    def key(self) -> str:
        return futures_key(self.contract.symbol)


@dataclass(frozen=True)
class FundingView:
    """What `/funding BTCUSDT.P` shows: the current rate (`premium.last_funding_rate`, the
    one the next settlement at `premium.next_funding_time` applies) and the last settled
    ones, newest first."""

    contract: FuturesContract
    premium: PremiumIndex
    history: list[FundingRate]


class FuturesMarketService:
    """Resolves what users type to perpetuals and fetches their public market data."""

    def __init__(self, client: FuturesMarketClient) -> None:
        self.client = client
        self._marks: dict[str, PremiumIndex] = {}
        self._marks_at = 0.0
        self._marks_lock = asyncio.Lock()
        self._quotes = SharedAnswers(self._read_quotes, QUOTE_CACHE_SECONDS)
        self._views = SharedAnswers(self._read_funding, QUOTE_CACHE_SECONDS)
        self._settled: dict[str, tuple[int, list[FundingRate]]] = {}  # until (ms), newest first

    async def resolve(self, name: str) -> FuturesContract:
        """A perpetual by Binance's futures symbol (`BTCUSDT`; `.P` and the like are the
        handlers' to strip, see handlers/parsing.py `normalize_futures_symbol`); raises
        `UnknownContract` for a name Binance does not list as a perpetual."""
        contracts = (await self.client.exchange_info()).contracts
        contract = contracts.get(name)
        if contract is not None and contract.is_perpetual:
            return contract
        perpetuals = [c.symbol for c in contracts.values() if c.is_perpetual]
        raise UnknownContract(futures_key(name), _suggest(name, perpetuals))

    async def trading(self, name: str) -> FuturesContract:
        """`resolve`, and refused with `ContractNotTrading` unless the contract trades (an
        alert on a contract in settlement would never fire)."""
        contract = await self.resolve(name)
        if not contract.is_trading:
            raise ContractNotTrading(contract)
        return contract

    async def quotes(self, names: list[str]) -> list[FuturesQuote]:
        """Each contract's quote: 24 h ticker, premium index and open interest (weight 3 a
        contract, read at once), shared by every user asking within `QUOTE_CACHE_SECONDS`."""
        contracts = [await self.resolve(name) for name in names]
        by_symbol = await self._quotes.get([c.symbol for c in contracts])
        return [by_symbol[c.symbol] for c in contracts if c.symbol in by_symbol]

    async def _read_quotes(self, symbols: list[str]) -> dict[str, FuturesQuote]:
        contracts = (await self.client.exchange_info()).contracts  # cached: no weight
        quotes = await asyncio.gather(*(self._quote(contracts[s]) for s in symbols))
        return {quote.contract.symbol: quote for quote in quotes}

    async def _quote(self, contract: FuturesContract) -> FuturesQuote:
        symbol = contract.symbol
        ticker, premium, interest = await asyncio.gather(
            self.client.ticker_24hr(symbol),
            self.client.premium_index(symbol),
            self.client.open_interest(symbol),
        )
        return FuturesQuote(contract, ticker, premium, interest)

    async def recent_trades(
        self, name: str, limit: int = 10
    ) -> tuple[FuturesContract, list[MarketTrade]]:
        """The last trades of a contract, newest first."""
        contract = await self.resolve(name)
        trades = await self.client.trades(contract.symbol, limit=limit)
        return contract, sorted(trades, key=lambda t: t.id, reverse=True)

    async def marks(self, *, refresh: bool = False) -> dict[str, PremiumIndex]:
        """Every contract's mark price and funding by futures symbol (one request of weight
        10), cached `MARK_CACHE_SECONDS`; `refresh` reads them now (after a stream gap)."""
        async with self._marks_lock:
            stale = time.monotonic() - self._marks_at > MARK_CACHE_SECONDS
            if refresh or stale or not self._marks:
                self._marks = {p.symbol: p for p in await self.client.premium_indexes()}
                self._marks_at = time.monotonic()
            return self._marks

    async def mark(self, name: str) -> tuple[FuturesContract, PremiumIndex]:
        """A trading perpetual and its mark price and funding now (weight 1): what a new
        mark-price or funding alert is set against."""
        contract = await self.trading(name)
        return contract, await self.client.premium_index(contract.symbol)

    async def funding(self, names: list[str]) -> list[FundingView]:
        """Each contract's current funding rate and its last `FUNDING_HISTORY` settled ones,
        shared by every user asking within `QUOTE_CACHE_SECONDS`."""
        contracts = [await self.resolve(name) for name in names]
        by_symbol = await self._views.get([c.symbol for c in contracts])
        return [by_symbol[c.symbol] for c in contracts if c.symbol in by_symbol]

    async def _read_funding(self, symbols: list[str]) -> dict[str, FundingView]:
        contracts = (await self.client.exchange_info()).contracts  # cached: no weight
        views = await asyncio.gather(*(self._funding(contracts[s]) for s in symbols))
        return {view.contract.symbol: view for view in views}

    async def _funding(self, contract: FuturesContract) -> FundingView:
        premium = await self.client.premium_index(contract.symbol)
        return FundingView(contract, premium, await self._settled_fundings(premium))

    async def _settled_fundings(self, premium: PremiumIndex) -> list[FundingRate]:
        """The last settled fundings, newest first. They change only at a settlement, and
        funding history has a limit of its own (500 calls in 5 minutes per IP): one read
        serves until the next settlement the premium index announces, once it holds the
        settlement before that one (just after a settlement Binance may not list it yet: such
        a read is kept `HISTORY_RECHECK_MS` only)."""
        kept = self._settled.get(premium.symbol)
        if kept is not None and premium.time < kept[0]:
            return kept[1]
        rows = await self.client.funding_rates(premium.symbol, limit=FUNDING_HISTORY)
        rows = sorted(rows, key=lambda f: -f.funding_time)
        until = premium.time + HISTORY_RECHECK_MS
        if _holds_the_last_settlement(rows, premium.next_funding_time):
            until = max(until, premium.next_funding_time)
        self._settled[premium.symbol] = (until, rows)
        return rows

    async def extremes(
        self, count: int = EXTREMES
    ) -> tuple[list[PremiumIndex], list[PremiumIndex]]:
        """The trading perpetuals with the highest and the lowest current funding rates
        (`count` each, the highest first, then the lowest first), from one read of every
        premium index: what `/funding` without symbols shows."""
        contracts = (await self.client.exchange_info()).contracts
        rated = [
            p
            for p in (await self.marks()).values()
            if p.last_funding_rate is not None
            and (c := contracts.get(p.symbol)) is not None
            and c.is_perpetual
            and c.is_trading
        ]
        rated.sort(key=lambda p: p.last_funding_rate or Decimal(0), reverse=True)
        highest = [p for p in rated[:count] if (p.last_funding_rate or 0) > 0]
        lowest = [p for p in reversed(rated[-count:]) if (p.last_funding_rate or 0) < 0]
        return highest, lowest

    async def klines(self, name: str, interval: str, limit: int = 100) -> list[Kline]:
        """A contract's last `limit` candles, oldest first (for /chart BTCUSDT.P)."""
        contract = await self.resolve(name)
        return await self.client.klines(contract.symbol, interval, limit=limit)

    async def closed_mark_klines(self, name: str, interval: str, since_ms: int) -> list[Kline]:
        """A contract's closed mark price candles opened at or after `since_ms`, oldest first
        (what a mark price alert's backtest reads), as background work of the futures weight
        budget, 1,000 a call; the newest candle, still open, is left out."""
        contract = await self.resolve(name)
        klines: list[Kline] = []
        start = since_ms
        with background():
            while True:
                page = await self.client.mark_price_klines(
                    contract.symbol, interval, limit=1000, start_time=start
                )
                klines += page
                if len(page) < 1000:
                    break
                start = page[-1].open_time + 1
        return klines[:-1]

    async def ticker(self, name: str) -> FuturesTicker24h:
        contract = await self.resolve(name)
        return await self.client.ticker_24hr(contract.symbol)


def _holds_the_last_settlement(rows: list[FundingRate], next_ms: int) -> bool:
    """Whether the newest row is the settlement before `next_ms`: no longer before it than
    the interval between the two newest rows (contracts settle every 8, 4 or 1 hours), give or
    take the milliseconds Binance's funding times stray by."""
    if len(rows) < 2 or not next_ms:
        return False
    interval = rows[0].funding_time - rows[1].funding_time
    return next_ms - rows[0].funding_time <= interval + HISTORY_RECHECK_MS


def _suggest(name: str, symbols: list[str]) -> list[str]:
    """Up to three listed perpetuals close to `name`, as keys (`BTCUSDT.P`)."""
    close = difflib.get_close_matches(name, symbols, n=3, cutoff=0.6)
    if not close:
        close = [s for s in symbols if s.startswith(name)][:3]
    return [futures_key(s) for s in close]
