"""The context every handler receives: typed access to what `chatbot/app.py` built.

Like python-telegram-bot's `contexttypesbot.py` example, `BotContext` is registered through
`ContextTypes(context=BotContext, bot_data=Runtime)`, so a handler writes
`context.services.orders` and a type checker knows what it gets, instead of reading string keys
of `bot_data` itself. `bot_data` is the bot's `Runtime` (chatbot/runtime.py).
"""

from __future__ import annotations

from typing import Any

from telegram.ext import CallbackContext, ContextTypes, ExtBot

from chatbot.metrics import Metrics
from chatbot.runtime import Runtime
from chatbot.services.bundle import Services

AnyDict = dict[Any, Any]


class BotContext(CallbackContext[ExtBot[None], AnyDict, AnyDict, Runtime]):
    """`CallbackContext` with the bot's services and metrics as typed properties."""

    @property
    def services(self) -> Services:
        return self.bot_data.services

    @property
    def metrics(self) -> Metrics | None:
        """None while the bot is still starting (the metrics are built with the services)."""
        return self.bot_data.metrics


CONTEXT_TYPES = ContextTypes(context=BotContext, bot_data=Runtime)
