"""A user's own account: balances valued in USDT, their fills, their open orders.

Every call signs with the asking user's key (`KeyService.credentials`), so each user only ever
sees their own account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from chatbot.exchange.client import BinanceClient
from chatbot.exchange.models import AccountTrade, Order
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.services.account_mirror import AccountMirror
from chatbot.services.keys import KeyService
from chatbot.services.market import MarketService
from chatbot.services.open_orders import OpenOrderMirror

DUST_USDT = Decimal(1)


@dataclass(frozen=True)
class Holding:
    asset: str
    free: Decimal
    locked: Decimal
    value_usdt: Decimal | None  # None: no USDT or BTC market to value it with

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True)
class BalanceReport:
    """Holdings sorted by value; those worth under 1 USDT are folded into `dust`."""

    holdings: list[Holding]
    dust: list[Holding] = field(default_factory=list)

    @property
    def total_usdt(self) -> Decimal:
        return sum(
            (h.value_usdt for h in [*self.holdings, *self.dust] if h.value_usdt is not None),
            Decimal(0),
        )

    @property
    def dust_usdt(self) -> Decimal:
        return sum((h.value_usdt or Decimal(0) for h in self.dust), Decimal(0))


class AccountService:
    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        market: MarketService,
        mirror: AccountMirror,
        open_orders: OpenOrderMirror,
    ) -> None:
        self._client = client
        self._keys = keys
        self._market = market
        self._mirror = mirror
        self._open_orders = open_orders

    @property
    def client(self) -> BinanceClient:
        """The exchange client the account is read with. Public for the tests (and a console)
        that place an order "elsewhere": on the user's account, but not through the chat."""
        return self._client

    async def balances(self, user_id: int) -> BalanceReport:
        credentials = await self._keys.credentials(user_id)
        account = await self._mirror.account(
            user_id, lambda: self._client.account(credentials, omit_zero=True)
        )
        holdings = [
            Holding(b.asset, b.free, b.locked, await self._market.usdt_value(b.asset, b.total))
            for b in account.balances
            if b.total > 0
        ]
        holdings.sort(key=lambda h: (h.value_usdt is None, -(h.value_usdt or 0), h.asset))
        shown = [h for h in holdings if h.value_usdt is None or h.value_usdt >= DUST_USDT]
        dust = [h for h in holdings if h.value_usdt is not None and h.value_usdt < DUST_USDT]
        return BalanceReport(shown, dust)

    async def history(
        self, user_id: int, name: str, limit: int = 10
    ) -> tuple[SymbolRules, list[AccountTrade]]:
        """The user's last fills on a symbol, newest first."""
        rules = await self._market.resolve(name)
        credentials = await self._keys.credentials(user_id)
        trades = await self._client.my_trades(credentials, rules.symbol, limit=limit)
        return rules, sorted(trades, key=lambda t: (t.time, t.id), reverse=True)

    async def open_orders(
        self, user_id: int, name: str | None = None
    ) -> tuple[str | None, list[Order]]:
        """The resolved symbol (None: all) and its open orders, newest first: as the user-data
        stream keeps them once they are known (see `OpenOrderMirror`), not asked of Binance
        (80 weight for all symbols, 6 for one) each time."""
        symbol = (await self._market.resolve(name)).symbol if name else None
        credentials = await self._keys.credentials(user_id)
        orders = await self._open_orders.open_orders(user_id, credentials, symbol)
        return symbol, sorted(orders, key=lambda o: o.time or 0, reverse=True)
