"""The bot's commands, written once: each one's name, handler, menu line, /help lines and
section. The list feeds handler registration, Telegram's command menu (`setMyCommands`),
/start and /help, and the names the metrics count by.

The list's order is the phone menu's (most used first); /help groups the same commands by
section, in list order within a section.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from telegram import BotCommand, Update
from telegram.ext import Application, CommandHandler

from handlers import (
    account,
    alerts,
    digest,
    exits,
    futures,
    keys,
    market,
    orders,
    pnl,
    risk,
    settings,
)
from handlers.common import esc, reply
from handlers.context import BotContext
from handlers.exit_texts import EXIT_HELP
from handlers.welcome import HELP_INTRO, HELP_OUTRO

Callback = Callable[[Update, BotContext], Awaitable[object]]


class Section(Enum):
    """A /help heading, in the order /help shows them."""

    MARKET = "<b>Market</b> (no key needed)"
    TRADING = "<b>Trading</b> (needs your API key; nothing is sent before you press Confirm)"
    ALERTS = "<b>Alerts</b> (no key needed)"
    ACCOUNT = "<b>Your account</b> (needs your API key)"
    NOTIFY = "<b>Notifications</b> (what the bot sends on its own)"
    KEY = "<b>Your API key</b>"


@dataclass(frozen=True)
class Command:
    name: str
    callback: Callback | None  # None: registered by its own module (/setkey: handlers/keys.py)
    menu: str | None  # the command menu's line; None keeps it out of the menu
    section: Section | None = None  # its /help section; None: not listed there
    examples: tuple[str, ...] = ()  # its /help lines (HTML); a line may cover its neighbours


async def start(update: Update, context: BotContext) -> None:
    """/start: the welcome, which is the help."""
    await reply(update, HELP)


async def help_command(update: Update, context: BotContext) -> None:
    """/help: what the bot does and every command with an example."""
    await reply(update, HELP)


COMMANDS: tuple[Command, ...] = (
    Command("price", market.price, "Last price and 24h change: /price BTC ETH", Section.MARKET, (
        "/price BTCUSDT ETH — last price, 24h change, high, low, volume (up to 10 symbols; "
        "BTC means BTCUSDT)",)),
    Command("balance", account.balance, "Your balances valued in USDT", Section.ACCOUNT, (
        "/balance — your assets, free and locked, valued in USDT",)),
    Command("buy", exits.buy, "Buy, after a preview: /buy BTC 0.001 [@ 60000]", Section.TRADING, (
        "/buy BTCUSDT 0.001 — market order; /buy BTC 0.001 @ 60000 — limit order (GTC)",
        "/buy BTCUSDT 100 USDT or /buy BTC $100 — spend an amount; /sell works the same",
        esc(EXIT_HELP["buy"]))),
    Command("sell", orders.sell, "Sell, after a preview: /sell BTC 0.001 [@ 70000]",
            Section.TRADING),
    Command("cancel", orders.cancel, "Cancel an order: /cancel ORDER_ID or /cancel BTC all",
            Section.TRADING, (
        "/cancel 123456 — cancel one order (a leg of an OCO/OTOCO: its whole list, after "
        "Confirm); /cancel list 12 — cancel order list #12 (OCO/OTOCO) after Confirm; "
        "/cancel BTCUSDT all — cancel all on a symbol",)),
    Command("protect", exits.protect, "Stop-loss and take-profit: /protect ETH sl 2500 tp 3600",
            Section.TRADING, (esc(EXIT_HELP["protect"]),)),
    Command("sl", exits.stop_loss, "Stop-loss on coins held: /sl BTC 64000", Section.TRADING,
            (esc(EXIT_HELP["sl"]),)),
    Command("tp", exits.take_profit, "Take-profit on coins held: /tp BTC 70000", Section.TRADING,
            (esc(EXIT_HELP["tp"]),)),
    Command("orders", account.orders, "Your open orders: /orders [SYMBOL]", Section.ACCOUNT, (
        "/orders or /orders BTCUSDT — your open orders",)),
    Command("alert", alerts.alert, "Alert: /alert BTC > 70000, +3% 15m, rsi 1h < 30",
            Section.ALERTS, (
        "/alert BTCUSDT &gt; 70000 take profit — once the price gets there (&lt; to fall there); "
        "/alert BTC +5% — a move from now",
        "/alert BTC +3% 15m or -5% 1h — a move within a window (1m to 7d), on every trade",
        "/alert BTC rsi 1h &lt; 30 · ema 20 x 50 4h · macd 1h x signal · bb 1h &gt; upper — "
        "at a candle's close, when it crosses (x+ up, x- down)",
        "/alert BTC volume 5m &gt; 3x — a candle's volume at 3× its 20-candle average",
        "/alert BTC.P &gt; 70000 or +5% — a perpetual's mark price; "
        "/alert BTC.P funding &gt; 0.05% (or &lt; -0.01%) — its funding rate",
        "then <i>until 2026-12-31</i> or <i>for 7d</i> to expire, a note, <i>repeat</i> to "
        "re-arm (15 min cooldown); /alerts lists; /unalert 12 or all")),
    Command("alerts", alerts.alerts, "Your alerts", Section.ALERTS),
    Command("unalert", alerts.unalert, "Remove alerts: /unalert ID or /unalert all",
            Section.ALERTS),
    Command("trades", market.trades, "Recent market trades: /trades BTCUSDT", Section.MARKET, (
        "/trades BTCUSDT — the last 10 market trades",)),
    Command("chart", market.chart, "Candlestick chart: /chart BTC [15m|1h|4h|1d]",
            Section.MARKET, (
        "/chart BTCUSDT 4h — candles with volume as a picture (15m, 1h, 4h, 1d; default 1h)",)),
    Command("fprice", market.fprice, "Perpetual futures prices: /fprice BTC ETH",
            Section.MARKET, (  # one line for all futures commands: /help stays one message
        "Perpetual futures: add .P — /price BTC.P, /trades BTC.P, /chart BTC.P; /fprice ETH, "
        "/funding [BTC] (rates now, last 5)",)),
    Command("funding", futures.funding, "Funding rates: /funding [BTC ...]", Section.MARKET),
    Command("pnl", pnl.pnl, "Profit and loss: /pnl [today|7d|30d|ytd|all] [ASSET]",
            Section.ACCOUNT, (
        "/pnl or /pnl 30d BTC — realized and unrealized profit in USDT, fees, win rate "
        "(today, 7d, 30d, ytd, all; default all)",
        "/pnl chart — the profit curve as a picture; /pnl csv — your fills with cost basis, "
        "for taxes")),
    Command("risk", risk.risk, "What protects each holding, the loss if stops hit",
            Section.ACCOUNT, (
        "/risk — each holding's stop-loss, OCO or trailing stop, the loss if every stop "
        "hits, and a Protect button for what has none",)),
    Command("history", account.history, "Your own last fills: /history BTCUSDT",
            Section.ACCOUNT, ("/history BTCUSDT — your own last 10 fills",)),
    Command("setkey", None, "Register your Binance API key (private chat)", Section.KEY, (
        "/setkey API_KEY SECRET — register an HMAC key (in this private chat only)",
        "/setkey — step by step, also for Ed25519 and RSA keys (PEM text or .pem file)")),
    Command("keyinfo", keys.keyinfo, "What your registered key can do", Section.KEY, (
        "/keyinfo — key type, permissions, when it was added",)),
    Command("delkey", keys.delkey, "Delete your registered key", Section.KEY, (
        "/delkey — delete it",)),
    Command("settings", settings.settings, "Notifications: on, silent or off; quiet hours",
            Section.NOTIFY, (
        "/settings — per kind of message (alerts, fills, order updates, digests, system "
        "notices): on, silent (no sound) or off, with buttons; your time zone and quiet hours",
        "/settings tz Europe/Berlin — your time zone; /settings quiet 23:00-07:00 or off — "
        "quiet hours, when only stop-loss fills and a failed key ring",)),
    Command("digest", digest.digest, "A daily or weekly summary: /digest daily 08:00",
            Section.NOTIFY, (
        "/digest daily 08:00 or /digest weekly mon 08:00 — balance and its change, open "
        "orders, alerts fired, holdings without protection, at your local time; /digest off",)),
    Command("help", help_command, "Every command with an example"),
    Command("start", start, None),
)  # fmt: skip


def render_help() -> str:
    """The /help text: the intro, each section's commands' lines, then the key guide."""
    blocks = [HELP_INTRO]
    for section in Section:
        lines = [line for c in COMMANDS if c.section is section for line in c.examples]
        blocks.append("\n".join([section.value, *lines]))
    blocks.append(HELP_OUTRO)
    return "\n\n".join(blocks)


HELP = render_help()


def menu() -> list[BotCommand]:
    """Telegram's command menu (`setMyCommands`)."""
    return [BotCommand(c.name, c.menu) for c in COMMANDS if c.menu is not None]


def metric_names() -> frozenset[str]:
    """What the metrics count an update as, besides "other": each command, and plain text."""
    return frozenset({f"/{c.name}" for c in COMMANDS} | {"text"})


def register(app: Application) -> None:
    """One `CommandHandler` per command (a conversation registers its own entry point)."""
    for command in COMMANDS:
        if command.callback is not None:
            app.add_handler(CommandHandler(command.name, command.callback))
