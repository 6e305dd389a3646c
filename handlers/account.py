"""/balance, /history and /orders: the asking user's own account, signed with their key."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from telegram import Update

from chatbot.exchange.models import AccountTrade, Order
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.services.account import BalanceReport, Holding
from handlers.common import esc, num, reply, typing, user_id
from handlers.context import BotContext
from handlers.list_texts import order_lines, order_terms
from handlers.parsing import parse_one_symbol, parse_optional_symbol


async def balance(update: Update, context: BotContext) -> None:
    """/balance: non-zero assets, free and locked, valued in USDT, with the total."""
    async with typing(update):
        report = await context.services.account.balances(user_id(update))
    await reply(update, render_balances(report))


async def history(update: Update, context: BotContext) -> None:
    """/history BTCUSDT: the user's own last ten fills on a symbol."""
    name = parse_one_symbol(context.args or [], "/history")
    async with typing(update):
        rules, fills = await context.services.account.history(user_id(update), name)
    await reply(update, render_history(rules, fills))


async def orders(update: Update, context: BotContext) -> None:
    """/orders [SYMBOL]: the user's open orders."""
    name = parse_optional_symbol(context.args or [], "/orders")
    async with typing(update):
        symbol, open_orders = await context.services.account.open_orders(user_id(update), name)
    await reply(update, render_orders(open_orders, symbol))


def render_balances(report: BalanceReport) -> str:
    if not report.holdings and not report.dust:
        return "Your Binance spot account is empty."
    lines = ["<b>Balances</b> (valued in USDT)"]
    lines += [_holding_line(h) for h in report.holdings]
    if report.dust:
        assets = ", ".join(h.asset for h in report.dust)
        lines.append(f"dust ({esc(assets)}): ≈ {num(report.dust_usdt, 2)} USDT")
    lines.append(f"<b>Total ≈ {num(report.total_usdt, 2)} USDT</b>")
    return "\n".join(lines)


def _holding_line(h: Holding) -> str:
    value = f"≈ {num(h.value_usdt, 2)} USDT" if h.value_usdt is not None else "(no USDT price)"
    locked = f" (locked {num(h.locked)})" if h.locked else ""
    return f"<b>{esc(h.asset)}</b> {num(h.total)}{locked} {value}"


def render_history(rules: SymbolRules, fills: list[AccountTrade]) -> str:
    if not fills:
        return f"You have no fills on {esc(rules.symbol)}."
    lines = [f"<b>Your last {len(fills)} fills on {esc(rules.symbol)}</b> (UTC)"]
    for fill in fills:
        side = "BUY" if fill.is_buyer else "SELL"
        lines.append(
            f"{_when(fill.time)} {side} {num(fill.qty)} @ {num(fill.price)} "
            f"= {num(fill.quote_qty)} {esc(rules.quote_asset)} "
            f"(fee {num(fill.commission)} {esc(fill.commission_asset)})"
        )
    return "\n".join(lines)


def render_orders(open_orders: list[Order], symbol: str | None) -> str:
    if not open_orders:
        where = f" on {esc(symbol)}" if symbol else ""
        return f"You have no open orders{where}."
    lines = [f"<b>Open orders</b> ({len(open_orders)})"]
    lines += order_lines(open_orders, _order_line)
    lines.append("Cancel one with /cancel ORDER_ID (a leg of an order list cancels the list)")
    return "\n".join(lines)


def _order_line(order: Order) -> str:
    if order.stop_price is not None or order.trailing_delta is not None:
        what = f"{esc(order.symbol)} {order_terms(order)} ({esc(order.type)})"
        return f"#{order.order_id} {what} · {_age(order.time)}"
    return (
        f"#{order.order_id} {order.side} {esc(order.type)} {esc(order.symbol)} "
        f"{num(order.executed_qty)}/{num(order.orig_qty)} @ {num(order.price)} "
        f"· {_age(order.time)}"
    )


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%m-%d %H:%M")


def _age(ms: int | None) -> str:
    if not ms:
        return "age unknown"
    seconds = max(0, int(time.time() - ms / 1000))
    if seconds < 3600:
        return f"{seconds // 60} min old"
    if seconds < 86400:
        return f"{seconds // 3600} h old"
    return f"{seconds // 86400} d old"
