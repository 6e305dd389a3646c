"""The running bot's own state, one typed object instead of string keys of `bot_data`.

`Runtime` is python-telegram-bot's `bot_data` for this bot: `ContextTypes(bot_data=Runtime)`
makes the Application create one, so handlers reach it typed through `BotContext`
(handlers/context.py) and `chatbot/app.py`, the sandbox console and the tests through
`runtime(app)`. PTB creates it empty, before anything is built, so it fills in two steps:
`build_application` configures it (settings, the send pacer), `open_resources` hands it what it
opened (`opened`). Reading a part before its step raises `NotReady` with what is missing,
instead of a `KeyError` on a string.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram.ext import Application

from chatbot.config import Settings
from chatbot.health import HealthBoard
from chatbot.metrics import Metrics
from chatbot.services.alert_feed import AlertFeed
from chatbot.services.bundle import Services
from chatbot.services.fill_feed import FillFeed
from chatbot.services.leases import LeaseKeeper
from chatbot.telegram_pacing import PrioritySendPacer

T = TypeVar("T")


class NotReady(RuntimeError):
    """A part of the runtime was read before the step that builds it."""


@dataclass(frozen=True)
class Opened:
    """What `open_resources` built on the database and the exchange client."""

    services: Services
    metrics: Metrics
    health: HealthBoard  # background failures, shown by /healthz
    fill_feed: FillFeed  # fills and balances from the user-data stream
    alert_feed: AlertFeed  # live prices from the market stream, and the alert outbox
    leases: LeaseKeeper  # which shards of once-only work this replica does


class Runtime:
    """The bot's state: its settings and send pacer, what it opened, and the conflict flag."""

    def __init__(self) -> None:
        # Set when, just after start, Telegram says another process polls this token (409);
        # `serve` then exits (see `running_bot`).
        self.conflict = asyncio.Event()
        self._configured: tuple[Settings, PrioritySendPacer] | None = None
        self._opened: Opened | None = None

    def configure(self, settings: Settings, pacer: PrioritySendPacer) -> None:
        self._configured = (settings, pacer)

    def open(self, opened: Opened) -> None:
        self._opened = opened

    @property
    def settings(self) -> Settings:
        return _ready(self._configured, "the settings (build_application)")[0]

    @property
    def pacer(self) -> PrioritySendPacer:
        """The pace of every send to Telegram (PTB's rate limiter)."""
        return _ready(self._configured, "the send pacer (build_application)")[1]

    @property
    def opened(self) -> Opened:
        return _ready(self._opened, "the services (open_resources)")

    @property
    def services(self) -> Services:
        return self.opened.services

    @property
    def metrics(self) -> Metrics | None:
        """None while the bot is still starting (the metrics are built with the services)."""
        return None if self._opened is None else self._opened.metrics

    @property
    def health(self) -> HealthBoard:
        return self.opened.health

    @property
    def fill_feed(self) -> FillFeed:
        return self.opened.fill_feed

    @property
    def alert_feed(self) -> AlertFeed:
        return self.opened.alert_feed

    @property
    def leases(self) -> LeaseKeeper:
        return self.opened.leases


def runtime(app: Application[Any, Any, Any, Any, Any, Any]) -> Runtime:
    """The state of an Application built by `chatbot/app.py` (its typed `bot_data`)."""
    state = app.bot_data
    if not isinstance(state, Runtime):
        raise TypeError("this Application was not built by chatbot.app.build_application")
    return state


def _ready(part: T | None, what: str) -> T:
    if part is None:
        raise NotReady(f"{what} not built yet")
    return part
