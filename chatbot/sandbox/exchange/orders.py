"""Orders and fills, and every JSON shape Binance renders them in.

One Order record feeds the REST replies (ACK/RESULT/FULL, query, cancel), `myTrades` and the
user-data `executionReport`, so the same order reads the same everywhere. Field names and
order follow the Binance documentation (including its `cummulativeQuoteQty` misspelling).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .wire import ZERO, fmt

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
LIMIT_KINDS = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
STOP_KINDS = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of an order against the market."""

    trade_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_maker: bool
    is_buyer: bool

    def full_entry(self) -> dict[str, Any]:
        """An element of a FULL order response's `fills`."""
        return {
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "commission": fmt(self.commission),
            "commissionAsset": self.commission_asset,
            "tradeId": self.trade_id,
        }


@dataclass
class Order:
    """An order of one account. Money fields are Decimal; times are server ms."""

    api_key: str
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    time: int
    stp_mode: str = "NONE"
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cumm_quote: Decimal = ZERO
    update_time: int = 0
    working_time: int = 0
    locked_asset: str = ""
    locked: Decimal = ZERO
    fills: list[Fill] = field(default_factory=list)
    # stop and take-profit orders: untriggered (is_working False) until their trigger
    stop_price: Decimal = ZERO
    trailing_delta: int | None = None
    trailing_time: int = -1
    trail_best: Decimal | None = None  # best price since a trailing stop's activation
    is_working: bool = True
    order_list_id: int = -1
    expiry_reason: str | None = None

    @property
    def is_stop(self) -> bool:
        return self.type in STOP_KINDS

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        """The quantity still to fill."""
        return self.orig_qty - self.executed_qty

    @property
    def can_rest(self) -> bool:
        """Whether what the order does not fill at once goes on the book (GTC LIMIT kinds,
        a stop-limit once triggered)."""
        return self.type in LIMIT_KINDS and self.time_in_force == "GTC" and self.is_working

    def conditional(self) -> dict[str, Any]:
        """The fields Binance adds only to stop orders (stopPrice, trailing ones)."""
        extra: dict[str, Any] = {}
        if self.is_stop and self.stop_price:
            extra["stopPrice"] = fmt(self.stop_price)
        if self.trailing_delta is not None:
            extra["trailingDelta"] = self.trailing_delta
            extra["trailingTime"] = self.trailing_time
        return extra

    def ack(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": self.order_list_id,
            "clientOrderId": self.client_order_id,
            "transactTime": self.time,
        }

    def result(self) -> dict[str, Any]:
        return {
            **self.ack(),
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty),
            "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "cummulativeQuoteQty": fmt(self.cumm_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "workingTime": self.working_time,
            "selfTradePreventionMode": self.stp_mode,
            **self.conditional(),
        }

    def full(self) -> dict[str, Any]:
        return {**self.result(), "fills": [fill.full_entry() for fill in self.fills]}

    def response(self, resp_type: str) -> dict[str, Any]:
        """The `POST /api/v3/order` body for `newOrderRespType` ACK, RESULT or FULL."""
        if resp_type == "ACK":
            return self.ack()
        return self.result() if resp_type == "RESULT" else self.full()

    def query(self) -> dict[str, Any]:
        """`GET /api/v3/order`, `openOrders` and `allOrders` element."""
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": self.order_list_id,
            "clientOrderId": self.client_order_id,
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty),
            "cummulativeQuoteQty": fmt(self.cumm_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "stopPrice": fmt(self.stop_price),
            "icebergQty": fmt(ZERO),
            "time": self.time,
            "updateTime": self.update_time,
            "isWorking": self.is_working,
            "workingTime": self.working_time,
            "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "selfTradePreventionMode": self.stp_mode,
            **({"trailingDelta": self.trailing_delta} if self.trailing_delta is not None else {}),
            **({"trailingTime": self.trailing_time} if self.trailing_delta is not None else {}),
        }

    def canceled(self, cancel_client_id: str, transact_time: int) -> dict[str, Any]:
        """`DELETE /api/v3/order` body (and each element of `DELETE openOrders`)."""
        return {
            "symbol": self.symbol,
            "origClientOrderId": self.client_order_id,
            "orderId": self.order_id,
            "orderListId": self.order_list_id,
            "clientOrderId": cancel_client_id,
            "transactTime": transact_time,
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty),
            "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "cummulativeQuoteQty": fmt(self.cumm_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "selfTradePreventionMode": self.stp_mode,
            **self.conditional(),
        }

    def my_trade(self, fill: Fill) -> dict[str, Any]:
        """`GET /api/v3/myTrades` element for one of this order's fills."""
        return {
            "symbol": self.symbol,
            "id": fill.trade_id,
            "orderId": self.order_id,
            "orderListId": self.order_list_id,
            "price": fmt(fill.price),
            "qty": fmt(fill.qty),
            "quoteQty": fmt(fill.quote_qty),
            "commission": fmt(fill.commission),
            "commissionAsset": fill.commission_asset,
            "time": fill.time,
            "isBuyer": fill.is_buyer,
            "isMaker": fill.is_maker,
            "isBestMatch": True,
        }


@dataclass(frozen=True, slots=True)
class Execution:
    """One change to an order, as the user-data stream reports it."""

    order: Order
    exec_type: str
    event_time: int
    execution_id: int
    fill: Fill | None = None
    cancel_client_id: str | None = None
    reject_reason: str = "NONE"

    def report(self) -> dict[str, Any]:
        """The `executionReport` event, fields in the documented order."""
        order, fill = self.order, self.fill
        event: dict[str, Any] = {
            "e": "executionReport",
            "E": self.event_time,
            "s": order.symbol,
            "c": self.cancel_client_id or order.client_order_id,
            "S": order.side,
            "o": order.type,
            "f": order.time_in_force,
            "q": fmt(order.orig_qty),
            "p": fmt(order.price),
            "P": fmt(order.stop_price),
            "F": fmt(ZERO),
            "g": order.order_list_id,
            "C": order.client_order_id if self.cancel_client_id else "",
            "x": self.exec_type,
            "X": order.status,
            "r": self.reject_reason,
            "i": order.order_id,
            "l": fmt(fill.qty if fill else ZERO),
            "z": fmt(order.executed_qty),
            "L": fmt(fill.price if fill else ZERO),
            "n": fmt(fill.commission) if fill else "0",
            "N": fill.commission_asset if fill else None,
            "T": fill.time if fill else self.event_time,
            "t": fill.trade_id if fill else -1,
            "I": self.execution_id,
            # on the book: every NEW order; afterwards only a resting LIMIT (Binance's
            # MARKET order reports w=false on its trades, market_orders_faq.md)
            "w": order.is_working and order.is_open and (self.exec_type == "NEW" or order.can_rest),
            "m": fill.is_maker if fill else False,
            "M": False,
            "O": order.time,
            "Z": fmt(order.cumm_quote),
            "Y": fmt(fill.quote_qty if fill else ZERO),
            "Q": fmt(order.orig_quote_qty),
        }
        if order.is_open and order.is_working:
            event["W"] = order.working_time
        event["V"] = order.stp_mode
        if order.trailing_delta is not None:
            event["d"] = order.trailing_delta
            event["D"] = order.trailing_time
        if order.expiry_reason is not None and self.exec_type == "EXPIRED":
            event["eR"] = order.expiry_reason
        return event
