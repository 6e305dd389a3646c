"""The context every handler receives: typed access to what `chatbot/app.py` built.

Like python-telegram-bot's `contexttypesbot.py` example, `BotContext` is registered through
`ContextTypes(context=BotContext)`, so a handler writes `context.services.orders` and a type
checker knows what it gets, instead of reading string keys of `bot_data` itself.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from chatbot.metrics import Metrics
from chatbot.services.bundle import Services

SERVICES = "services"  # the bot_data keys app.py fills
METRICS = "metrics"

AnyDict = dict[Any, Any]


class BotContext(CallbackContext[ExtBot[None], AnyDict, AnyDict, AnyDict]):
    """`CallbackContext` with the bot's services and metrics as typed properties."""

    @property
    def services(self) -> Services:
        return self.bot_data[SERVICES]

    @property
    def metrics(self) -> Metrics | None:
        """None while the bot is still starting (the metrics are built with the services)."""
        return self.bot_data.get(METRICS)


CONTEXT_TYPES = ContextTypes(context=BotContext)


def provide(app: Application, services: Services, metrics: Metrics) -> None:
    """Hand the built services and metrics to every later handler's `BotContext`."""
    app.bot_data[SERVICES] = services
    app.bot_data[METRICS] = metrics
