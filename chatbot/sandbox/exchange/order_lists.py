"""Order lists: OCO (one cancels the other) and OTO/OTOCO (one triggers the other(s)).

From Binance's "New Order list" documentation:
- An OCO has an above and a below leg: one a STOP_LOSS/STOP_LOSS_LIMIT, the other a
  LIMIT_MAKER/TAKE_PROFIT/TAKE_PROFIT_LIMIT. SELL: the above price (LIMIT_MAKER price or
  TAKE_PROFIT* stopPrice) > last price > the below STOP_LOSS* stopPrice; BUY mirrored. The
  activation of one leg (a stop's trigger, a limit's first fill) immediately cancels the other,
  which Binance reports EXPIRED with expiry reason OCO_TRIGGER.
- An OTOCO's working order (LIMIT or LIMIT_MAKER) goes on the book alone; its pending above and
  below legs, an OCO pair under the same rules, are placed only once it is fully filled. Its
  `contingencyType` is OTO.
- Both legs of an OCO share one lock: a SELL locks the quantity once, a BUY the larger cost.
- Every change of the list sends `listStatus` after the legs' executionReports.

Cancelling any leg cancels the whole list (rest_lists.py answers with the list).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .accounts import Account
from .engine import Engine, Publish
from .orders import Order
from .planning import OrderRequest
from .wire import ZERO, Clock, filter_failure, order_rejected

PRICE_RELATION = "The relationship of the prices for the orders is not correct."


@dataclass
class OrderList:
    """One order list of one account; `legs` in the order Binance lists them."""

    list_id: int
    contingency: str
    client_id: str
    symbol: str
    transaction_time: int
    legs: list[Order]
    pair: list[Order]  # the OCO legs: all of an OCO, the pending two of an OTOCO
    status_type: str = "EXEC_STARTED"
    order_status: str = "EXECUTING"
    working: Order | None = None
    requests: dict[int, OrderRequest] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.order_status == "EXECUTING"

    def summary(self) -> dict[str, Any]:
        """`GET /api/v3/orderList` (and each `openOrderList` / `allOrderList` element)."""
        return {
            "orderListId": self.list_id,
            "contingencyType": self.contingency,
            "listStatusType": self.status_type,
            "listOrderStatus": self.order_status,
            "listClientOrderId": self.client_id,
            "transactionTime": self.transaction_time,
            "symbol": self.symbol,
            "orders": [
                {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
                for o in self.legs
            ],
        }

    def event(self, now: int) -> dict[str, Any]:
        """The `listStatus` user-data event."""
        return {
            "e": "listStatus",
            "E": now,
            "s": self.symbol,
            "g": self.list_id,
            "c": self.contingency,
            "l": self.status_type,
            "L": self.order_status,
            "r": "NONE",
            "C": self.client_id,
            "T": now,
            "O": [{"s": o.symbol, "i": o.order_id, "c": o.client_order_id} for o in self.legs],
        }


@dataclass(frozen=True)
class Leg:
    """A checked leg request: which side of the market it sits and its price that counts."""

    request: OrderRequest
    above: bool


class OrderLists:
    """The accounts' order lists over the engine (its `leg_listener`)."""

    def __init__(
        self, engine: Engine, clock: Clock, publish: Publish, new_id: Callable[[], str]
    ) -> None:
        self._engine = engine
        self._checks = engine.checks
        self._clock = clock
        self._publish = publish
        self._new_id = new_id
        self._lists: dict[str, dict[int, OrderList]] = {}
        self._last_id = 0
        engine.leg_listener = self

    # -- placing ----------------------------------------------------------------------------

    def place_oco(
        self, account: Account, above: OrderRequest, below: OrderRequest, client_id: str | None
    ) -> OrderList:
        """Check and place an OCO; raises Binance's ApiError (nothing changes then)."""
        check_oco_prices(above, below, self._checks.last_price(above.spec.name))
        legs = _stop_first([above, below])
        for request in legs:
            self._checks.check_balance(account, request, self._checks.plan(account, request))
        self._check(account, legs, client_id)
        order_list = self._new_list("OCO", legs[0].spec.name, client_id)
        orders = [self._create(account, order_list, request) for request in legs]
        order_list.legs = order_list.pair = orders
        self._start_pair(account, order_list)
        self._send(account, order_list)
        return order_list

    def place_otoco(
        self,
        account: Account,
        working: OrderRequest,
        above: OrderRequest,
        below: OrderRequest,
        client_id: str | None,
    ) -> OrderList:
        """Place the working order now and its OCO pair once it is fully filled."""
        check_oco_prices(above, below, _working_reference(working))
        pending = _stop_first([above, below])
        self._checks.check_balance(account, working, self._checks.plan(account, working))
        for request in pending:
            self._checks.plan(account, request, pending=True)
        self._check(account, [working, *pending], client_id)
        order_list = self._new_list("OTO", working.spec.name, client_id)
        pair = [self._create(account, order_list, request) for request in pending]
        order_list.pair = pair
        self._register(account, order_list)
        work = self._engine.place(account, working, order_list.list_id)
        order_list.working, order_list.legs = work, [work, *pair]
        if order_list.is_open:
            self._send(account, order_list)
        return order_list

    def _check(self, account: Account, legs: list[OrderRequest], client_id: str | None) -> None:
        """MAX_NUM_ORDER_LISTS and the order counts of all the legs; a list client id must
        not be that of an open list."""
        spec = legs[0].spec
        rule = spec.rules.get("MAX_NUM_ORDER_LISTS")
        open_lists = [o for o in self.open_lists(account) if o.symbol == spec.name]
        if rule is not None and len(open_lists) >= int(rule["maxNumOrderLists"]):
            raise filter_failure("MAX_NUM_ORDER_LISTS")
        if client_id is not None and any(o.client_id == client_id for o in open_lists):
            raise order_rejected("Duplicate order sent.")
        _check_leg_count(self._engine, account, legs)

    def _new_list(self, contingency: str, symbol: str, client_id: str | None) -> OrderList:
        self._last_id += 1
        now = self._clock.now_ms()
        return OrderList(
            self._last_id, contingency, client_id or self._new_id(), symbol, now, [], []
        )

    def _create(self, account: Account, order_list: OrderList, request: OrderRequest) -> Order:
        quantity = request.quantity or ZERO  # legs are sized by quantity (the parser's rule)
        order = self._engine.create_leg(account, request, quantity, order_list.list_id)
        order.time = order.update_time = order_list.transaction_time
        return order

    def _register(self, account: Account, order_list: OrderList) -> None:
        self._lists.setdefault(account.api_key, {})[order_list.list_id] = order_list

    def _start_pair(self, account: Account, order_list: OrderList) -> None:
        """Start the OCO legs, the one lock on the leg that needs the most (a pending pair
        the balance cannot cover any more is rejected)."""
        self._register(account, order_list)
        holder = max(order_list.pair, key=lambda o: self._checks.leg_cost(o))
        if account.free(self._checks.lock_asset(holder)) < self._checks.leg_cost(holder):
            for order in order_list.pair:
                self._engine.reject_leg(account, order)
            return
        for order in order_list.pair:
            self._engine.start_leg(account, order, lock=order is holder)

    # -- what the legs do -------------------------------------------------------------------

    def activated(self, order: Order) -> None:
        """An OCO leg activated: the other expires (OCO_TRIGGER), its lock moving over."""
        account = self._engine.accounts[order.api_key]
        order_list = self._lists[order.api_key][order.order_list_id]
        if order not in order_list.pair:
            return
        for other in order_list.pair:
            if other is order or other.status not in ("NEW", "PARTIALLY_FILLED"):
                continue
            if other.locked and not order.locked:
                self._engine.move_lock(other, order)
            self._engine.expire(account, other, "OCO_TRIGGER")

    def closed(self, order: Order) -> None:
        """A leg closed: an OTO's filled working order starts the pair; a closed working
        order ends the pending legs; the list is ALL_DONE once every leg is."""
        account = self._engine.accounts[order.api_key]
        order_list = self._lists[order.api_key][order.order_list_id]
        working = order_list.contingency == "OTO" and order not in order_list.pair
        if working and order_list.is_open:  # (`working` is not yet set while it is placed)
            if order.status == "FILLED":
                self._start_pair(account, order_list)
            else:
                for leg in order_list.pair:
                    if leg.status in _LIVE:
                        self._engine.expire(account, leg, "OTO_PHASE_ONE_EXPIRED")
        legs = order_list.legs or order_list.pair
        if order_list.is_open and all(leg.status not in _LIVE for leg in legs):
            order_list.status_type = order_list.order_status = "ALL_DONE"
            order_list.transaction_time = self._clock.now_ms()
            self._send(account, order_list)

    # -- querying and cancelling ------------------------------------------------------------

    def find(
        self, account: Account, list_id: int | None, client_id: str | None
    ) -> OrderList | None:
        lists = self._lists.get(account.api_key, {})
        if list_id is not None:
            return lists.get(list_id)
        matches = [o for o in lists.values() if o.client_id == client_id]
        return matches[-1] if matches else None

    def open_lists(self, account: Account) -> list[OrderList]:
        return [o for o in self._lists.get(account.api_key, {}).values() if o.is_open]

    def all_lists(self, account: Account) -> list[OrderList]:
        return list(self._lists.get(account.api_key, {}).values())

    def cancel(
        self, account: Account, order_list: OrderList, cancel_client_id: str | None
    ) -> list[tuple[Order, str]]:
        """Cancel every live leg (-2011 "Order list does not exist." style errors are the
        caller's); returns each leg with its cancel client order id."""
        cancel_client_id = cancel_client_id or self._new_id()  # one id for every leg
        cancelled = []
        for leg in reversed(order_list.legs):  # pending legs before their working order
            if leg.status in _LIVE:
                cancel_id = self._engine.cancel(account, leg, cancel_client_id)
                cancelled.append((leg, cancel_id))
        return cancelled[::-1]

    def _send(self, account: Account, order_list: OrderList) -> None:
        self._publish(account.api_key, order_list.event(self._clock.now_ms()))


_LIVE = frozenset({"NEW", "PARTIALLY_FILLED", "PENDING_NEW"})
_CONTINGENT = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")


def _stop_first(legs: list[OrderRequest]) -> list[OrderRequest]:
    """Binance lists an OCO's STOP_LOSS* leg first (the documentation's examples)."""
    return sorted(legs, key=lambda r: not r.type.startswith("STOP_LOSS"))


def _working_reference(working: OrderRequest) -> Any:
    """The price an OTOCO's pending pair is judged against: the working order's price."""
    return working.price


def _trigger_price(request: OrderRequest) -> Any:
    """A leg's price in the OCO relation: a LIMIT_MAKER's price, a contingent leg's
    stopPrice (None for a trailing leg without one: it is not judged)."""
    return request.price if request.type == "LIMIT_MAKER" else request.stop_price


def check_oco_prices(above: OrderRequest, below: OrderRequest, last: Any) -> None:
    """-2010 "The relationship of the prices for the orders is not correct." unless
    above > last > below (each leg's price as `_trigger_price` reads it)."""
    high, low = _trigger_price(above), _trigger_price(below)
    if (high is not None and high <= last) or (low is not None and low >= last):
        raise order_rejected(PRICE_RELATION)


def _check_leg_count(engine: Engine, account: Account, legs: list[OrderRequest]) -> None:
    """MAX_NUM_ORDERS and MAX_NUM_ALGO_ORDERS count every leg of the list."""
    spec = legs[0].spec
    open_on_symbol = [o for o in engine.open_orders(account) if o.symbol == spec.name]
    max_orders = spec.rules.get("MAX_NUM_ORDERS")
    if max_orders is not None and len(open_on_symbol) + len(legs) > max_orders:
        raise filter_failure("MAX_NUM_ORDERS")
    max_algo = spec.rules.get("MAX_NUM_ALGO_ORDERS")
    algo = [o for o in open_on_symbol if o.is_stop]
    new_algo = [r for r in legs if r.type in _CONTINGENT]
    if max_algo is not None and new_algo and len(algo) + len(new_algo) > max_algo:
        raise filter_failure("MAX_NUM_ALGO_ORDERS")
