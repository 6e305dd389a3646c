"""Events of a user's data stream (WebSocket API `userDataStream.subscribe.signature`).

Each record has a `from_json` constructor taking the event object as Binance sends it, inside
the `{"subscriptionId": N, "event": {...}}` wrapper. Amounts are `Decimal`, times milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chatbot.exchange.models import Balance, list_id_or_none
from chatbot.exchange.order_lists import ListedOrder

_FINAL_STATUSES = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"})


@dataclass(slots=True)
class ExecutionReport:
    """An `executionReport` event: one change to one order (placed, filled, cancelled, ...).

    `execution_type` says what just happened (NEW, TRADE, CANCELED, EXPIRED, ...), `status` what
    the order is now. `last_*` describe this execution's fill, `cumulative_*` the order so far.
    `(order_id, execution_id)` identifies the event. `orig_client_order_id` is set on a cancel
    only (the order's own client id; `client_order_id` is then the cancel request's id).
    """

    symbol: str
    client_order_id: str
    orig_client_order_id: str | None
    side: str
    order_type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal
    execution_type: str
    status: str
    reject_reason: str
    order_id: int
    execution_id: int | None
    last_qty: Decimal
    cumulative_qty: Decimal
    last_price: Decimal
    commission: Decimal
    commission_asset: str | None
    transaction_time: int
    trade_id: int
    is_maker: bool
    cumulative_quote: Decimal
    event_time: int
    order_time: int | None = None  # when the order was placed ("O")
    order_list_id: int | None = None  # "g"; None for Binance's -1 (in no order list)
    stop_price: Decimal | None = None  # "P"; None when Binance sends 0 (not a stop order)
    trailing_delta: int | None = None  # "d", basis points; trailing stops only
    is_working: bool = True  # "w": on the book (False for an untriggered stop, a pending leg)
    expiry_reason: str | None = None  # "eR": why an EXPIRED order expired (e.g. OCO_TRIGGER)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExecutionReport:
        return cls(
            symbol=data["s"],
            client_order_id=data["c"],
            orig_client_order_id=data.get("C") or None,
            side=data["S"],
            order_type=data["o"],
            time_in_force=data["f"],
            quantity=Decimal(data["q"]),
            price=Decimal(data["p"]),
            execution_type=data["x"],
            status=data["X"],
            reject_reason=data.get("r", "NONE"),
            order_id=int(data["i"]),
            execution_id=_int_or_none(data.get("I")),
            last_qty=Decimal(data["l"]),
            cumulative_qty=Decimal(data["z"]),
            last_price=Decimal(data["L"]),
            commission=Decimal(data.get("n") or 0),
            commission_asset=data.get("N") or None,
            transaction_time=int(data["T"]),
            trade_id=int(data.get("t", -1)),
            is_maker=data.get("m") is True,
            cumulative_quote=Decimal(data["Z"]),
            event_time=int(data["E"]),
            order_time=_int_or_none(data.get("O")),
            order_list_id=list_id_or_none(data.get("g")),
            stop_price=Decimal(data["P"]) or None if "P" in data else None,
            trailing_delta=_int_or_none(data.get("d")),
            is_working=data.get("w", True) is True,
            expiry_reason=data.get("eR") or None,
        )

    @property
    def average_price(self) -> Decimal | None:
        """Average fill price so far (cumulative quote / cumulative quantity), None unfilled."""
        if self.cumulative_qty == 0:
            return None
        return self.cumulative_quote / self.cumulative_qty

    @property
    def is_final(self) -> bool:
        """The order is done: no further event will change it."""
        return self.status in _FINAL_STATUSES


@dataclass(slots=True)
class AccountPosition:
    """`outboundAccountPosition`: the new free/locked amounts of the assets that just changed."""

    balances: list[Balance]
    update_time: int
    event_time: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountPosition:
        return cls(
            [Balance(b["a"], Decimal(b["f"]), Decimal(b["l"])) for b in data["B"]],
            int(data["u"]),
            int(data["E"]),
        )


@dataclass(slots=True)
class BalanceChange:
    """`balanceUpdate`: a deposit, withdrawal or transfer; `delta` is negative for money out."""

    asset: str
    delta: Decimal
    clear_time: int
    event_time: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BalanceChange:
        return cls(data["a"], Decimal(data["d"]), int(data["T"]), int(data["E"]))


@dataclass(slots=True)
class ListStatus:
    """`listStatus`: a change to an order list as a whole (placed, a leg done, all done).

    `list_status_type` is RESPONSE, EXEC_STARTED, UPDATED or ALL_DONE; `list_order_status`
    EXECUTING, ALL_DONE or REJECT (with `reject_reason`). Which leg filled and which was
    cancelled comes in the legs' own execution reports; `orders` names the legs.
    """

    symbol: str
    order_list_id: int
    contingency_type: str
    list_status_type: str
    list_order_status: str
    reject_reason: str
    list_client_order_id: str
    transaction_time: int
    event_time: int
    orders: list[ListedOrder]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ListStatus:
        return cls(
            symbol=data["s"],
            order_list_id=int(data["g"]),
            contingency_type=data["c"],
            list_status_type=data["l"],
            list_order_status=data["L"],
            reject_reason=data.get("r", "NONE"),
            list_client_order_id=data["C"],
            transaction_time=int(data["T"]),
            event_time=int(data["E"]),
            orders=[ListedOrder(o["s"], int(o["i"]), o["c"]) for o in data["O"]],
        )

    @property
    def is_final(self) -> bool:
        """No leg of the list can execute any more."""
        return self.list_order_status in {"ALL_DONE", "REJECT"}


UserEvent = ExecutionReport | AccountPosition | BalanceChange | ListStatus


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
