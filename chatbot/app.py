"""Wiring: the one place that knows every layer. Builds the python-telegram-bot Application,
opens the database and the exchange client, builds the services, registers the handlers, and
runs it all until told to stop (`running_bot`; `chatbot run`'s process around it, signals
and the second instance's exit, is serve.py).

The lifecycle is managed here rather than by `run_polling`, so that the same code serves
long polling, webhook mode, the tests and the sandbox, and so that background work (streams,
senders) starts and stops with the bot.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import Conflict, TelegramError
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, TypeHandler, filters
from telegram.request import HTTPXRequest

from chatbot.config import Settings
from chatbot.errors import present
from chatbot.exchange.weight_governor import background
from chatbot.health_monitor import HealthMonitor
from chatbot.resources import close_resources, open_resources
from chatbot.runtime import runtime
from chatbot.telegram_pacing import PrioritySendPacer
from chatbot.web import start_http
from handlers import alerts, commands, common, keys, market, orders, risk, scrub, welcome
from handlers.context import CONTEXT_TYPES
from handlers.notifications import ChatNotifier
from handlers.settings import settings_button_handler

log = logging.getLogger(__name__)

TELEGRAM_SENDS_PER_SECOND = 28  # the whole bot's pace, under Telegram's 30 a second
# Updates handled at once. A handler spends most of its life waiting for its reply's turn in the
# send pacer; with PTB's default of 256, a busy bot's 256 slots were all held by replies waiting
# there and a Confirm press waited seconds for a slot before its order could go first. Each
# user's commands are rate-limited (CHATBOT_COMMAND_LIMIT), so this bounds only a burst.
UPDATES_IN_FLIGHT = 4096
CONFLICT_WINDOW = 30.0  # seconds after start in which a 409 means "we are the second instance"


def build_application(settings: Settings) -> Application:
    """The Application, pointed at `TELEGRAM_API_URL`, with every handler registered."""
    settings.require("TELEGRAM_BOT_TOKEN", "CHATBOT_MASTER_KEY")
    token = present(settings.telegram_bot_token, "TELEGRAM_BOT_TOKEN")
    root = settings.telegram_api_url
    local = urlsplit(root).hostname in {"127.0.0.1", "localhost", "::1"}
    # A proxy from the environment must not capture the loopback emulator.
    httpx_kwargs = {"trust_env": not local}
    # A bucket of one that refills 28 times a second: never more than 29 sends in any second
    # (PTB's default let a busy second carry up to 60, and the Bot API answers those with flood
    # 429s); queued sends go by priority, alerts and order results first.
    pacer = PrioritySendPacer(per_second=TELEGRAM_SENDS_PER_SECOND, max_retries=3)
    builder = (
        Application.builder()
        .token(token.get_secret_value())
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .request(HTTPXRequest(connection_pool_size=32, httpx_kwargs=httpx_kwargs))
        .get_updates_request(HTTPXRequest(httpx_kwargs=httpx_kwargs))
        .rate_limiter(pacer)
        .concurrent_updates(UPDATES_IN_FLIGHT)
        .context_types(CONTEXT_TYPES)
    )
    if settings.webhook_url:
        builder = builder.updater(None)  # updates arrive at chatbot/web.py instead
    app = builder.build()
    runtime(app).configure(settings, pacer)
    register_handlers(app)
    return app


def register_handlers(app: Application) -> None:
    app.add_handler(scrub.scrub_handler(), group=scrub.GROUP)  # before the guard
    guard = functools.partial(common.guard, command_names=commands.metric_names())
    app.add_handler(TypeHandler(Update, guard), group=-1)
    # a waiting /setkey's answers and /cancel, asked of the database before the commands
    app.add_handlers(keys.step_handlers(unknown=welcome.unknown, cancel=orders.cancel))
    app.add_handler(keys.setkey_handler())
    commands.register(app)
    app.add_handler(keys.delkey_button_handler())
    app.add_handler(orders.ticket_handler())
    app.add_handler(orders.largest_handler())
    app.add_handler(alerts.alert_button_handler())
    app.add_handler(market.chart_button_handler())
    app.add_handler(risk.protect_button_handler())
    app.add_handler(settings_button_handler())
    app.add_handler(CallbackQueryHandler(common.stale_button))
    app.add_handler(MessageHandler(filters.ALL, welcome.unknown))
    # after the reply (the guard has let the user in): a chat that writes again is not gone
    app.add_handler(TypeHandler(Update, alerts.resume_paused_chat), group=1)
    app.add_error_handler(common.on_error)


async def _reconcile(app: Application) -> None:
    """Settle orders a previous run left in flight, and tell their users; keep watching
    those Binance has no record of yet."""
    state = runtime(app)
    try:
        with background():  # start-up work: users' own calls go first
            outcomes = await state.services.orders.reconcile()
    except Exception as exc:  # reconcile already settles ticket by ticket; this is a bug
        state.health.failed("reconcile", exc)
        return
    if outcomes:
        log.info("reconciled %d tickets left from before the restart", len(outcomes))
    await orders.report_reconciled(app.bot, outcomes)


@asynccontextmanager
async def running_bot(
    settings: Settings,
    *,
    poll_timeout: int = 10,
    conflict_window: float = CONFLICT_WINDOW,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[Application]:
    """Start the bot (long polling, or the webhook when CHATBOT_WEBHOOK_URL is set); on exit
    finish in-flight updates and close everything.

    Telegram answers 409 Conflict to a poll that another process's poll displaced. Within
    `conflict_window` seconds of start this process is the newcomer: `runtime(app).conflict`
    is set so `serve` can exit. Later, it keeps polling, which displaces the newcomer instead.
    `clock` times the order tickets (tests move it on instead of waiting out an expiry)."""
    app = build_application(settings)
    conflict = runtime(app).conflict
    started = time.monotonic()

    def polling_error(error: TelegramError) -> None:
        if isinstance(error, Conflict) and time.monotonic() - started < conflict_window:
            conflict.set()
        elif isinstance(error, Conflict):
            log.warning("another process polled this bot token; it is being displaced")
        else:
            log.warning("polling failed: %s", type(error).__name__)

    await app.initialize()
    try:
        notifier_for = functools.partial(ChatNotifier, app.bot)
        resources = await open_resources(app, notifier_for, clock)
    except BaseException:  # the database refused or cannot be reached: close what opened
        await app.shutdown()
        raise
    try:
        await app.bot.set_my_commands(commands.menu())
        if settings.http_port is not None:
            resources.monitor = HealthMonitor(
                resources.db,
                resources.client,
                resources.alerts,
                resources.health,
                interval=settings.health_interval,
                leases=resources.leases,
            )
            await resources.monitor.start()
            resources.web = await start_http(
                app,
                settings.http_host,
                settings.http_port,
                resources.monitor.report,
                runtime(app).opened.metrics,
                settings.webhook_url,
            )
        if not settings.webhook_url:
            updater = present(app.updater, "the updater (long polling)")
            await app.bot.delete_webhook()
            await updater.start_polling(
                poll_interval=0,
                timeout=poll_timeout,
                allowed_updates=Update.ALL_TYPES,
                error_callback=polling_error,
            )
        await app.start()
        log.info("bot started as @%s", app.bot.username)
        await resources.leases.start()  # this replica's shards, before the feeds follow them
        app.create_task(_reconcile(app), name="reconcile-tickets")
        app.create_task(resources.live.start(), name="live-orders")
        app.create_task(resources.alerts.start(), name="live-alerts")
        resources.digests.start()
        yield app
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if resources.web is not None:
            await resources.web.cleanup()
        if app.running:
            await app.stop()
        await close_resources(resources)
        await app.shutdown()
        log.info("bot stopped")
