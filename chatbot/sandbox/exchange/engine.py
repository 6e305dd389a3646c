"""The matching engine: accounts' orders against the simulated market's book.

An order arriving takes the opposite side of the book (book.py) as a taker, best level first,
one fill per level: a MARKET order as far as it needs (what the visible book cannot fill
expires, Binance's "insufficient liquidity"), a LIMIT order up to its price. What a LIMIT
order does not fill at once rests on the book with its cost locked (GTC), expires (IOC), or
makes the whole order expire unfilled (FOK, all or nothing). LIMIT_MAKER orders that would take
are rejected. A resting order fills as a maker, at its own price, when a trade prints at or
through it: completely, or, when the print has a size, sharing that size with the other
orders it reaches in price-time priority. Commission is charged in the asset received (Binance
without BNB discounts).

Stop and take-profit orders wait untriggered (not working, their cost locked) until a print
meets their trigger (stops.py), then trade as a MARKET order or become a LIMIT one. An order
list's legs are created and started here; what one leg's activation or close does to the
others is order_lists.py's, told through `leg_listener`. The checks before an order exists are
planning.py's.

Every method runs without an `await` between its checks and its updates, so any number of
concurrent requests on one event loop see consistent balances.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from .accounts import Account
from .book import Level, take_quantity
from .market import Market, SymbolMarket
from .matching import RestingBook, settle
from .orders import LIMIT_KINDS, Execution, Fill, Order
from .planning import OrderChecks, OrderRequest
from .stops import StopBook
from .tape import Trade
from .wire import (
    ZERO,
    ApiError,
    Clock,
    fmt,
    quantize_up,
)

Publish = Callable[[str, dict[str, Any]], None]


class LegListener(Protocol):
    """What order lists (order_lists.py) hear of their legs: a leg's activation (a stop's
    trigger, a limit's first fill: an OCO then expires the other leg) and its close."""

    def activated(self, order: Order) -> None: ...
    def closed(self, order: Order) -> None: ...


_ID_ALPHABET = string.ascii_letters + string.digits


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
        self._stops: dict[str, StopBook] = {}
        self._last_order_id = 0
        self._last_execution_id = 0
        self.checks = OrderChecks(market, self._open, self._by_client_id)
        self.leg_listener: LegListener | None = None
        market.add_matcher(self.on_print)

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
        self.checks.plan(account, request)

    def place(self, account: Account, request: OrderRequest, list_id: int = -1) -> Order:
        """Place an order; raises ApiError -1013 (filters) or -2010 (engine) on rejection."""
        plan = self.checks.plan(account, request)
        self.checks.check_balance(account, request, plan)
        order = self._create(account, request, plan.quantity)
        order.order_list_id = list_id
        if order.is_stop:
            self._wait(account, order)
            return order
        spec = request.spec
        self._emit(account, order, "NEW")
        changed: list[str] = []
        for level in plan.takes:
            self._fill(account, order, level, is_maker=False)
            changed = [spec.base, spec.quote]
        if order.remaining > 0:
            if order.can_rest:
                self._rest(account, order)
                changed.append(order.locked_asset)
            else:  # MARKET beyond the visible book, IOC remainder, FOK that cannot fill
                order.status, order.update_time = "EXPIRED", self._touch(account)
                self._emit(account, order, "EXPIRED")
        if changed:
            self._touch(account)
            self._position(account, changed)
        if not order.is_open:
            self._leg_closed(order)
        return order

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
        if order.is_stop:
            order.stop_price = request.stop_price or ZERO
            order.trailing_delta = request.trailing_delta
            order.is_working, order.working_time = False, -1
        self._orders[account.api_key][order.order_id] = order
        self._by_client_id[(account.api_key, order.symbol, client_id)] = order
        return order

    def new_client_id(self) -> str:
        """A 22-character client id, as Binance generates when none is sent."""
        return self._new_client_id()

    def _new_client_id(self) -> str:
        return "".join(self._rng.choice(_ID_ALPHABET) for _ in range(22))

    def _rest(self, account: Account, order: Order, *, lock: bool = True) -> None:
        """Put what is left of a LIMIT order on the book and lock what it may spend."""
        spec = self._market.symbol(order.symbol).spec
        if order.side == "BUY":
            order.locked_asset = spec.quote
            order.locked = quantize_up(order.remaining * order.price) if lock else ZERO
        else:
            order.locked_asset, order.locked = spec.base, order.remaining if lock else ZERO
        account.lock(order.locked_asset, order.locked)
        self._open[account.api_key][order.order_id] = order
        self._books.setdefault(order.symbol, RestingBook()).add(order)

    def create_leg(
        self, account: Account, request: OrderRequest, quantity: Decimal, list_id: int
    ) -> Order:
        """An order list's leg, checked by the caller and not yet working (`start_leg`)."""
        order = self._create(account, request, quantity)
        order.order_list_id = list_id
        order.status, order.is_working, order.working_time = "PENDING_NEW", False, -1
        return order

    def start_leg(self, account: Account, order: Order, *, lock: bool) -> None:
        """Put a leg to work: a stop waits for its trigger, a LIMIT_MAKER rests. `lock` is
        False for the leg whose partner already holds the list's one lock."""
        order.status = "NEW"
        if order.is_stop:
            self._wait(account, order, lock=lock)
            return
        order.is_working = True
        order.working_time = order.update_time = self._touch(account)
        self._emit(account, order, "NEW")
        self._rest(account, order, lock=lock)
        self._position(account, [order.locked_asset])

    def expire(self, account: Account, order: Order, reason: str) -> None:
        """End an open order without a request: EXPIRED, with Binance's expiry reason."""
        self._release(account, order)
        order.status, order.update_time = "EXPIRED", self._touch(account)
        order.expiry_reason = reason
        self._emit(account, order, "EXPIRED")

    def reject_leg(self, account: Account, order: Order) -> None:
        """A pending leg the balance no longer covers when its turn comes: REJECTED."""
        self._open[account.api_key].pop(order.order_id, None)
        order.status, order.update_time = "REJECTED", self._touch(account)
        self._emit(account, order, "REJECTED")

    def move_lock(self, source: Order, target: Order) -> None:
        """Hand an order list's one lock to the leg that now spends it."""
        target.locked_asset, target.locked = source.locked_asset, source.locked
        source.locked = ZERO

    def _wait(self, account: Account, order: Order, *, lock: bool = True) -> None:
        """Lock what an untriggered stop may spend and wait for its trigger (stops.py)."""
        spec = self._market.symbol(order.symbol).spec
        if order.side == "SELL":
            order.locked_asset, order.locked = spec.base, order.orig_qty
        else:
            order.locked_asset = spec.quote
            order.locked = (
                quantize_up(order.orig_qty * order.price)
                if order.type in LIMIT_KINDS
                else self.checks.stop_cost(order.symbol, order.orig_qty, order.stop_price)
            )
        if lock:
            account.lock(order.locked_asset, order.locked)
        else:
            order.locked = ZERO
        self._open[account.api_key][order.order_id] = order
        last = self._market.price(order.symbol)
        self._stops.setdefault(order.symbol, StopBook()).add(order, last, self._touch(account))
        self._emit(account, order, "NEW")
        self._position(account, [order.locked_asset])

    def _trigger(self, order: Order) -> None:
        """A stop's trigger: Binance reports the order NEW again, now working; a market kind
        then takes the book as a MARKET order, a limit kind as a LIMIT order at its price
        (resting, with the stop's lock, for whatever it does not fill)."""
        account = self.accounts[order.api_key]
        spec = self._market.symbol(order.symbol).spec
        order.is_working, order.working_time = True, self._touch(account)
        self._emit(account, order, "NEW")
        self._leg_activated(order)
        levels = self._market.order_book(order.symbol).against(order.side)
        limit = order.price if order.type in LIMIT_KINDS else None
        for level in take_quantity(levels, order.side, order.remaining, limit):
            self._fill(account, order, level, is_maker=False)
        if order.remaining > 0 and order.can_rest:
            self._books.setdefault(order.symbol, RestingBook()).add(order)
        else:
            if order.remaining > 0:  # a market kind beyond the visible book
                order.status, order.update_time = "EXPIRED", self._touch(account)
                self._emit(account, order, "EXPIRED")
            self._release(account, order)
            self._leg_closed(order)
        self._position(account, [spec.base, spec.quote])

    # -- filling ----------------------------------------------------------------------------

    def on_print(self, market: SymbolMarket, trade: Trade, size: Decimal | None) -> None:
        """A print on the tape: fill the resting orders it reaches, as makers at their own
        prices, best price then oldest first; all of each (size None) or `size` in total.
        The stops the print triggers go first (stops.py)."""
        stops = self._stops.get(market.spec.name)
        if stops is not None:
            for order in stops.triggered_by(trade.price, self._clock.now_ms()):
                self._trigger(order)
        book = self._books.get(market.spec.name)
        if book is None:
            return
        left = size
        for order in book.crossed_by(trade.price):
            qty = order.remaining if left is None else min(order.remaining, left)
            if qty <= 0:
                break
            account = self.accounts[order.api_key]
            if not order.executed_qty:
                self._leg_activated(order)
            self._fill(account, order, Level(order.price, qty), is_maker=True)
            if not order.is_open:
                self._open[account.api_key].pop(order.order_id, None)
                self._leg_closed(order)
            self._touch(account)
            self._position(account, [market.spec.base, market.spec.quote])
            if left is not None:
                left -= qty

    def _fill(self, account: Account, order: Order, level: Level, *, is_maker: bool) -> None:
        """One fill of `order`: balances, the trade record and its `executionReport`."""
        spec = self._market.symbol(order.symbol).spec
        trade_id = self._market.user_trade_id(order.symbol)
        fill = settle(
            account,
            order,
            spec,
            level,
            is_maker=is_maker,
            trade_id=trade_id,
            now=self._touch(account),
        )
        self._trades[account.api_key].append((order, fill))
        self._emit(account, order, "TRADE", fill=fill)

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
        """Cancel an open order (or a pending leg; else -2011); returns the cancel's client
        order id."""
        if not order.is_open and order.status != "PENDING_NEW":
            raise ApiError(-2011, "Unknown order sent.")
        cancel_id = cancel_client_id or self._new_client_id()
        self._release(account, order)
        order.status, order.update_time = "CANCELED", self._touch(account)
        self._emit(account, order, "CANCELED", cancel_client_id=cancel_id)
        self._position(account, [order.locked_asset] if order.locked_asset else [])
        self._leg_closed(order)
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

    def _leg_activated(self, order: Order) -> None:
        if order.order_list_id != -1 and self.leg_listener is not None:
            self.leg_listener.activated(order)

    def _leg_closed(self, order: Order) -> None:
        if order.order_list_id != -1 and self.leg_listener is not None:
            self.leg_listener.closed(order)

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
