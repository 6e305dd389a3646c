"""The words of an exit plan: each leg, what the stop would lose and the target gain, and the
help text of the exit grammar.

Only what is known is said: a trailing leg that waits for its activation price has no exit
price yet, so its result is "not known until it starts to trail". The exit handlers (/buy with
tp/sl, /protect, /sl, /tp) use these; `EXIT_HELP` is their /help text, for the command list to
take when the handlers are registered.
"""

from __future__ import annotations

from decimal import Decimal

from chatbot.errors import present
from chatbot.exchange.grid import price_places, quantity_places
from chatbot.exchange.models import Order
from chatbot.exchange.order_lists import OrderList
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.services.exit_plan import ExitFigures, ExitLeg, ExitPlan, LegType, Money
from chatbot.services.order_intent import ExitRole
from chatbot.services.order_outcomes import Outcome
from chatbot.storage.tickets import Ticket, TicketKind
from handlers.common import esc, num

MINUS = "−"  # U+2212, as a figure's sign reads in a message

# The /help entries of the exit commands (the grammar is handlers/exit_parsing.py's).
EXIT_HELP = {
    "buy": (
        "/buy BTC 0.01 @ 66000 tp 70000 sl 64000: buy with a take-profit and a stop-loss "
        "placed on Binance together (tp +5% sl -3%: percentages of the entry price; "
        "trail 1.5%: the stop trails 1.5% below the highest price; trail tp 2%: the "
        "take-profit trails instead)"
    ),
    "protect": (
        "/protect ETH sl 2500 tp 3600: a stop-loss and a take-profit (OCO) on coins you hold; "
        "/protect ETH 0.5 sl -5% trail 2% for part of them (percentages of the last price)"
    ),
    "sl": (
        "/sl BTC 64000: a stop-loss on the BTC you hold (/sl BTC -5%, /sl BTC 0.01 @ 64000, "
        "/sl BTC trail 2%: a stop that trails 2% below the highest price from now)"
    ),
    "tp": "/tp BTC 70000: a take-profit on the BTC you hold (/tp BTC +8%, /tp BTC 0.01 @ 70000)",
}

_NAMES = {ExitRole.TAKE_PROFIT: "Take-profit", ExitRole.STOP_LOSS: "Stop-loss"}


def render_exit_plan(plan: ExitPlan, figures: ExitFigures, rules: SymbolRules) -> str:
    """The legs, then the figures, one line each."""
    lines = [render_leg(leg, rules) for leg in plan.legs]
    return "\n".join(lines + render_figures(plan, figures, rules))


def render_leg(leg: ExitLeg, rules: SymbolRules) -> str:
    """`Stop-loss: sell 0.01 BTC if the price falls to 64,000 (market)`, and the like."""
    pp = price_places(rules)
    what = f"{_NAMES[leg.role]}: sell {num(leg.quantity, quantity_places(rules))} "
    what += esc(rules.base_asset)
    how = f", at {num(leg.limit_price, pp)} or better (limit)" if leg.limit_price else " (market)"
    if leg.order_type is LegType.LIMIT_MAKER:
        price = present(leg.limit_price, "a limit maker's price")
        return f"{what} at {num(price, pp)} (limit maker)"
    if leg.trailing_bps is None:
        move = "rises" if leg.role is ExitRole.TAKE_PROFIT else "falls"
        trigger = present(leg.stop_price, "an untrailed trigger")
        return f"{what} if the price {move} to {num(trigger, pp)}{how}"
    trail = f"{_percent(leg.trailing_bps)}%"
    fall = f"once the price falls {trail} from its highest"
    if leg.stop_price is not None:
        start = f"trailing {trail} once it reaches {num(leg.stop_price, pp)}"
        return f"{what}{how}, {start}: {fall} after that"
    floor = present(leg.first_trigger, "a trailing stop's floor")
    return f"{what}{how} {fall} since it is placed (first at {num(floor, pp)} or higher)"


def render_figures(plan: ExitPlan, figures: ExitFigures, rules: SymbolRules) -> list[str]:
    """Loss at the stop, gain at the target, risk:reward: each as far as it is known."""
    lines = []
    if plan.stop_loss is not None:
        lines.append(_figure("stop", figures.at_stop, rules, of_balance=True))
    if plan.take_profit is not None:
        lines.append(_figure("target", figures.at_target, rules, of_balance=False))
    if figures.risk_reward is not None:
        lines.append(f"Risk:reward 1 : {num(figures.risk_reward, 2)}")
    return lines


def _figure(where: str, money: Money | None, rules: SymbolRules, *, of_balance: bool) -> str:
    if money is None:
        return f"At the {where}: not known until it starts to trail."
    label = {"stop": "Loss at the stop", "target": "Gain at the target"}[where]
    if (money.quote < 0) != (where == "stop"):
        label = f"Result at the {where}"
    if money.usdt is not None:
        text = f"{label}: {_signed(money.usdt, 2)} USDT"
    else:
        text = f"{label}: {_signed(money.quote, price_places(rules))} {esc(rules.quote_asset)}"
    if money.share_pct is not None:
        share = _signed(money.share_pct, 1) + "%"
        text += f" ({share} of your balance)" if of_balance else f" ({share})"
    return text


def _signed(value: Decimal, places: int) -> str:
    """`+39.87`, `−20.13`: a figure with its sign always shown."""
    text = num(abs(value), places)
    if text == "0":
        return text
    return (MINUS if value < 0 else "+") + text


def _percent(bps: int) -> str:
    return num(Decimal(bps) / 100)


def render_list_placed(outcome: Outcome) -> str:
    """What a placed order list became: its legs by Binance's ids."""
    placed = present(outcome.order_list, "the placed list")
    t = outcome.ticket
    legs = _leg_ids(t, placed)
    if t.kind is TicketKind.OTOCO:
        entry = next((r.order_id for r in placed.reports if r.type == "LIMIT"), None)
        number = f" (order #{entry})" if entry is not None else ""
        return (
            f"📌 <b>Entry placed</b>: BUY {num(t.quantity or Decimal(0))} {esc(t.symbol)} @ "
            f"{num(t.price or Decimal(0))}{number}; its exits ({', '.join(legs)}) go on the "
            f"book when it fills (order list #{placed.order_list_id}). /orders lists them."
        )
    return (
        f"📌 <b>Placed</b>: {', '.join(legs)} (OCO, order list #{placed.order_list_id}) on "
        f"{esc(t.symbol)}: the first to trigger cancels the other. /orders lists them."
    )


def render_exit_open(ticket: Ticket, order: Order) -> str:
    """A single stop-loss or take-profit on the book."""
    [leg] = ticket.legs
    return (
        f"📌 <b>Placed</b>: {_NAMES[leg.role].lower()} #{order.order_id} on "
        f"{esc(ticket.symbol)}, {num(order.orig_qty)} {esc(ticket.symbol)} waits for its "
        f"trigger. /orders lists it; /cancel {order.order_id} cancels it."
    )


def render_entry_exits(outcome: Outcome) -> str:
    """A market entry's OCO after the fill: placed, refused (the coins are unprotected: what to
    type), or sent without an answer yet."""
    exits, t = present(outcome.exits, "a market entry's exits"), outcome.ticket
    if exits.order_list is not None:
        legs = _leg_ids(t, exits.order_list)
        return (
            f"🛡 <b>Exits placed</b>: {', '.join(legs)} (OCO, order list "
            f"#{exits.order_list.order_list_id}): the first to trigger cancels the other."
        )
    if exits.refused is not None:
        roles = {leg.role: leg for leg in t.legs}
        stop, target = roles[ExitRole.STOP_LOSS], roles[ExitRole.TAKE_PROFIT]
        sl = stop.stop_price or stop.first_trigger
        tp = target.limit_price or target.stop_price
        plain = [format((v or Decimal(0)).normalize(), "f") for v in (sl, tp)]
        retry = f"/protect {t.symbol} sl {plain[0]} tp {plain[1]}"  # typeable: no separators
        return (
            f"⚠️ <b>Exits refused</b>: {esc(exits.refused.rstrip('.'))}. Your {esc(t.symbol)} "
            f"buy filled and the coins are held WITHOUT protection. To protect them, type "
            f"{esc(retry)} (or other levels)."
        )
    return (
        "⏳ <b>Exits not confirmed yet</b>: the OCO was sent once and will not be sent twice; "
        "/orders shows what Binance has. I check again at my next start."
    )


def _leg_ids(t: Ticket, placed: OrderList) -> list[str]:
    by_type = {r.type: r.order_id for r in placed.reports}
    names = []
    for leg in t.legs:
        order_id = by_type.get(str(leg.order_type))
        name = _NAMES[leg.role].lower()
        names.append(f"{name} #{order_id}" if order_id else name)
    return names
