"""What a change to an order means: the ticket's result, the state the bot keeps of it, and the
notice the user gets. Plain functions of Binance's records, used by `OrderTracker`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chatbot.exchange.events import ExecutionReport
from chatbot.exchange.models import Order
from chatbot.services.order_outcomes import FillNotice, NoticeKind, OutcomeKind
from chatbot.storage.tickets import TicketState
from chatbot.storage.tracked_orders import OrderState, Told

_NOTICE_KINDS = {
    "FILLED": NoticeKind.FILLED,
    "CANCELED": NoticeKind.CANCELLED,
    "EXPIRED": NoticeKind.EXPIRED,
    "EXPIRED_IN_MATCH": NoticeKind.EXPIRED,
    "REJECTED": NoticeKind.REJECTED,
}


@dataclass(frozen=True, slots=True)
class LastFill:
    """The fill a stream event reports: its quantity, price and commission."""

    qty: Decimal
    price: Decimal
    fees: dict[str, Decimal]


def ticket_result(order: Order) -> tuple[OutcomeKind, TicketState]:
    """What an order's state means for the ticket it was placed from (ENDED: without a fill,
    its status says how)."""
    if order.is_open:
        return OutcomeKind.OPEN, TicketState.OPEN
    if order.executed_qty > 0:
        return OutcomeKind.FILLED, TicketState.FILLED
    return OutcomeKind.ENDED, TicketState.ENDED


def order_state(order: Order) -> OrderState:
    return OrderState(
        symbol=order.symbol,
        order_id=order.order_id,
        client_id=order.orig_client_order_id or order.client_order_id,
        side=order.side,
        order_type=order.type,
        quantity=order.orig_qty,
        status=order.status,
        executed=order.executed_qty,
        price=order.price,
        time_in_force=order.time_in_force,
        created_ms=order.time,
        quote=order.cumulative_quote_qty,
        order_list_id=order.order_list_id,
        stop_price=order.stop_price,
        trailing_delta=order.trailing_delta,
    )


def order_from_report(r: ExecutionReport) -> Order:
    """The order as an `executionReport` shows it (a cancel's own id is not the order's)."""
    return Order(
        symbol=r.symbol,
        order_id=r.order_id,
        client_order_id=r.orig_client_order_id or r.client_order_id,
        side=r.side,
        type=r.order_type,
        status=r.status,
        price=r.price,
        orig_qty=r.quantity,
        executed_qty=r.cumulative_qty,
        cumulative_quote_qty=r.cumulative_quote,
        time_in_force=r.time_in_force,
        time=r.order_time or r.transaction_time,
        update_time=r.event_time,
        stop_price=r.stop_price,
        trailing_delta=r.trailing_delta,
        order_list_id=r.order_list_id,
        is_working=r.is_working,
    )


def notice_for(
    user_id: int,
    order: Order,
    before: Told | None,
    resolved: bool,
    fill: LastFill | None,
    fees: dict[str, Decimal],
    *,
    exits_follow: bool = False,
) -> FillNotice | None:
    """The message for what is new in `order` since `before` (None: nothing new)."""
    if before is None:
        if not (resolved and order.is_open):
            return None
        kind, before = NoticeKind.PLACED, Told(order.executed_qty, False)
    elif order.status in _NOTICE_KINDS:
        kind = _NOTICE_KINDS[order.status]
    else:
        kind = NoticeKind.PARTIAL
    last_qty = order.executed_qty - before.executed
    this_fill = fill if fill is not None and fill.qty == last_qty else None
    if this_fill is not None and not fees:
        fees = this_fill.fees
    return FillNotice(
        user_id=user_id,
        kind=kind,
        symbol=order.symbol,
        side=order.side,
        order_type=order.type,
        order_id=order.order_id,
        quantity=order.orig_qty,
        filled=order.executed_qty,
        price=order.price,
        average_price=order.average_price,
        quote=order.cumulative_quote_qty,
        last_qty=last_qty,
        last_price=this_fill.price if this_fill is not None else None,
        fees={asset: fee for asset, fee in fees.items() if fee},
        was_unknown=resolved,
        exits_follow=exits_follow and order.status == "FILLED",
    )
