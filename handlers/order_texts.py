"""The words of /buy, /sell and /cancel: previews, the answer to a press on Confirm or Cancel,
and what became of a confirmed order, each chosen by the kind the order service returns."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from telegram import Message

from chatbot.errors import present
from chatbot.exchange.grid import price_places, quantity_places
from chatbot.exchange.models import Order
from chatbot.services.list_outcomes import leg_role
from chatbot.services.order_cancels import CancelAllPreview, CancelListPreview
from chatbot.services.order_outcomes import Cause, Outcome, OutcomeKind, PressKind, PressResult
from chatbot.services.order_preview import OrderPreview
from chatbot.side import Side
from chatbot.storage.tickets import Ticket, TicketKind, TicketState
from handlers.common import esc, num
from handlers.list_texts import order_lines, order_terms

_PRESS_ANSWERS = {
    PressKind.NOT_OWNER: "This is not your order.",
    PressKind.CANCELLED: "Cancelled.",
    PressKind.EXPIRED: "Expired: send the command again.",
}
_LOST_ANSWERS = {
    TicketState.CONFIRMING: "Already being placed.",
    TicketState.SUBMITTED: "Already placed.",
    TicketState.FILLED: "Already placed (filled).",
    TicketState.OPEN: "Already placed (open).",
    TicketState.UNKNOWN: "Already sent; its status is being checked.",
    TicketState.REJECTED: "This order was rejected; send the command again.",
    TicketState.CANCELLED: "This preview was cancelled; send the command again.",
    TicketState.EXPIRED: "Expired: send the command again.",
    TicketState.DONE: "Already done.",
}


def press_answer(result: PressResult, *, confirming: bool) -> str:
    """The short answer shown on the phone for a press on Confirm (`confirming`) or Cancel."""
    if result.kind is PressKind.GONE:
        if confirming:
            return "This preview no longer exists: send the command again."
        return "This preview no longer exists."
    if result.kind is PressKind.WON:
        won = present(result.won, "the ticket a winning press took")
        cancels = (TicketKind.CANCEL_ALL, TicketKind.CANCEL_LIST)
        return "Cancelling…" if won.kind in cancels else "Placing the order…"
    if result.kind is PressKind.LOST:
        return _LOST_ANSWERS.get(
            present(result.state, "a lost press's state"), "This preview is no longer active."
        )
    return _PRESS_ANSWERS[result.kind]


def render_preview(p: OrderPreview) -> str:
    rules, order = p.rules, p.order
    base, quote = esc(rules.base_asset), esc(rules.quote_asset)
    qp, pp = quantity_places(rules), price_places(rules)
    kind = "limit order (GTC)" if order.price is not None else "market order"
    lines = [f"<b>Preview: {p.ticket.side} {esc(rules.symbol)}, {kind}</b>"]
    if order.quote_quantity is not None:
        verb = "Spend" if p.ticket.side is Side.BUY else "Receive"
        lines.append(f"{verb}: {num(order.quote_quantity)} {quote}")
        lines.append(f"Quantity: ≈ {num(p.quantity, qp)} {base}")
    else:
        lines.append(
            f"Quantity: {num(p.quantity)} {base}"
            + _rounded(order.quantity_rounded, p.typed_quantity)
        )
    if order.price is not None:
        lines.append(
            f"Limit price: {num(order.price)} {quote}"
            + _rounded(order.price_rounded, p.typed_price)
        )
    else:
        side = "best ask" if p.ticket.side is Side.BUY else "best bid"
        lines.append(f"Price: ≈ {num(p.price, pp)} {quote} ({side} now)")
    money = "Cost" if p.ticket.side is Side.BUY else "Proceeds"
    approx = "" if order.price is not None or order.quote_quantity is not None else "≈ "
    lines.append(f"{money}: {approx}{num(p.cost, pp)} {quote}")
    lines.append(f"Fee: ≈ {num(p.fee, 8)} {esc(p.fee_asset)} ({num(p.fee_rate * 100)}%)")
    lines.append(f"Your free {esc(p.spend_asset)}: {num(p.spend_free)}")
    if p.insufficient:
        lines.append(
            f"⚠️ Not enough {esc(p.spend_asset)}: this order needs {num(p.spend_needed, 8)}."
        )
    if p.largest is None:
        lines.append(f"Confirm within {p.ttl} s.")
    else:
        lines.append(_render_largest(p))
    return "\n".join(lines)


def _render_largest(p: OrderPreview) -> str:
    """What a preview without Confirm offers instead."""
    fit, rules = present(p.largest, "the largest fit of a preview without Confirm"), p.rules
    unit = rules.quote_asset if fit.in_quote else rules.base_asset
    if fit.amount == 0:
        return f"No Confirm: you have no {esc(p.spend_asset)} free for this order."
    if fit.refused is not None:
        return (
            f"No Confirm, and no smaller order fits either: {num(fit.amount)} {esc(unit)}, the "
            f"most your free {esc(p.spend_asset)} covers, is refused: {esc(fit.refused.message)}."
        )
    return f"No Confirm for this amount; the most that fits now is {num(fit.amount)} {esc(unit)}."


def _rounded(was_rounded: bool, typed: Decimal | None) -> str:
    return f" (rounded from {num(typed)})" if was_rounded and typed is not None else ""


def render_cancel_list(p: CancelListPreview) -> str:
    """Binance cancels a list as a whole: the preview names every order that goes with it."""
    head = f"<b>Cancel order list #{p.order_list_id} on {esc(p.ticket.symbol)}?</b>"
    lines = [head, "A leg cannot be cancelled alone; these orders go together:"]
    lines += order_lines(p.legs, _order_line)
    if len(p.legs) < 2:
        lines.append("(with the exits that wait for it to fill)")
    lines.append(f"Confirm within {p.ttl} s.")
    return "\n".join(lines)


def render_cancelled_list(outcome: Outcome) -> str:
    legs = outcome.cancelled
    list_id = outcome.ticket.order_id
    what = " · ".join(f"{leg_role(o, None)} #{o.order_id} {order_terms(o)}" for o in legs)
    return f"✅ Cancelled order list #{list_id} on {esc(outcome.ticket.symbol)}: {what}."


def render_cancel_all(p: CancelAllPreview) -> str:
    lines = [f"<b>Cancel all {len(p.orders)} open orders on {esc(p.ticket.symbol)}?</b>"]
    lines += [_order_line(o) for o in p.orders]
    lines.append(f"Confirm within {p.ttl} s.")
    return "\n".join(lines)


def _order_line(order: Order) -> str:
    return (
        f"#{order.order_id} {order.side} {esc(order.type)} {num(order.orig_qty)} "
        f"@ {num(order.price)}"
    )


def render_cancelled(order: Order) -> str:
    done = f"Cancelled order #{order.order_id} ({esc(order.symbol)})."
    if order.executed_qty:
        done += f" {num(order.executed_qty)} of {num(order.orig_qty)} had filled before."
    return done


def render_placing(message: Message) -> str:
    return esc(message.text or "") + "\n\n⏳ Sending to Binance…"


def render_outcome(outcome: Outcome) -> str:
    t, order, kind = outcome.ticket, outcome.order, outcome.kind
    if kind is OutcomeKind.FILLED and order is not None:
        return _render_fill(t, order)
    if kind is OutcomeKind.OPEN and order is not None:
        return _render_open(t, order)
    if kind is OutcomeKind.CANCELLED_LIST:
        return render_cancelled_list(outcome)
    if kind is OutcomeKind.REPREVIEW and outcome.reason:
        return (
            f"❌ <b>Not placed</b>: {esc(_sentence(outcome.reason))} The symbol's rules were "
            "re-read; new preview below."
        )
    text = _OUTCOME_TEXT.get(kind, "Done.")
    if kind is OutcomeKind.UNKNOWN and outcome.reason:  # e.g. the key must be set again
        text = _UNKNOWN_BLOCKED
    reason = outcome.reason or "Binance refused the order"
    if outcome.cause is not None:
        reason = _CAUSES[outcome.cause]
    elif kind is OutcomeKind.ENDED and order is not None:
        reason = f"the order ended {order.status.lower()} without a fill"
    return text.format(
        reason=esc(_sentence(reason)),
        watched=_duration(outcome.watched_seconds),
        count=len(outcome.cancelled),
        symbol=esc(t.symbol),
    )


_CAUSES = {
    Cause.DATABASE_BUSY: "the bot could not record it (its database is busy); nothing was placed",
    Cause.RESTARTED_BEFORE_SENDING: "the bot restarted before sending it; nothing was placed",
    Cause.RESTARTED_BEFORE_CANCELLING: "the bot restarted before cancelling; check /orders",
}
_UNKNOWN_BLOCKED = (
    "⏳ <b>Not confirmed yet</b>: the order was sent once and will not be sent again, but "
    "what became of it cannot be checked now: {reason} Once you have, I will check it and tell "
    "you here. /orders shows what Binance has now."
)
_OUTCOME_TEXT = {
    OutcomeKind.REJECTED: "❌ <b>Not placed</b>: {reason}",
    OutcomeKind.NOT_SENT: "❌ <b>Not sent</b>: {reason}",
    OutcomeKind.ENDED: "⌛ <b>Placed, then ended</b>: {reason}",
    OutcomeKind.UNKNOWN: (
        "⏳ <b>Not confirmed yet</b>: the order was sent once and will not be sent again, "
        "but Binance has not said what became of it. I keep checking and will tell you here "
        "as soon as Binance does. /orders shows what Binance has now."
    ),
    OutcomeKind.MISSING: (
        "❔ <b>Still no record</b>: Binance still has no record of this order after "
        "{watched}; it most likely was not placed. Check /orders before ordering again. "
        "If it appears later, I will tell you here."
    ),
    OutcomeKind.REPREVIEW: (
        "⌛ The price moved too much since this preview; nothing was sent. New preview below."
    ),
    OutcomeKind.CANCELLED: "Cancelled; nothing was sent.",
    OutcomeKind.EXPIRED: "⌛ This preview expired; nothing was sent. Send the command again.",
    OutcomeKind.CANCELLED_ALL: "✅ Cancelled {count} orders on {symbol}.",
}


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} minutes"


def _sentence(text: str) -> str:
    """`text` ending in exactly one full stop."""
    return text.rstrip().rstrip(".") + "."


def _render_open(ticket: Ticket, order: Order) -> str:
    filled = f", {num(order.executed_qty)} filled so far" if order.executed_qty else ""
    price = f"@ {num(order.price)}" if order.price else "at market"
    return (
        f"📌 <b>Order placed</b>: {ticket.side} {num(order.orig_qty)} {esc(ticket.symbol)} "
        f"{price} is open{filled} (order #{order.order_id}). /orders lists it; "
        f"/cancel {order.order_id} cancels it."
    )


def _render_fill(ticket: Ticket, order: Order) -> str:
    fees: dict[str, Decimal] = defaultdict(Decimal)
    for fill in order.fills:
        fees[fill.commission_asset] += fill.commission
    fee_text = ", ".join(f"{num(v)} {esc(k)}" for k, v in fees.items()) or "see /history"
    verb = "Bought" if ticket.side is Side.BUY else "Sold"
    money = "Cost" if ticket.side is Side.BUY else "Proceeds"
    average = order.average_price or Decimal(0)
    return (
        f"✅ <b>Filled</b>: {verb} {num(order.executed_qty)} {esc(order.symbol)} "
        f"at an average {num(average, 8)}\n"
        f"{money}: {num(order.cumulative_quote_qty)} · fee {fee_text}\n"
        f"Order #{order.order_id}"
    )
