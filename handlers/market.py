"""/price, /fprice, /trades and /chart: public market data, no key needed. A name with the
`.P` suffix (`BTCUSDT.P`) is a perpetual, served by handlers/futures.py's helpers."""

from __future__ import annotations

from decimal import Decimal

from telegram import Update
from telegram.constants import ChatAction
from telegram.ext import CallbackQueryHandler

from chatbot.exchange.grid import price_places, quantity_places
from chatbot.exchange.market_models import MarketTrade
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.services.futures_market import FuturesQuote, futures_key
from chatbot.services.market import Quote
from handlers.common import chat_of, esc, num, press_of, reply, typing
from handlers.context import BotContext
from handlers.futures import (
    futures_trades,
    market_name,
    market_quotes,
    parse_contracts,
    parse_market_names,
)
from handlers.futures_texts import render_futures_quote, render_trade_lines
from handlers.parsing import (
    CHART_BUTTON,
    CommandError,
    button_fields,
    names_perpetual,
    normalize_futures_symbol,
    parse_one_symbol,
)


async def price(update: Update, context: BotContext) -> None:
    """/price BTCUSDT [ETHUSDT.P ...]: last price and 24 h statistics of up to ten symbols
    and perpetuals, in the order typed."""
    await send_quotes(update, context, parse_market_names(context.args or [], "/price"))


async def fprice(update: Update, context: BotContext) -> None:
    """/fprice BTC [ETH ...]: /price for perpetuals, without needing the `.P` suffix."""
    args = context.args or []
    if not args:
        raise CommandError("Which contract? Type for example: /fprice BTC ETH (or /price BTC.P)")
    await send_quotes(update, context, [futures_key(n) for n in parse_contracts(args, "/fprice")])


async def send_quotes(update: Update, context: BotContext, names: list[str]) -> None:
    """The quotes of `names` (spot symbols and perpetuals' keys), a Chart button under the
    first three."""
    async with typing(update):
        quotes = await market_quotes(context, names)
    titles = [q.key if isinstance(q, FuturesQuote) else q.rules.symbol for q in quotes[:3]]
    buttons = [[(f"📈 Chart {title}", f"chart:{title}") for title in titles]]
    await reply(update, "\n\n".join(_render_any(q) for q in quotes), buttons)


def _render_any(quote: Quote | FuturesQuote) -> str:
    return render_futures_quote(quote) if isinstance(quote, FuturesQuote) else render_quote(quote)


async def chart(update: Update, context: BotContext) -> None:
    """/chart SYMBOL [15m|1h|4h|1d]: the last 100 candles with volume, as a picture."""
    args = context.args or []
    if not 1 <= len(args) <= 2:
        raise CommandError("Type it like /chart BTCUSDT or /chart ETH 4h (15m, 1h, 4h, 1d)")
    name = market_name(args[0], "/chart")
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
    """/trades BTCUSDT (or BTCUSDT.P): the last ten market trades."""
    args = context.args or []
    if len(args) == 1 and names_perpetual(args[0]):
        example = "/trades BTCUSDT.P"
        name = normalize_futures_symbol(args[0], example, suffix_required=True)
        return await futures_trades(update, context, name)
    name = parse_one_symbol(args, "/trades")
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
    return render_trade_lines(rules.symbol, recent, price_places(rules), quantity_places(rules))
