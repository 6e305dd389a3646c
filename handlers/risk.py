"""/risk: each holding's protection on the exchange and the loss if every stop hits, with a
"Protect" button under each unprotected holding that opens a prefilled /protect preview."""

from __future__ import annotations

from decimal import Decimal

from telegram import Update
from telegram.ext import CallbackQueryHandler

from chatbot.services.risk import Exit, HoldingRisk, Protection, RiskReport
from handlers.common import Buttons, esc, num, press_of, pressed_message, reply, typing, user_id
from handlers.context import BotContext
from handlers.exits import show_exit_preview
from handlers.parsing import button_fields

# Button data, as handlers/parsing.py's patterns: the asset to protect (the presser's own).
PROTECT_BUTTON = r"^risk:protect:([A-Z0-9]{2,20})\Z"


async def risk(update: Update, context: BotContext) -> None:
    """/risk: holdings, their exits (OCO, stop, trailing, take-profit, none), the total loss."""
    async with typing(update):
        report = await context.services.risk.report(user_id(update))
    await reply(update, render_risk(report), protect_buttons(report))


async def protect_button(update: Update, context: BotContext) -> None:
    """The "Protect ETH" button: the /protect preview of a stop-loss the default distance below
    the price, for the presser's own account (the preview's ticket is theirs alone to confirm).
    A refusal (nothing free to protect, no key) is shown as the press's answer."""
    query = press_of(update)
    (asset,) = button_fields(context.match)
    chat_id = pressed_message(query).chat_id
    intent = context.services.risk.protect_intent(asset)
    preview = await context.services.orders.preview_protect(query.from_user.id, chat_id, intent)
    await query.answer()
    await show_exit_preview(chat_id, context, preview)


def protect_button_handler() -> CallbackQueryHandler:
    """Registered in chatbot/app.py (beside the chart button's) once handlers/exits.py is
    merged; until then a press answers "This button is no longer active", like any button
    without a handler, rather than failing on the missing preview."""
    return CallbackQueryHandler(protect_button, pattern=PROTECT_BUTTON)


def protect_buttons(report: RiskReport) -> Buttons:
    return [[(f"Protect {asset}", f"risk:protect:{asset}")] for asset in report.unprotected]


def render_risk(report: RiskReport) -> str:
    if not report.holdings and not report.dust and not report.cash_usdt:
        return "Your Binance spot account is empty: nothing to protect."
    lines = ["<b>Risk</b> (what protects each holding on Binance)"]
    for holding in report.holdings:
        lines += _holding_lines(holding)
    if report.cash_usdt:
        lines.append(f"<b>USDT</b> {num(report.cash_usdt, 2)}: cash, nothing to protect")
    if report.dust:
        assets = ", ".join(h.asset for h in report.dust)
        dust = num(report.dust_usdt, 2)
        lines.append(f"dust ({esc(assets)}): ≈ {dust} USDT, too small to protect")
    lines.append(_total_line(report))
    if report.unprotected:
        lines.append("Protect shows a stop-loss preview; nothing is placed before you Confirm.")
    return "\n".join(lines)


def _holding_lines(h: HoldingRisk) -> list[str]:
    value = f"≈ {num(h.value_usdt, 2)} USDT" if h.value_usdt is not None else "(no USDT price)"
    head = f"<b>{esc(h.asset)}</b> {num(h.total)} {value}: "
    if h.protection is Protection.NONE:
        return [head + "⚠️ no protection"]
    if h.protection is Protection.TAKE_PROFIT:
        head += "take-profit only, no stop"
    else:
        head += f"{num(h.covered)} of {num(h.total)} {esc(h.asset)} covered"
    return [head, *(f"  · {_exit_line(e, h.asset)}" for e in h.exits)]


def _exit_line(e: Exit, asset: str) -> str:
    quote = esc(e.quote)
    head = f"{_NAMES[e.kind]} on {num(e.quantity)} {esc(asset)}: "
    if e.kind is Protection.TAKE_PROFIT:
        return head + f"sells at {_price(e.target, quote)}"
    parts = [f"target {_price(e.target, quote)}"] if e.kind is Protection.OCO else []
    parts.append(_trailing(e, quote) if e.trail_bps is not None else _stop(e, quote))
    return head + ", ".join(parts) + "; " + _loss(e)


_NAMES = {
    Protection.OCO: "OCO",
    Protection.STOP: "stop-loss",
    Protection.TRAILING: "trailing stop",
    Protection.TAKE_PROFIT: "take-profit",
}


def _stop(e: Exit, quote: str) -> str:
    limit = f" (limit {_price(e.limit, quote)})" if e.limit is not None else ""
    return f"stop {_price(e.stop, quote)}{limit}"


def _trailing(e: Exit, quote: str) -> str:
    text = f"trailing {num(Decimal(e.trail_bps or 0) / 100, 2)}%"
    if e.limit is not None:
        text += f" (limit {_price(e.limit, quote)})"
    if e.trailing_active:
        if e.limit is None and e.worst_fill is not None:
            return f"{text}, active: triggers at ≥ {_price(e.worst_fill, quote)}"
        return f"{text}, active"
    if e.stop is not None:
        return f"{text}, starts at {_price(e.stop, quote)}"
    return text


def _loss(e: Exit) -> str:
    if e.loss_usdt is None and e.trail_bps is not None and not e.trailing_active:
        return "loss unknown until it starts trailing"
    if e.loss_usdt is None:
        return "loss unknown (no USDT price)"
    return f"loss if hit ≈ {num(e.loss_usdt, 2)} USDT"


def _total_line(report: RiskReport) -> str:
    if not any(e.has_stop for h in report.holdings for e in h.exits):
        return "<b>No stop-loss on the exchange.</b>"
    if report.unknown_losses and not report.total_loss_usdt:
        unknown = report.unknown_losses
        return f"<b>If every stop hits: unknown</b> ({unknown} stop(s) whose fill is unknown)"
    share = report.loss_share_pct
    of_total = f" ({num(share, 2)}% of your {num(report.total_usdt, 2)} USDT)" if share else ""
    text = f"<b>If every stop hits: −{num(report.total_loss_usdt, 2)} USDT{of_total}</b>"
    if report.unknown_losses:
        text += f"\nnot counting {report.unknown_losses} stop(s) whose fill is unknown"
    return text


def _price(value: Decimal | None, quote: str) -> str:
    return f"{num(value)} {quote}" if value is not None else "?"
