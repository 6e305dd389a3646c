"""/start, /help, and the hint for anything the bot does not understand."""

from __future__ import annotations

from telegram import Update

from handlers.common import reply
from handlers.context import BotContext

# (command, one-line description for the phone's command menu)
COMMANDS: list[tuple[str, str]] = [
    ("price", "Last price and 24h change: /price BTC ETH"),
    ("balance", "Your balances valued in USDT"),
    ("buy", "Buy, after a preview: /buy BTC 0.001 [@ 60000]"),
    ("sell", "Sell, after a preview: /sell BTC 0.001 [@ 70000]"),
    ("cancel", "Cancel an order: /cancel ORDER_ID or /cancel BTC all"),
    ("orders", "Your open orders: /orders [SYMBOL]"),
    ("alert", "Price alert: /alert BTC > 70000 or /alert ETH -5%"),
    ("alerts", "Your price alerts"),
    ("unalert", "Remove alerts: /unalert ID or /unalert all"),
    ("trades", "Recent market trades: /trades BTCUSDT"),
    ("chart", "Candlestick chart: /chart BTC [15m|1h|4h|1d]"),
    ("history", "Your own last fills: /history BTCUSDT"),
    ("setkey", "Register your Binance API key (private chat)"),
    ("keyinfo", "What your registered key can do"),
    ("delkey", "Delete your registered key"),
    ("help", "Every command with an example"),
]

HELP = """<b>Binance from your phone</b>
I show the market and your Binance account, and I only ever place an order after you press Confirm.

<b>Market</b> (no key needed)
/price BTCUSDT ETH — last price, 24h change, high, low, volume (up to 10 symbols; BTC means BTCUSDT)
/trades BTCUSDT — the last 10 market trades
/chart BTCUSDT 4h — candles with volume as a picture (15m, 1h, 4h, 1d; default 1h)

<b>Trading</b> (needs your API key; nothing is sent before you press Confirm)
/buy BTCUSDT 0.001 — market order; /buy BTC 0.001 @ 60000 — limit order (GTC)
/buy BTCUSDT 100 USDT or /buy BTC $100 — spend an amount; /sell works the same
/cancel 123456 — cancel one order; /cancel BTCUSDT all — cancel all on a symbol

<b>Price alerts</b> (no key needed)
/alert BTCUSDT &gt; 70000 take profit — tells you once when the price gets there
/alert ETH &lt; 2500 — or falls there; /alert BTC +5% or -5% — a move from now
add <i>repeat</i> at the end to re-arm it (15 min cooldown); /alerts lists; /unalert 12 or all

<b>Your account</b> (needs your API key)
/balance — your assets, free and locked, valued in USDT
/orders or /orders BTCUSDT — your open orders
/history BTCUSDT — your own last 10 fills

<b>Your API key</b>
/setkey API_KEY SECRET — register an HMAC key (in this private chat only)
/setkey — step by step, also for Ed25519 and RSA keys (PEM text or .pem file)
/keyinfo — key type, permissions, when it was added
/delkey — delete it

<b>Getting a key</b>
Try the Spot testnet first: log in at testnet.binance.vision and create a key there \
(the bot's operator must run me with BINANCE_NETWORK=testnet). \
On Binance: Account → API Management.

<b>Safety rules</b>
• Allow reading and spot trading only. <b>Never enable withdrawals</b>: I refuse such keys.
• Restrict the key to the bot server's IP address.
• Your key is stored encrypted, and every message that carried it is deleted at once."""


async def start(update: Update, context: BotContext) -> None:
    """/start: the welcome, which is the help."""
    await reply(update, HELP)


async def help_command(update: Update, context: BotContext) -> None:
    """/help: what the bot does and every command with an example."""
    await reply(update, HELP)


async def unknown(update: Update, context: BotContext) -> None:
    """Anything else: a short hint."""
    await reply(update, "I did not understand that. /help lists what I can do, with examples.")
