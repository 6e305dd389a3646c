"""/price and /trades: public market data, no key needed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from telegram import Update
from telegram.ext import ContextTypes

from chatbot.exchange.filters import price_places, quantity_places
from chatbot.exchange.models import MarketTrade
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.services.market import Quote
from handlers.common import esc, num, reply, services, typing
from handlers.parsing import parse_one_symbol, parse_symbols


async def price(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/price BTCUSDT [ETHUSDT ...]: last price and 24 h statistics of up to ten symbols."""
    names = parse_symbols(context.args or [], "/price")
    async with typing(update):
        quotes = await services(context).market.quotes(names)
    await reply(update, "\n\n".join(render_quote(q) for q in quotes))


async def trades(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/trades BTCUSDT: the last ten market trades."""
    name = parse_one_symbol(context.args or [], "/trades")
    async with typing(update):
        rules, recent = await services(context).market.recent_trades(name)
    await reply(update, render_trades(rules, recent))


def render_quote(quote: Quote) -> str:
    rules, ticker = quote.rules, quote.ticker
    places = price_places(rules)
    change = ticker.price_change_percent
    arrow = "▲" if change > 0 else "▼" if change < 0 else "•"
    return (
        f"<b>{esc(rules.symbol)}</b>  {num(ticker.last_price, places)} {esc(rules.quote_asset)}"
        f"  {arrow} {_signed_pct(change)}\n"
        f"24h high {num(ticker.high_price, places)} · low {num(ticker.low_price, places)}\n"
        f"24h volume {num(ticker.quote_volume, 0)} {esc(rules.quote_asset)}"
    )


def _signed_pct(value: Decimal) -> str:
    sign = "+" if value > 0 else ""
    return f"{sign}{num(value, 2)}%"


def render_trades(rules: SymbolRules, recent: list[MarketTrade]) -> str:
    if not recent:
        return f"No recent trades on {esc(rules.symbol)}."
    lines = [f"<b>{esc(rules.symbol)}</b> last {len(recent)} trades (UTC)", "<pre>"]
    for trade in recent:
        side = "SELL" if trade.is_buyer_maker else "BUY "
        lines.append(
            f"{_hms(trade.time)} {side} {num(trade.price, price_places(rules)):>12} "
            f"× {num(trade.qty, quantity_places(rules))}"
        )
    lines.append("</pre>")
    return "\n".join(lines)


def _hms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")
