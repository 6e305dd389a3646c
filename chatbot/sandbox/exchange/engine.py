"""The matching engine: accounts' orders against the simulated market.

MARKET orders fill at once, in full, at the book top (BUY at the ask, SELL at the bid), as
takers. A LIMIT order that crosses the book when placed fills the same way (GTC, IOC or FOK);
otherwise it rests as NEW with its cost locked (IOC/FOK expire instead) and fills as a maker at
its own price as soon as a trade prints at or through it. LIMIT_MAKER orders that would take
are rejected. Commission is charged in the asset received (Binance without BNB discounts).

Every method runs without an `await` between its checks and its updates, so any number of
concurrent requests on one event loop see consistent balances.
"""

from __future__ import annotations

import heapq
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .accounts import Account
from .filters import OrderShape, market_step, validate_order
from .market import Market, SymbolMarket
from .orders import Execution, Fill, Order
from .symbols import SymbolSpec
from .tape import Trade
from .wire import (
    DUPLICATE_ORDER,
    INSUFFICIENT_BALANCE,
    WOULD_TAKE,
    ZERO,
    ApiError,
    Clock,
    fmt,
    order_rejected,
    quantize_down,
    quantize_up,
)

Publish = Callable[[str, dict[str, Any]], None]
_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class OrderRequest:
    """A validated `POST /api/v3/order`: exactly one of quantity / quote_qty is set."""

    spec: SymbolSpec
    side: str
    type: str
    time_in_force: str | None
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    client_order_id: str | None


class RestingBook:
    """One symbol's resting LIMIT orders, best first; cancelled orders are dropped lazily."""

    def __init__(self) -> None:
        self._bids: list[tuple[Decimal, int, Order]] = []
        self._asks: list[tuple[Decimal, int, Order]] = []

    def add(self, order: Order) -> None:
        if order.side == "BUY":
            heapq.heappush(self._bids, (-order.price, order.order_id, order))
        else:
            heapq.heappush(self._asks, (order.price, order.order_id, order))

    def crossed_by(self, price: Decimal) -> list[Order]:
        """Remove and return the open orders a print at `price` fills, in priority order."""
        filled: list[Order] = []
        while self._bids and -self._bids[0][0] >= price:
            filled.append(heapq.heappop(self._bids)[2])
        while self._asks and self._asks[0][0] <= price:
            filled.append(heapq.heappop(self._asks)[2])
        return [order for order in filled if order.is_open]


class Engine:
    """Accounts, their orders and trades; `publish(api_key, event)` gets user-data events."""

    def __init__(self, market: Market, clock: Clock, publish: Publish, seed: int = 1) -> None:
        self._market = market
        self._clock = clock
        self._publish = publish
        self._rng = random.Random(f"orders:{seed}")
        self.accounts: dict[str, Account] = {}
        self._orders: dict[str, dict[int, Order]] = {}
        self._open: dict[str, dict[int, Order]] = {}
        self._by_client_id: dict[tuple[str, str, str], Order] = {}
        self._trades: dict[str, list[tuple[Order, Fill]]] = {}
        self._books: dict[str, RestingBook] = {}
        self._last_order_id = 0
        self._last_execution_id = 0
        market.add_listener(self.on_trade)

    # -- accounts ---------------------------------------------------------------------------

    def add_account(self, account: Account) -> None:
        self.accounts[account.api_key] = account
        self._orders.setdefault(account.api_key, {})
        self._open.setdefault(account.api_key, {})
        self._trades.setdefault(account.api_key, [])

    def deposit(self, account: Account, asset: str, amount: Decimal) -> None:
        """Credit (or, negative, debit) a free balance and send `balanceUpdate`."""
        if account.free(asset) + amount < 0:
            raise ValueError(f"{asset} free balance would go negative")
        account.credit(asset, amount)
        now = self._touch(account)
        event = {"e": "balanceUpdate", "E": now, "a": asset, "d": fmt(amount), "T": now}
        self._publish(account.api_key, event)
        self._position(account, [asset])

    # -- placing ----------------------------------------------------------------------------

    def test_order(self, account: Account, request: OrderRequest) -> None:
        """Run every check `place` runs before the balance (like `POST /order/test`)."""
        self._plan(account, request)

    def place(self, account: Account, request: OrderRequest) -> Order:
        """Place an order; raises ApiError -1013 (filters) or -2010 (engine) on rejection."""
        quantity, taker_price = self._plan(account, request)
        self._check_balance(account, request, quantity, taker_price)
        order = self._create(account, request, quantity)
        self._emit(account, order, "NEW")
        if taker_price is not None:
            self._execute(account, order, taker_price, is_maker=False)
        elif request.time_in_force in ("IOC", "FOK"):
            order.status = "EXPIRED"
            self._emit(account, order, "EXPIRED")
        else:
            self._rest(account, order)
        return order

    def _plan(self, account: Account, request: OrderRequest) -> tuple[Decimal, Decimal | None]:
        """Validate the order; return its quantity and the taker price if it fills now."""
        spec = request.spec
        top = self._market.book(spec.name)
        is_buy = request.side == "BUY"
        quantity = request.quantity or ZERO
        if request.quote_qty is not None:
            reference = top.ask if is_buy else top.bid
            quantity = quantize_down(request.quote_qty / reference, market_step(spec))
        shape = OrderShape(
            request.side,
            request.type,
            quantity,
            request.price,
            self._market.avg_price(spec.name),
            request.quote_qty,
        )
        validate_order(
            spec,
            shape,
            self._open[account.api_key].values(),
            account.balances,
            market=self._market,
        )
        self._check_client_id(account, spec.name, request.client_order_id)
        if request.quote_qty is not None and not spec.quote_order_qty_market_allowed:
            raise order_rejected("Quote order qty market orders are not support for this symbol.")
        if request.type == "MARKET":
            return quantity, top.ask if is_buy else top.bid
        assert request.price is not None
        crosses = request.price >= top.ask if is_buy else request.price <= top.bid
        if crosses and request.type == "LIMIT_MAKER":
            raise order_rejected(WOULD_TAKE)
        return quantity, (top.ask if is_buy else top.bid) if crosses else None

    def _check_client_id(self, account: Account, symbol: str, client_id: str | None) -> None:
        """Binance's rule: a client order id must be unique among the account's open orders
        on the symbol; reusing the id of a filled or cancelled order is allowed."""
        if client_id is None:
            return
        latest = self._by_client_id.get((account.api_key, symbol, client_id))
        if latest is not None and latest.is_open:
            raise order_rejected(DUPLICATE_ORDER)

    def _open_count(self, account: Account, symbol: str) -> int:
        return sum(1 for o in self._open[account.api_key].values() if o.symbol == symbol)

    def _check_balance(
        self, account: Account, request: OrderRequest, quantity: Decimal, taker: Decimal | None
    ) -> None:
        spec = request.spec
        if request.side == "SELL":
            needed, asset = quantity, spec.base
        else:
            unit = request.price if request.price is not None else taker
            assert unit is not None
            needed, asset = quantize_up(quantity * unit), spec.quote
        if account.free(asset) < needed:
            raise order_rejected(INSUFFICIENT_BALANCE)

    def _create(self, account: Account, request: OrderRequest, quantity: Decimal) -> Order:
        now = self._clock.now_ms()
        self._last_order_id += 1
        client_id = request.client_order_id or self._new_client_id()
        order = Order(
            api_key=account.api_key,
            symbol=request.spec.name,
            order_id=self._last_order_id,
            client_order_id=client_id,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force or "GTC",
            price=request.price or ZERO,
            orig_qty=quantity,
            orig_quote_qty=request.quote_qty or ZERO,
            time=now,
            stp_mode=request.spec.info.get("defaultSelfTradePreventionMode", "NONE"),
            update_time=now,
            working_time=now,
        )
        self._orders[account.api_key][order.order_id] = order
        self._by_client_id[(account.api_key, order.symbol, client_id)] = order
        return order

    def _new_client_id(self) -> str:
        return "".join(self._rng.choice(_ID_ALPHABET) for _ in range(22))

    def _rest(self, account: Account, order: Order) -> None:
        """Put a LIMIT order on the book and lock what it may spend."""
        spec = self._market.symbol(order.symbol).spec
        if order.side == "BUY":
            order.locked_asset, order.locked = spec.quote, quantize_up(order.orig_qty * order.price)
        else:
            order.locked_asset, order.locked = spec.base, order.orig_qty
        account.lock(order.locked_asset, order.locked)
        self._open[account.api_key][order.order_id] = order
        self._books.setdefault(order.symbol, RestingBook()).add(order)
        self._touch(account)
        self._position(account, [order.locked_asset])

    # -- filling ----------------------------------------------------------------------------

    def on_trade(self, market: SymbolMarket, trade: Trade) -> None:
        """A print on the tape: fill every resting order it reaches, at the order's price."""
        book = self._books.get(market.spec.name)
        if book is None:
            return
        for order in book.crossed_by(trade.price):
            self._execute(self.accounts[order.api_key], order, order.price, is_maker=True)

    def _execute(self, account: Account, order: Order, price: Decimal, *, is_maker: bool) -> None:
        spec = self._market.symbol(order.symbol).spec
        rate = account.maker_commission if is_maker else account.taker_commission
        self._release(account, order)
        if order.side == "BUY":
            quote = quantize_up(order.orig_qty * price)
            commission, asset = quantize_up(order.orig_qty * rate), spec.base
            account.debit(spec.quote, quote)
            account.credit(spec.base, order.orig_qty - commission)
        else:
            quote = quantize_down(order.orig_qty * price)
            commission, asset = quantize_up(quote * rate), spec.quote
            account.debit(spec.base, order.orig_qty)
            account.credit(spec.quote, quote - commission)
        now = self._touch(account)
        fill = Fill(
            trade_id=self._market.user_trade_id(order.symbol),
            price=price,
            qty=order.orig_qty,
            quote_qty=quote,
            commission=commission,
            commission_asset=asset,
            time=now,
            is_maker=is_maker,
            is_buyer=order.side == "BUY",
        )
        order.fills.append(fill)
        order.executed_qty, order.cumm_quote = order.orig_qty, quote
        order.status, order.update_time = "FILLED", now
        self._trades[account.api_key].append((order, fill))
        self._emit(account, order, "TRADE", fill=fill)
        self._position(account, [spec.base, spec.quote])

    def _release(self, account: Account, order: Order) -> None:
        """Unlock whatever the order held and take it off the open list."""
        if order.locked:
            account.unlock(order.locked_asset, order.locked)
            order.locked = ZERO
        self._open[account.api_key].pop(order.order_id, None)

    # -- querying and cancelling ------------------------------------------------------------

    def find(
        self, account: Account, symbol: str, order_id: int | None, client_id: str | None
    ) -> Order | None:
        """The order by id (whose client id must then match, if given) or by client id."""
        if order_id is not None:
            order = self._orders[account.api_key].get(order_id)
            if order is None or order.symbol != symbol:
                return None
            if client_id is not None and order.client_order_id != client_id:
                return None
            return order
        return self._by_client_id.get((account.api_key, symbol, client_id or ""))

    def cancel(self, account: Account, order: Order, cancel_client_id: str | None) -> str:
        """Cancel an open order (else -2011); returns the cancel's client order id."""
        if not order.is_open:
            raise ApiError(-2011, "Unknown order sent.")
        cancel_id = cancel_client_id or self._new_client_id()
        self._release(account, order)
        order.status, order.update_time = "CANCELED", self._touch(account)
        self._emit(account, order, "CANCELED", cancel_client_id=cancel_id)
        self._position(account, [order.locked_asset] if order.locked_asset else [])
        return cancel_id

    def open_orders(self, account: Account, symbol: str | None = None) -> list[Order]:
        orders = self._open[account.api_key].values()
        return sorted(
            (o for o in orders if symbol is None or o.symbol == symbol), key=lambda o: o.order_id
        )

    def all_orders(self, account: Account) -> list[Order]:
        return list(self._orders[account.api_key].values())

    def trades(self, account: Account) -> list[tuple[Order, Fill]]:
        return list(self._trades[account.api_key])

    # -- events -----------------------------------------------------------------------------

    def _touch(self, account: Account) -> int:
        account.update_time = self._clock.now_ms()
        return account.update_time

    def _emit(
        self,
        account: Account,
        order: Order,
        exec_type: str,
        *,
        fill: Fill | None = None,
        cancel_client_id: str | None = None,
    ) -> None:
        self._last_execution_id += 1
        execution = Execution(
            order, exec_type, self._clock.now_ms(), self._last_execution_id, fill, cancel_client_id
        )
        self._publish(account.api_key, execution.report())

    def _position(self, account: Account, assets: list[str]) -> None:
        """`outboundAccountPosition` with the balances that just changed."""
        if not assets:
            return
        rows = []
        for asset in dict.fromkeys(assets):
            row = account.balance(asset)
            rows.append({"a": asset, "f": fmt(row.free), "l": fmt(row.locked)})
        now = self._clock.now_ms()
        event = {"e": "outboundAccountPosition", "E": now, "u": account.update_time, "B": rows}
        self._publish(account.api_key, event)
