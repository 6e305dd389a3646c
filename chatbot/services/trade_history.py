"""The user's own trades and transfers, read from Binance into the database, incrementally.

Binance has no "symbols I traded" endpoint, and `myTrades` answers one symbol at a time, so the
symbols read are: every pair of the assets the account holds now or moved in or out (against
USDT and against each other, where Binance lists the pair), every symbol of an order the bot
placed or followed for the user, and every symbol read before. A pair of assets the user no
longer holds and never traded through the bot is not found: the reply names what was read.

Each symbol is read from its last stored trade id + 1, 1,000 fills at a time (`fromId`), so a
second /pnl fetches only what is new (one call per symbol). All of it runs as background work
of the shared weight budget: a first build with many symbols is paced within the budget while
other users' calls go first. Concurrent reads for one user share one build.

Deposits and withdrawals come from the capital history (back to the first trade, at most a
year before the last read) where the network and the key allow it, and from the user-data
stream's balance updates recorded as they happen (`record_live`); `merged_transfers` keeps one
of each when both saw it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from chatbot.exchange.capital import CapitalMove
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import AuthError, InvalidRequest, NotAvailable
from chatbot.exchange.events import BalanceChange
from chatbot.exchange.models import AccountTrade
from chatbot.exchange.weight_governor import background
from chatbot.services.keys import KeyService
from chatbot.storage.trade_history import (
    StoredFill,
    TradeHistoryRepository,
    Transfer,
    TransferSource,
)

PAGE = 1000  # fills per myTrades call (Binance's maximum)
USDT = "USDT"
NOT_AUTHORIZED = -1002  # "You are not authorized to execute this request."
DAY_MS = 86_400_000
WINDOW_MS = 90 * DAY_MS  # the longest span one capital history call may ask for
WINDOWS = 4  # capital history windows read at most: a year before the last read
SAME_TRANSFER_MS = DAY_MS  # a live update and a history row this close are the same move

Progress = Callable[[int, int], Awaitable[None]]  # (symbols read, symbols in all)


class TransferHistory(Enum):
    """Whether the capital history (deposits, withdrawals) could be read."""

    READ = "read"
    NO_SAPI = "no_sapi"  # the network has no /sapi (the Spot testnet)
    REFUSED = "refused"  # the key may not read the wallet


@dataclass(frozen=True)
class HistoryRead:
    """What one build read: the symbols, the new fills, the balances now, the transfers."""

    symbols: list[str]
    new_trades: int
    balances: dict[str, Decimal]
    transfer_history: TransferHistory


@dataclass
class _Build:
    task: asyncio.Task[HistoryRead]
    listeners: list[Progress] = field(default_factory=list)


class TradeHistory:
    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        repo: TradeHistoryRepository,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._keys = keys
        self._repo = repo
        self._clock = clock
        self._builds: dict[int, _Build] = {}

    @property
    def repo(self) -> TradeHistoryRepository:
        return self._repo

    async def read(self, user_id: int, progress: Progress | None = None) -> HistoryRead:
        """Bring the user's stored history up to date; `progress` hears each symbol read.
        Raises `NoApiKey` before anything is read; a second call while one runs joins it."""
        build = self._builds.get(user_id)
        if build is None:
            credentials = await self._keys.credentials(user_id)
            build = self._builds.get(user_id)  # another call may have started one meanwhile
        if build is None:
            with background():  # the task inherits the lane: all its calls are background
                task = asyncio.create_task(self._build(user_id, credentials))
            build = self._builds[user_id] = _Build(task)
            task.add_done_callback(lambda _: self._builds.pop(user_id, None))
        if progress is not None:
            build.listeners.append(progress)
        return await asyncio.shield(build.task)

    async def record_live(self, user_id: int, change: BalanceChange) -> None:
        """A `balanceUpdate` from the user-data stream: money in or out, not a trade."""
        ref = f"{change.event_time}:{change.asset}:{change.delta}"
        transfer = Transfer(TransferSource.LIVE, ref, change.asset, change.delta, change.clear_time)
        await self._repo.add_transfers(user_id, [transfer])

    async def _build(self, user_id: int, credentials: ApiCredentials) -> HistoryRead:
        build = self._builds[user_id]  # stored by `read` before this task first runs
        account = await self._client.account(credentials, omit_zero=True)
        balances = {b.asset: b.total for b in account.balances if b.total > 0}
        symbols = await self._symbols(user_id, set(balances))
        done, new = 0, 0
        await _tell(build, done, len(symbols))
        last_ids = await self._repo.last_ids(user_id)
        for symbol in symbols:
            new += await self._read_symbol(user_id, credentials, symbol, last_ids.get(symbol))
            done += 1
            await _tell(build, done, len(symbols))
        history = await self._read_transfers(user_id, credentials)
        return HistoryRead(symbols, new, balances, history)

    async def _symbols(self, user_id: int, held: set[str]) -> list[str]:
        listed = (await self._client.exchange_info()).symbols
        moved = {t.asset for t in await self._repo.transfers(user_id)}
        assets = held | moved
        quotes = assets | {USDT}
        pairs = {a + q for a in assets for q in quotes if a != q and a + q in listed}
        pairs |= set(await self._repo.symbols_in_orders(user_id))
        pairs |= set(await self._repo.last_ids(user_id))
        return sorted(pairs)

    async def _read_symbol(
        self, user_id: int, credentials: ApiCredentials, symbol: str, last_id: int | None
    ) -> int:
        """Read the symbol's fills after `last_id` (from the first when None); the count."""
        from_id, count = (last_id + 1 if last_id is not None else 0), 0
        while True:
            page = await self._client.my_trades(credentials, symbol, PAGE, from_id=from_id)
            fills = [_stored(t) for t in page]
            await self._repo.add_trades(user_id, symbol, fills, int(self._clock() * 1000))
            count += len(page)
            if len(page) < PAGE:
                return count
            from_id = max(t.id for t in page) + 1

    async def _read_transfers(self, user_id: int, credentials: ApiCredentials) -> TransferHistory:
        """Read the capital history from a day before where the last read ended, or, the first
        time, from a day before the first trade: 90 days a call, at most
        `WINDOWS` of them (Binance's withdrawal history allows ten calls a minute)."""
        now = int(self._clock() * 1000)
        mark = await self._repo.transfers_read_to(user_id)
        first = await self._repo.first_trade_ms(user_id)
        start = mark if mark is not None else min(first or now, now - WINDOW_MS)
        back_to = start - DAY_MS  # a move completed late, or made just before the first trade
        back_to = max(back_to, now - WINDOWS * WINDOW_MS)
        try:
            moves: list[CapitalMove] = []
            end = now
            while end > back_to:
                start = max(back_to, end - WINDOW_MS + 1)
                moves += await self._client.deposits(credentials, start, end)
                moves += await self._client.withdrawals(credentials, start, end)
                end = start - 1
        except NotAvailable:
            return TransferHistory.NO_SAPI
        except AuthError:
            return TransferHistory.REFUSED
        except InvalidRequest as exc:  # -1002: the key may not read the wallet
            if exc.code != NOT_AUTHORIZED:
                raise
            return TransferHistory.REFUSED
        await self._repo.add_transfers(user_id, [_transfer(m) for m in moves if m.completed])
        await self._repo.mark_transfers_read(user_id, now)
        return TransferHistory.READ


def merged_transfers(transfers: list[Transfer]) -> list[Transfer]:
    """The capital history's rows, and the live updates none of them accounts for (same
    asset and amount within a day): one entry per move, whichever saw it."""
    history = [t for t in transfers if t.source is not TransferSource.LIVE]
    unmatched = list(history)
    kept = list(history)
    for live in (t for t in transfers if t.source is TransferSource.LIVE):
        match = next((h for h in unmatched if _same(h, live)), None)
        if match is None:
            kept.append(live)
        else:
            unmatched.remove(match)
    return sorted(kept, key=lambda t: (t.time_ms, t.ref))


def _same(history: Transfer, live: Transfer) -> bool:
    return (
        history.asset == live.asset
        and history.amount == live.amount
        and abs(history.time_ms - live.time_ms) <= SAME_TRANSFER_MS
    )


def _stored(t: AccountTrade) -> StoredFill:
    return StoredFill(
        t.symbol,
        t.id,
        t.order_id,
        t.price,
        t.qty,
        t.quote_qty,
        t.commission,
        t.commission_asset,
        t.time,
        t.is_buyer,
    )


def _transfer(move: CapitalMove) -> Transfer:
    source = TransferSource.DEPOSIT if move.amount > 0 else TransferSource.WITHDRAW
    return Transfer(source, move.id, move.coin, move.amount, move.time_ms)


async def _tell(build: _Build, done: int, total: int) -> None:
    for listener in list(build.listeners):
        await listener(done, total)
