"""Order lists (OCO, OTOCO) in the chat's words: the one message that tells how a list ended."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from chatbot.exchange.models import Order
from chatbot.services.list_outcomes import ListLegOutcome, ListNotice, leg_role
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


# -- /orders ---------------------------------------------------------------------------------

_TRIGGER_ABOVE = {("SELL", "TAKE_PROFIT"), ("BUY", "STOP_LOSS")}  # fires when the price rises


def order_terms(order: Order) -> str:
    """What an order does, in a trader's words: "sell 0.01 @ 70,000 (limit maker)" or, for a
    stop or take-profit, its trigger rather than price 0: "sell 0.01 if ≤ 64,000 (market)",
    "sell 0.01 if ≤ 64,000, limit 63,900", "sell 0.01 trailing 1.5% (market)"."""
    side, qty = order.side.lower(), num(order.orig_qty)
    kind = order.type.removesuffix("_LIMIT")
    if kind not in ("STOP_LOSS", "TAKE_PROFIT"):
        style = "limit maker" if order.type == "LIMIT_MAKER" else order.type.lower()
        at = f" @ {num(order.price)}" if order.price else ""
        return f"{side} {qty}{at} ({esc(style)})"
    above = (order.side, kind) in _TRIGGER_ABOVE
    trigger = ""
    if order.stop_price is not None:
        trigger = f" if {'≥' if above else '≤'} {num(order.stop_price)}"
    if order.trailing_delta is not None:
        trigger += f" trailing {num(Decimal(order.trailing_delta) / 100)}%"
    limit = f", limit {num(order.price)}" if order.type.endswith("_LIMIT") else " (market)"
    return f"{side} {qty}{trigger}{limit}"


def order_lines(orders: list[Order], describe: Callable[[Order], str]) -> list[str]:
    """One line per order outside any list (`describe` writes it), and one per order list
    with its legs, in the order the first of each appears."""
    lists: dict[tuple[str, int], list[Order]] = {}
    lines: list[str | tuple[str, int]] = []
    for order in orders:
        if order.order_list_id is None:
            lines.append(describe(order))
            continue
        key = (order.symbol, order.order_list_id)
        if key not in lists:
            lists[key] = []
            lines.append(key)
        lists[key].append(order)
    return [line if isinstance(line, str) else _list_line(lists[line]) for line in lines]


def _list_line(legs: list[Order]) -> str:
    """ "OCO #12 BTCUSDT: take-profit #101 sell 0.01 @ 70,000 (limit maker) · stop-loss #102
    sell 0.01 if ≤ 64,000 (market)". One leg alone is an OTOCO's entry, its exits waiting."""
    first = legs[0]
    name = "OCO" if len(legs) == 2 else "Order list"
    parts = [f"{leg_role(o, None)} #{o.order_id} {order_terms(o)}" for o in legs]
    line = f"{name} #{first.order_list_id} {esc(first.symbol)}: " + " · ".join(parts)
    if len(legs) == 1:
        line += " (its take-profit and stop-loss wait for it to fill)"
    return line
