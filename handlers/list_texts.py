"""Order lists (OCO, OTOCO) in the chat's words: the one message that tells how a list ended."""

from __future__ import annotations

from decimal import Decimal

from chatbot.exchange.models import Order
from chatbot.services.list_outcomes import ListLegOutcome, ListNotice
from handlers.common import esc, num

_FINISHED = frozenset({"FILLED", "PARTIALLY_FILLED"})


def list_name(contingency: str) -> str:
    """Binance calls an OTOCO's list OTO; traders know it as OTOCO."""
    return "OTOCO" if contingency == "OTO" else contingency


def render_list_end(n: ListNotice) -> str:
    """ "✅ OCO #12 on BTCUSDT done: take-profit filled, sold 0.01 BTC at 70,000 for 700 USDT
    (+39.87 USDT against the entry); the stop-loss was cancelled." A list that ended with no
    exit filled (cancelled on the web, expired) starts with ✖."""
    exits = n.exits
    filled = [leg for leg in exits if leg.order.executed_qty > 0]
    head = f"{list_name(n.contingency)} #{n.order_list_id} on {esc(n.symbol)}"
    if not filled:
        ended = " and ".join(f"the {leg.role} ({_status(leg.order)})" for leg in exits)
        return f"✖ <b>{head} ended</b>: nothing filled; {ended or 'its orders ended'}."
    told = "; ".join(_filled(n, leg) for leg in filled)
    others = [leg for leg in exits if leg.order.executed_qty == 0]
    tail = "".join(f"; the {leg.role} was {_status(leg.order)}" for leg in others)
    result = ""
    if n.result is not None:
        result = f"\nResult against the entry: {_signed(n.result)} {esc(n.quote_asset)}"
    return f"✅ <b>{head} done</b>: {told}{tail}.{result}"


def _filled(n: ListNotice, leg: ListLegOutcome) -> str:
    o = leg.order
    verb = "sold" if o.side == "SELL" else "bought"
    partly = "" if o.status == "FILLED" else f" (of {num(o.orig_qty)})"
    at = f" at {num(o.average_price, 8)}" if o.average_price is not None else ""
    total = f" for {num(o.cumulative_quote_qty)} {esc(n.quote_asset)}"
    return f"{leg.role} filled, {verb} {num(o.executed_qty)}{partly} {esc(n.base_asset)}{at}{total}"


def _status(order: Order) -> str:
    # An OCO's other leg EXPIRES (OCO_TRIGGER) when one leg executes: to a trader, cancelled.
    return "cancelled" if order.status in ("CANCELED", "EXPIRED") else order.status.lower()


def _signed(value: Decimal) -> str:
    return ("+" if value >= 0 else "−") + num(abs(value).quantize(Decimal("0.01")))
