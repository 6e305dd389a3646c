"""USDⓈ-M perpetuals in the chat, read-only: /funding, and the perpetual side of /price,
/fprice, /trades and /chart (a name with `.P`, see `parse_market_names`). No key needed.

Names are checked by their shape here and against the listed contracts by the futures market
service before any request names them, so a typo costs no request weight.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Update

from chatbot.services.futures_market import FuturesQuote, contract_of, futures_key
from chatbot.services.market import Quote
from handlers.common import reply, typing
from handlers.context import BotContext
from handlers.futures_texts import render_extremes, render_funding, render_futures_trades
from handlers.parsing import (
    MAX_SYMBOLS,
    CommandError,
    names_perpetual,
    normalize_futures_symbol,
    normalize_symbol,
    parse_symbols,
)


def parse_market_names(args: list[str], command: str) -> list[str]:
    """One to ten names of either market, in the order typed, without duplicates: a spot
    symbol (`BTC`, `ETHUSDT`) as `normalize_symbol` reads it, a perpetual (`BTCUSDT.P`,
    `eth.p`, `SOL-PERP`) as its key (`SOLUSDT.P`). Without any perpetual this is exactly
    `parse_symbols`, so spot commands read what they always read."""
    if not any(names_perpetual(arg) for arg in args) or len(args) > MAX_SYMBOLS:
        return parse_symbols(args, command)
    return list(dict.fromkeys(market_name(arg, command) for arg in args))


def market_name(text: str, command: str) -> str:
    """A spot symbol, or a perpetual's key when `text` carries the `.P` suffix."""
    if names_perpetual(text):
        example = f"{command} BTCUSDT.P"
        return futures_key(normalize_futures_symbol(text, example, suffix_required=True))
    return normalize_symbol(text, f"{command} BTCUSDT")


def parse_contracts(args: list[str], command: str) -> list[str]:
    """Up to ten perpetuals for a futures-only command (the suffix optional), as Binance's
    futures symbols (`BTCUSDT`), in order, without duplicates."""
    if len(args) > MAX_SYMBOLS:
        raise CommandError(
            f"At most {MAX_SYMBOLS} contracts at a time; you sent {len(args)}. "
            f"For example: {command} BTC ETH SOL"
        )
    names = (normalize_futures_symbol(arg, f"{command} BTC") for arg in args)
    return list(dict.fromkeys(names))


async def market_quotes(context: BotContext, names: list[str]) -> list[Quote | FuturesQuote]:
    """Spot quotes and perpetuals' quotes for `names` (see `parse_market_names`), in the
    order of `names`; both markets are read at once, once every name is known."""
    spot = [name for name in names if contract_of(name) is None]
    contracts = [c for name in names if (c := contract_of(name)) is not None]
    if spot and contracts:  # each service checks its own names before reading; here every
        # name is checked against the cached lists first (no weight), so a typo on one market
        # costs no request on the other either
        await context.services.market.resolve_many(spot)
        for contract in contracts:
            await context.services.futures.resolve(contract)
    spot_quotes, futures_quotes = await asyncio.gather(
        context.services.market.quotes(spot) if spot else _nothing(),
        context.services.futures.quotes(contracts) if contracts else _nothing(),
    )
    spot_left, futures_left = iter(spot_quotes), iter(futures_quotes)
    ordered = (next(spot_left if contract_of(n) is None else futures_left, None) for n in names)
    return [quote for quote in ordered if quote is not None]


async def _nothing() -> list[Any]:
    return []


async def funding(update: Update, context: BotContext) -> None:
    """/funding [BTC ...]: each contract's funding now and its last settlements; without
    names, the highest and lowest funding rates now."""
    names = parse_contracts(context.args or [], "/funding")
    futures = context.services.futures
    async with typing(update):
        if not names:
            text = render_extremes(*await futures.extremes())
        else:
            text = "\n\n".join(render_funding(view) for view in await futures.funding(names))
    await reply(update, text)


async def futures_trades(update: Update, context: BotContext, name: str) -> None:
    """/trades BTCUSDT.P: the contract's last ten trades (`name` is the futures symbol)."""
    async with typing(update):
        contract, recent = await context.services.futures.recent_trades(name)
    await reply(update, render_futures_trades(contract, recent))
