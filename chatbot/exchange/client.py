"""An async Binance Spot REST client: Binance's endpoints, typed results.

One client serves every user of the bot: Binance counts request weight per IP, so the weight
budget, the clock offset and the exchangeInfo cache are shared, while each signed call takes the
credentials of the user it acts for. The order-list endpoints are `OrderListEndpoints`
(list_endpoints.py), which this class builds on. The transport (signing, the weight budget,
bans, which failures leave a new order's outcome unknown) is `RestTransport` in rest.py; read
its docstring.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from chatbot.exchange.capital import CapitalMove
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import InvalidSymbol, NotAvailable
from chatbot.exchange.list_endpoints import OrderListEndpoints
from chatbot.exchange.market_models import (
    KLINE_INTERVALS,
    AvgPrice,
    BookTicker,
    Depth,
    Kline,
    MarketTrade,
    Ticker24h,
    TickerPrice,
)
from chatbot.exchange.market_requests import candles, recent_trades
from chatbot.exchange.models import (
    Account,
    AccountTrade,
    ApiRestrictions,
    ExchangeInfo,
    Order,
    SymbolCommission,
)
from chatbot.exchange.request_types import OrderRequest, new_client_order_id
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.exchange.weight_governor import background

__all__ = ["KLINE_INTERVALS", "BinanceClient", "OrderRequest", "new_client_order_id"]

KLINES_PAGE = 1000  # candles per klines call: Binance's most


class BinanceClient(OrderListEndpoints):
    """Binance Spot REST. Use as `async with BinanceClient(url) as client:` or call `close()`.
    The order-list endpoints (OCO, OTOCO) are in list_endpoints.py."""

    # -- market data -------------------------------------------------------------------------

    async def ping(self) -> None:
        await self.public("GET", "/api/v3/ping")

    async def server_time(self) -> int:
        return int((await self.public("GET", "/api/v3/time"))["serverTime"])

    async def exchange_info(self, *, refresh: bool = False) -> ExchangeInfo:
        """All symbols and their rules; cached for `exchange_info_ttl` seconds (weight 20)."""
        async with self._info_lock:
            fresh = time.monotonic() - self._info_at < self.exchange_info_ttl
            if self._info is None or refresh or not fresh:
                self._info = ExchangeInfo.from_json(
                    await self.public("GET", "/api/v3/exchangeInfo")
                )
                self._info_at = time.monotonic()
                self.governor.set_limits(self._info.rate_limits)
                self.orders.set_limits(self._info.rate_limits)
            return self._info

    async def symbol_rules(self, symbol: str) -> SymbolRules:
        """The rules of one symbol from the cache; raises `InvalidSymbol` without a request."""
        rules = (await self.exchange_info()).symbols.get(symbol)
        if rules is None:
            raise InvalidSymbol(f"Binance does not list the symbol {symbol}.")
        return rules

    async def ticker_price(self, symbol: str) -> TickerPrice:
        data = await self.public("GET", "/api/v3/ticker/price", [("symbol", symbol)])
        return TickerPrice.from_json(data)

    async def ticker_prices(self, symbols: list[str] | None = None) -> list[TickerPrice]:
        """Last prices of several symbols, or of all when `symbols` is None (weight 4)."""
        data = await self.public("GET", "/api/v3/ticker/price", _symbols_param(symbols))
        return [TickerPrice.from_json(item) for item in data]

    async def ticker_24hr(self, symbols: list[str]) -> list[Ticker24h]:
        """24 h statistics; Binance charges 2 weight for up to 20 symbols, 40 up to 100."""
        data = await self.public("GET", "/api/v3/ticker/24hr", _symbols_param(symbols))
        return [Ticker24h.from_json(item) for item in data]

    async def book_ticker(self, symbol: str) -> BookTicker:
        data = await self.public("GET", "/api/v3/ticker/bookTicker", [("symbol", symbol)])
        return BookTicker.from_json(data)

    async def avg_price(self, symbol: str) -> AvgPrice:
        data = await self.public("GET", "/api/v3/avgPrice", [("symbol", symbol)])
        return AvgPrice.from_json(data)

    async def depth(self, symbol: str, limit: int = 100) -> Depth:
        data = await self.public("GET", "/api/v3/depth", [("symbol", symbol), ("limit", limit)])
        return Depth.from_json(data)

    async def trades(self, symbol: str, limit: int = 10) -> list[MarketTrade]:
        """The most recent trades of one symbol, oldest first (weight 25)."""
        return await recent_trades(self, "/api/v3/trades", symbol, limit)

    async def klines(
        self,
        symbol: str,
        interval: str,
        limit: int = 100,
        start_time: int | None = None,
        end_time: int | None = None,
    ) -> list[Kline]:
        """Candles of one symbol, oldest first (`limit` at most 1000; weight 2)."""
        return await candles(self, "/api/v3/klines", symbol, interval, limit, start_time, end_time)

    async def kline_pages(
        self, symbol: str, interval: str, start_time: int, end_time: int
    ) -> AsyncIterator[list[Kline]]:
        """The candles opening from `start_time` to `end_time` (ms, both included: Binance's
        rule), oldest first, in pages of up to 1,000 (one call of weight 2 each), read as
        background work of the shared weight budget (users' calls go first; a long history
        is spread over the minute). The last candle is still open when `end_time` reaches
        it. Stops at the range's end, or at the first short page (Binance had no more); an
        empty range costs no call. A caller with a time limit keeps the pages it got."""
        start = start_time
        while start <= end_time:
            with background():  # set and reset within one step: nothing leaks to the caller
                page = await self.klines(symbol, interval, KLINES_PAGE, start, end_time)
            if page:
                yield page
            if len(page) < KLINES_PAGE or page[-1].close_time >= end_time:
                return
            start = page[-1].close_time + 1

    async def klines_between(
        self, symbol: str, interval: str, start_time: int, end_time: int
    ) -> list[Kline]:
        """Every page of `kline_pages` in one list (90 days of hourly candles: 3 calls)."""
        pages = self.kline_pages(symbol, interval, start_time, end_time)
        return [candle async for page in pages for candle in page]

    # -- account -----------------------------------------------------------------------------

    async def account(self, credentials: ApiCredentials, *, omit_zero: bool = True) -> Account:
        params = [("omitZeroBalances", "true" if omit_zero else "false")]
        return Account.from_json(await self.signed("GET", "/api/v3/account", credentials, params))

    async def commission(self, credentials: ApiCredentials, symbol: str) -> SymbolCommission:
        data = await self.signed(
            "GET", "/api/v3/account/commission", credentials, [("symbol", symbol)]
        )
        return SymbolCommission.from_json(data)

    async def api_restrictions(self, credentials: ApiCredentials) -> ApiRestrictions | None:
        """The key's permissions, or None where the network has no `/sapi` (the testnet)."""
        try:
            data = await self.signed("GET", "/sapi/v1/account/apiRestrictions", credentials)
        except NotAvailable:
            return None
        return ApiRestrictions.from_json(data)

    async def my_trades(
        self,
        credentials: ApiCredentials,
        symbol: str,
        limit: int = 10,
        *,
        order_id: int | None = None,
        from_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
    ) -> list[AccountTrade]:
        """The user's fills on a symbol (weight 20), or of one order (`order_id`, weight 5),
        oldest first. `from_id`: from that trade id up (the way to read all of them, `limit`
        at most 1000 at a time); otherwise the most recent ones, or those of a window of at
        most 24 hours (`start_time`, `end_time`, ms)."""
        params = [
            ("symbol", symbol),
            ("orderId", order_id),
            ("fromId", from_id),
            ("startTime", start_time),
            ("endTime", end_time),
            ("limit", limit),
        ]
        data = await self.signed("GET", "/api/v3/myTrades", credentials, params)
        return [AccountTrade.from_json(item) for item in data]

    async def deposits(
        self,
        credentials: ApiCredentials,
        start_time: int | None = None,
        end_time: int | None = None,
    ) -> list[CapitalMove]:
        """Deposits between `start_time` and `end_time` (ms, at most 90 days apart; default:
        the last 90 days), up to 1,000 (weight 1). Raises `NotAvailable` where the network has
        no `/sapi` (the testnet); a key that may not read them gets -1002 or `AuthError`."""
        params = [("startTime", start_time), ("endTime", end_time), ("limit", 1000)]
        data = await self.signed("GET", "/sapi/v1/capital/deposit/hisrec", credentials, params)
        return [CapitalMove.deposit(item) for item in data]

    async def withdrawals(
        self,
        credentials: ApiCredentials,
        start_time: int | None = None,
        end_time: int | None = None,
    ) -> list[CapitalMove]:
        """Withdrawals, as `deposits` (weight 1 of the IP's budget; Binance also charges
        18,000 of the account's own UID budget of 180,000 a minute: ten calls a minute)."""
        params = [("startTime", start_time), ("endTime", end_time), ("limit", 1000)]
        data = await self.signed("GET", "/sapi/v1/capital/withdraw/history", credentials, params)
        return [CapitalMove.withdrawal(item) for item in data]

    # -- orders ------------------------------------------------------------------------------

    async def place_order(self, credentials: ApiCredentials, order: OrderRequest) -> Order:
        """Place an order. Never retried: an unknown outcome raises `OrderStatusUnknown`."""
        client_id = order.client_order_id or new_client_order_id()
        data = await self.signed(
            "POST", "/api/v3/order", credentials, order.params(client_id), order_id=client_id
        )
        return Order.from_json(data)

    async def test_order(self, credentials: ApiCredentials, order: OrderRequest) -> None:
        """Validate an order with Binance's matching rules without placing it."""
        params = order.params(order.client_order_id or new_client_order_id())
        await self.signed("POST", "/api/v3/order/test", credentials, params)

    async def query_order(
        self,
        credentials: ApiCredentials,
        symbol: str,
        *,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Look an order up by Binance's id or by the `newClientOrderId` it was sent with."""
        params = [("symbol", symbol), ("orderId", order_id), ("origClientOrderId", client_order_id)]
        return Order.from_json(await self.signed("GET", "/api/v3/order", credentials, params))

    async def cancel_order(
        self,
        credentials: ApiCredentials,
        symbol: str,
        *,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        params = [("symbol", symbol), ("orderId", order_id), ("origClientOrderId", client_order_id)]
        return Order.from_json(await self.signed("DELETE", "/api/v3/order", credentials, params))

    async def open_orders(
        self, credentials: ApiCredentials, symbol: str | None = None
    ) -> list[Order]:
        """Open orders of one symbol (weight 6) or of all symbols (weight 80)."""
        data = await self.signed("GET", "/api/v3/openOrders", credentials, [("symbol", symbol)])
        return [Order.from_json(item) for item in data]

    async def all_orders(
        self, credentials: ApiCredentials, symbol: str, *, start_time: int, limit: int = 500
    ) -> list[Order]:
        """The user's orders on a symbol placed since `start_time` (ms), any status (weight
        20). Binance keeps cancelled or expired orders without a fill for 90 days only."""
        params = [("symbol", symbol), ("startTime", start_time), ("limit", limit)]
        data = await self.signed("GET", "/api/v3/allOrders", credentials, params)
        return [Order.from_json(item) for item in data]

    async def cancel_open_orders(self, credentials: ApiCredentials, symbol: str) -> list[Order]:
        """Cancel every open order on a symbol; order-list entries in the answer are skipped."""
        data = await self.signed("DELETE", "/api/v3/openOrders", credentials, [("symbol", symbol)])
        return [Order.from_json(item) for item in data if "orderId" in item]


def _symbols_param(symbols: list[str] | None) -> list[tuple[str, Any]]:
    if symbols is None:
        return []
    return [("symbols", json.dumps(symbols, separators=(",", ":")))]
