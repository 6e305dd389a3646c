"""The words around /help's command list, and the hint for anything the bot does not understand."""

from __future__ import annotations

from telegram import Update

from handlers.common import reply
from handlers.context import BotContext

# /help opens with this, lists the commands (handlers/commands.py), and ends with HELP_OUTRO
HELP_INTRO = (
    "<b>Binance from your phone</b>\nI show the market and your Binance account, and I only ever "
    "place an order after you press Confirm."
)

HELP_OUTRO = """<b>Getting a key</b>
Try the Spot testnet first: log in at testnet.binance.vision and create a key there \
(the bot's operator must run me with BINANCE_NETWORK=testnet). \
On Binance: Account → API Management.

<b>Safety rules</b>
• Allow reading and spot trading only. <b>Never enable withdrawals</b>: I refuse such keys.
• Restrict the key to the bot server's IP address.
• Your key is stored encrypted, and every message that carried it is deleted at once."""


async def unknown(update: Update, context: BotContext) -> None:
    """Anything else: a short hint."""
    await reply(update, "I did not understand that. /help lists what I can do, with examples.")
