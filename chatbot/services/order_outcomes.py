"""What the order services tell the chat, as types: the handlers choose the words.

A `PressResult` is what a press on a preview's Confirm or Cancel comes to (its short answer is
shown on the phone); an `Outcome` is what became of a confirmed ticket (the preview message is
edited into it); a `FillNotice` is a change to an order that the user hears about as a new
message. Services that learn something on their own (the user-data stream, a lookup after a
lost answer) pass both up through an `OrderNotifier`, which the handlers implement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from chatbot.exchange.models import Order
from chatbot.exchange.order_lists import OrderList
from chatbot.health import HealthBoard
from chatbot.storage.retry import until_written
from chatbot.storage.tickets import Ticket, TicketRepository, TicketState

if TYPE_CHECKING:
    from chatbot.services.order_preview import OrderPreview


class OutcomeKind(StrEnum):
    FILLED = "filled"  # filled (in full, or in part before it ended)
    OPEN = "open"  # on the book (perhaps partly filled)
    REJECTED = "rejected"  # Binance refused it: an error code proves it was not placed
    NOT_SENT = "not_sent"  # never left the bot (Binance unreachable, or a restart)
    ENDED = "ended"  # accepted, then ended (expired, cancelled) without a fill
    UNKNOWN = "unknown"  # sent; Binance has not confirmed it yet: being watched
    MISSING = "missing"  # sent; still no record after the watch: most likely not placed
    REPREVIEW = "repreview"  # the price moved too far: a fresh preview instead
    CANCELLED = "cancelled"  # the user pressed Cancel on the preview
    EXPIRED = "expired"  # not confirmed in time
    CANCELLED_ALL = "cancelled_all"  # a cancel-all ticket carried out
    CANCELLED_LIST = "cancelled_list"  # a cancel-list ticket carried out (`cancelled`: its legs)


class Cause(StrEnum):
    """Why the bot itself did not send or carry out a ticket (a refusal by Binance is told by
    its error's own message, `Outcome.reason`). Its value is the ticket's `detail` record."""

    DATABASE_BUSY = "database_busy"  # SUBMITTED could not be written: nothing was sent
    RESTARTED_BEFORE_SENDING = "restarted_before_sending"
    RESTARTED_BEFORE_CANCELLING = "restarted_before_cancelling"


@dataclass(frozen=True)
class EntryExits:
    """What became of the OCO that follows a market entry's fill: placed (`order_list`),
    refused by Binance (`refused`, its words: the coins are held without protection), or sent
    with no answer yet (neither)."""

    order_list: OrderList | None = None
    refused: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of a confirmed ticket; `kind` picks the message the chat shows. `reason` is
    a message meant for the user from an error (Binance's refusal, a key that must be set
    again); `cause` is the bot's own reason, put in words by the handler."""

    kind: OutcomeKind
    ticket: Ticket
    order: Order | None = None
    reason: str | None = None
    cause: Cause | None = None
    preview: OrderPreview | None = None
    cancelled: list[Order] = field(default_factory=list)
    watched_seconds: float = 0.0  # MISSING: how long Binance was asked
    order_list: OrderList | None = None  # an exit list's ticket: the list Binance placed
    exits: EntryExits | None = None  # a market entry's ticket: its OCO after the fill


class PressKind(StrEnum):
    GONE = "gone"  # no such preview (any more)
    NOT_OWNER = "not_owner"  # another user's preview
    WON = "won"  # this press took the ticket: carry it out with `OrderService.execute`
    CANCELLED = "cancelled"  # Cancel took the preview: nothing will be sent
    EXPIRED = "expired"  # the press came too late and expired the preview
    LOST = "lost"  # the ticket had already moved on: its `state` says where


@dataclass(frozen=True)
class PressResult:
    """A press's result. `won` is the ticket when this press took it (carry it out with
    `execute`); `outcome` is set when the press settled it at once; `state` is the ticket's
    state when the press LOST."""

    kind: PressKind
    outcome: Outcome | None = None
    won: Ticket | None = None
    state: TicketState | None = None


class NoticeKind(StrEnum):
    PLACED = "placed"  # an order whose fate was unknown turned out to be on the book
    PARTIAL = "partial"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"


@dataclass(frozen=True)
class FillNotice:
    """A change to one of the user's orders that the user has not been told yet."""

    user_id: int
    kind: NoticeKind
    symbol: str
    side: str
    order_type: str
    order_id: int
    quantity: Decimal  # the order's quantity
    filled: Decimal  # filled so far
    price: Decimal  # the limit price (0 for market orders)
    average_price: Decimal | None
    quote: Decimal  # quote asset filled so far
    last_qty: Decimal = Decimal(0)  # filled since the user was last told
    last_price: Decimal | None = None  # that part's average price, when known
    reason: str | None = None
    fees: dict[str, Decimal] = field(default_factory=dict)
    was_unknown: bool = False  # the confirmation could not tell whether it was placed
    exits_follow: bool = False  # an OTO list's entry filled: its exits are now on the book


class OrderNotifier(Protocol):
    """How order services reach the chat (implemented by the handlers)."""

    async def order_update(self, notice: FillNotice) -> None:
        """Send the user a message about a change to one of their orders."""

    async def ticket_update(self, outcome: Outcome, *, announce: bool) -> None:
        """Edit the ticket's preview message into `outcome`; with `announce`, also send it
        as a new message (an edit alone does not notify the user)."""


async def not_placed(
    tickets: TicketRepository,
    ticket: Ticket,
    kind: OutcomeKind,
    reason: str,
    *,
    health: HealthBoard,
) -> Outcome:
    """Binance's error code proves the order (or order list) was not placed, or it never left
    the bot: the ticket is REJECTED with the reason, written however long the database takes."""
    await until_written(
        lambda: tickets.move(
            ticket.id,
            (TicketState.CONFIRMING, TicketState.SUBMITTED),
            TicketState.REJECTED,
            detail=reason,
        ),
        part="orders",
        health=health,
    )
    return Outcome(kind, ticket, reason=reason)
