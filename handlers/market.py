"""/price and /trades: public market data, no key needed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from telegram import Update
from telegram.constants import ChatAction
from telegram.ext import CallbackQueryHandler

from chatbot.exchange.grid import price_places, quantity_places
from chatbot.exchange.market_models import MarketTrade
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.services.market import Quote
from handlers.common import chat_of, esc, num, press_of, reply, typing
from handlers.context import BotContext
from handlers.parsing import (
    CHART_BUTTON,
    CommandError,
    button_fields,
    normalize_symbol,
    parse_one_symbol,
    parse_symbols,
)


async def price(update: Update, context: BotContext) -> None:
    """/price BTCUSDT [ETHUSDT ...]: last price and 24 h statistics of up to ten symbols."""
    names = parse_symbols(context.args or [], "/price")
    async with typing(update):
        quotes = await context.services.market.quotes(names)
    buttons = [[(f"📈 Chart {q.rules.symbol}", f"chart:{q.rules.symbol}") for q in quotes[:3]]]
    await reply(update, "\n\n".join(render_quote(q) for q in quotes), buttons)


async def chart(update: Update, context: BotContext) -> None:
    """/chart SYMBOL [15m|1h|4h|1d]: the last 100 candles with volume, as a picture."""
    args = context.args or []
    if not 1 <= len(args) <= 2:
        raise CommandError("Type it like /chart BTCUSDT or /chart ETH 4h (15m, 1h, 4h, 1d)")
    name = normalize_symbol(args[0], "/chart BTCUSDT 1h")
    await _send_chart(update, context, name, args[1] if len(args) == 2 else "1h")


async def chart_button(update: Update, context: BotContext) -> None:
    """The "Chart" button under /price."""
    query = press_of(update)
    (symbol,) = button_fields(context.match)
    await query.answer()
    await _send_chart(update, context, symbol, "1h")


def chart_button_handler() -> CallbackQueryHandler:
    return CallbackQueryHandler(chart_button, pattern=CHART_BUTTON)


async def _send_chart(update: Update, context: BotContext, name: str, interval: str) -> None:
    async with typing(update, ChatAction.UPLOAD_PHOTO, after=0):
        picture = await context.services.charts.chart(name, interval)
    sign = "+" if picture.change_pct > 0 else ""
    await chat_of(update).send_photo(
        picture.png,
        caption=f"{picture.symbol} {picture.interval} · last {num(picture.last_price)} · "
        f"{sign}{num(picture.change_pct, 2)}% 24h",
    )


async def trades(update: Update, context: BotContext) -> None:
    """/trades BTCUSDT: the last ten market trades."""
    name = parse_one_symbol(context.args or [], "/trades")
    async with typing(update):
        rules, recent = await context.services.market.recent_trades(name)
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
