"""The answers to a press on a preview's Confirm or Cancel: the service says what happened
(`PressKind`, the ticket's state), the handler says it in words."""

from __future__ import annotations

from chatbot.exchange.models import Order
from chatbot.services.order_outcomes import Cause, Outcome, OutcomeKind, PressKind, PressResult
from chatbot.side import Side
from chatbot.storage.tickets import Ticket, TicketKind, TicketState
from handlers.order_texts import press_answer, render_outcome


def ticket(kind: TicketKind) -> Ticket:
    return Ticket(
        id="t1", user_id=1, chat_id=1, message_id=None, kind=kind, symbol="BTCUSDT",
        side=Side.BUY if kind is TicketKind.ORDER else None, order_type="MARKET", quantity=None,
        quote_quantity=None, price=None, preview_price=None, state=TicketState.CONFIRMING,
        created_at=0.0, updated_at=0.0, order_id=None, detail=None,
    )  # fmt: skip


def test_every_press_kind_has_an_answer() -> None:
    results = {
        PressKind.GONE: PressResult(PressKind.GONE),
        PressKind.NOT_OWNER: PressResult(PressKind.NOT_OWNER),
        PressKind.WON: PressResult(PressKind.WON, won=ticket(TicketKind.ORDER)),
        PressKind.CANCELLED: PressResult(PressKind.CANCELLED),
        PressKind.EXPIRED: PressResult(PressKind.EXPIRED),
        PressKind.LOST: PressResult(PressKind.LOST, state=TicketState.FILLED),
    }
    assert set(results) == set(PressKind)
    answers = {kind: press_answer(r, confirming=True) for kind, r in results.items()}
    assert answers == {
        PressKind.GONE: "This preview no longer exists: send the command again.",
        PressKind.NOT_OWNER: "This is not your order.",
        PressKind.WON: "Placing the order…",
        PressKind.CANCELLED: "Cancelled.",
        PressKind.EXPIRED: "Expired: send the command again.",
        PressKind.LOST: "Already placed (filled).",
    }


def test_a_won_cancel_all_says_cancelling_and_a_gone_cancel_says_no_more() -> None:
    won = PressResult(PressKind.WON, won=ticket(TicketKind.CANCEL_ALL))
    assert press_answer(won, confirming=True) == "Cancelling…"
    assert press_answer(PressResult(PressKind.GONE), confirming=False) == (
        "This preview no longer exists."
    )


def test_a_lost_press_is_told_what_became_of_the_ticket() -> None:
    def lost(state: TicketState) -> str:
        return press_answer(PressResult(PressKind.LOST, state=state), confirming=True)

    assert lost(TicketState.CONFIRMING) == "Already being placed."
    assert lost(TicketState.CANCELLED) == "This preview was cancelled; send the command again."
    assert lost(TicketState.MISSING) == "This preview is no longer active."


def test_the_bots_own_reasons_and_an_ended_order_are_put_in_words_here() -> None:
    restarted = Outcome(
        OutcomeKind.NOT_SENT, ticket(TicketKind.ORDER), cause=Cause.RESTARTED_BEFORE_SENDING
    )
    assert render_outcome(restarted) == (
        "❌ <b>Not sent</b>: the bot restarted before sending it; nothing was placed."
    )
    busy = Outcome(OutcomeKind.NOT_SENT, ticket(TicketKind.ORDER), cause=Cause.DATABASE_BUSY)
    assert "its database is busy" in render_outcome(busy)
    order = Order.from_json(
        {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "t1", "status": "EXPIRED"}
    )
    ended = Outcome(OutcomeKind.ENDED, ticket(TicketKind.ORDER), order=order)
    assert render_outcome(ended) == (
        "⌛ <b>Placed, then ended</b>: the order ended expired without a fill."
    )
