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
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.error import Conflict, TelegramError
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, TypeHandler, filters
from telegram.request import HTTPXRequest

from chatbot.config import Settings
from chatbot.errors import present
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.market_stream.settings import MarketStreamSettings
from chatbot.exchange.market_stream.stream import MarketStream
from chatbot.exchange.user_stream.settings import UserStreamSettings
from chatbot.exchange.user_stream.stream import UserDataStream
from chatbot.exchange.weight_governor import background
from chatbot.exchange.ws.attempts import ConnectionAttempts
from chatbot.gauges import bot_gauges
from chatbot.health import HealthBoard
from chatbot.health_monitor import HealthMonitor
from chatbot.runtime import Opened, runtime
from chatbot.services.access import AccessPolicy
from chatbot.services.account import AccountService
from chatbot.services.account_mirror import AccountMirror
from chatbot.services.alert_backtests import AlertBacktests
from chatbot.services.alert_feed import AlertFeed
from chatbot.services.alerts import AlertService
from chatbot.services.bundle import Services
from chatbot.services.charts import ChartService
from chatbot.services.digest import DigestScheduler, DigestService
from chatbot.services.fill_feed import FillFeed
from chatbot.services.keys import KeyService
from chatbot.services.leases import LeaseKeeper, LeaseSettings, default_replica_id
from chatbot.services.list_watch import ListWatch
from chatbot.services.market import MarketService
from chatbot.services.notices import ChangeNotices
from chatbot.services.open_orders import OpenOrderMirror
from chatbot.services.order_tracker import OrderTracker
from chatbot.services.order_watch import OrderWatch
from chatbot.services.orders import OrderService
from chatbot.services.pnl_report import PnlService
from chatbot.services.preferences import PreferenceService
from chatbot.services.risk import RiskService
from chatbot.services.trade_history import TradeHistory
from chatbot.services.usdt_rates import UsdtRates
from chatbot.storage.alerts import AlertRepository
from chatbot.storage.conversations import SetkeyConversations
from chatbot.storage.database import Database, open_database
from chatbot.storage.leases import LeaseRepository
from chatbot.storage.order_lists import OrderListRepository
from chatbot.storage.outbox import OutboxRepository
from chatbot.storage.preferences import PreferenceRepository
from chatbot.storage.rate_limits import RateLimitRepository
from chatbot.storage.tickets import TicketRepository
from chatbot.storage.tracked_orders import TrackedOrderRepository
from chatbot.storage.trade_history import TradeHistoryRepository
from chatbot.storage.vault import CredentialVault
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


@dataclass
class Resources:
    """What the bot opens at start and must close at stop."""

    db: Database
    client: BinanceClient
    live: FillFeed
    alerts: AlertFeed
    watch: OrderWatch
    leases: LeaseKeeper  # which shards of once-only work this replica does
    digests: DigestScheduler
    health: HealthBoard = field(default_factory=HealthBoard)
    monitor: HealthMonitor | None = None  # with the HTTP server only: it feeds /healthz
    web: web.AppRunner | None = None


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


async def open_resources(app: Application, clock: Callable[[], float] = time.time) -> Resources:
    """Open the database and the exchange client, build the services on them, and the live
    parts (order and market streams) that `running_bot` starts once the bot is up. `clock`
    times the order tickets and the /setkey steps (their expiry included), quiet hours and
    the digests."""
    state = runtime(app)
    settings = state.settings
    api_url = present(settings.binance_api_url, "BINANCE_API_URL")
    stream_url = present(settings.binance_stream_url, "BINANCE_STREAM_URL")
    ws_api_url = present(settings.binance_ws_api_url, "BINANCE_WS_API_URL")
    db = await open_database(settings.database_url)
    health = HealthBoard()
    client = BinanceClient(api_url, weight_share=settings.weight_share / 100)
    vault = CredentialVault(db, settings.master_key_bytes, settings.old_master_key_bytes)
    await vault.upgrade()  # rows sealed before the associated data covered type and permissions
    market_service = MarketService(client)
    replica = settings.replica_id or default_replica_id()
    lease_settings = LeaseSettings(replica, settings.lease_shards, settings.takeover_seconds)
    leases = LeaseKeeper(LeaseRepository(db), lease_settings, health=health)
    leases.on_live_count(state.pacer.share_among)  # Telegram's 30 a second is the bot's
    notices = ChangeNotices(db, replica)  # what other replicas changed: keys and alerts
    key_service = KeyService(client, vault, notices)
    await notices.on_keys(key_service.changed_elsewhere)
    tickets = TicketRepository(db, clock=clock)
    alert_repo = AlertRepository(db, outbox=OutboxRepository(db, claim_for=settings.outbox_claim))
    preference_repo = PreferenceRepository(db)
    preferences = PreferenceService(preference_repo, clock=clock)
    notifier = ChatNotifier(app.bot, preferences)
    mirror = AccountMirror()  # balances kept by the user-data stream
    tracked = TrackedOrderRepository(db)
    lists = ListWatch(client, key_service, OrderListRepository(db), notifier)
    tracker = OrderTracker(
        client, key_service, tickets, tracked, notifier, balances=mirror, lists=lists, clock=clock
    )
    open_orders = OpenOrderMirror(client, tracker, tracked)  # open orders kept by the stream
    watch = OrderWatch(
        client,
        key_service,
        tickets,
        tracker,
        notifier,
        watch_seconds=settings.order_watch,
        clock=clock,
    )
    pnl_repo = TradeHistoryRepository(db)
    trade_history = TradeHistory(client, key_service, pnl_repo)
    account = AccountService(client, key_service, market_service, mirror, open_orders)
    services = Services(
        access=AccessPolicy(
            settings.allowed_users,
            RateLimitRepository(db),
            limit=settings.command_limit,
            button_limit=settings.button_limit,
        ),
        market=market_service,
        keys=key_service,
        account=account,
        orders=OrderService(
            client,
            key_service,
            market_service,
            tickets,
            confirm_ttl=settings.confirm_ttl,
            max_slippage_pct=settings.max_slippage_pct,
            max_order_usdt=settings.max_order_usdt,
            tracker=tracker,
            watch=watch,
            balances=mirror,
            open_orders=open_orders,
            health=health,
            clock=clock,
            stop_limit_distance_pct=settings.stop_limit_distance_pct,
        ),
        alerts=AlertService(
            alert_repo,
            market_service,
            health=health,
            clock=clock,
            zone_of=preferences.zone,
            retention_days=settings.alert_retention_days,
            per_user_limit=settings.alert_limit,
            cooldown=settings.alert_cooldown,
            delay_notice_after=settings.price_delay_notice,
            notices=notices,
        ),
        backtests=AlertBacktests(market_service, clock=clock, wait=settings.backtest_wait),
        charts=ChartService(client, market_service),
        pnl=PnlService(client, key_service, trade_history, UsdtRates(client, pnl_repo)),
        risk=RiskService(
            account,
            client,
            key_service,
            market_service,
            default_stop_pct=settings.risk_default_stop_pct,
        ),
        setkey=SetkeyConversations(db, vault, clock=clock),
        preferences=preferences,
    )
    # one count of WebSocket connection attempts for both streams (Binance's per-IP limit)
    attempts = ConnectionAttempts(settings.ws_connect_limit, settings.ws_connect_window)
    user_stream = UserStreamSettings(url=ws_api_url, subscription_ids=settings.ws_subscription_ids)
    open_user_stream = functools.partial(
        UserDataStream,
        user_stream,
        timestamp=client.timestamp,
        governor=client.governor,
        attempts=attempts,
    )
    live = FillFeed(
        open_user_stream,
        key_service,
        tracker,
        notifier,
        mirror,
        open_orders,
        leases=leases,
        notices=notices,
        on_transfer=trade_history.record_live,
    )
    market_stream = MarketStreamSettings(url=stream_url)
    open_market_stream = functools.partial(MarketStream, market_stream, attempts=attempts)
    alerts_live = AlertFeed(
        open_market_stream,
        services.alerts,
        alert_repo,
        key_service,
        notifier,
        health,
        leases=leases,
        notices=notices,
        expiry_every=settings.alert_expiry_check,
    )
    digests = DigestScheduler(
        preference_repo,
        DigestService(account, services.risk, key_service, alert_repo),
        notifier,
        clock=clock,
        poll=settings.digest_poll_seconds,
        health=health,
    )
    metrics = bot_gauges(client, services, alerts_live, attempts, state.pacer, leases)
    state.open(Opened(services, metrics, health, live, alerts_live, leases))
    with suppress(BinanceError):  # Binance unreachable at start is not fatal; calls retry
        await client.sync_time()
        await client.exchange_info()  # the weight limits, before any start-up work spends
    return Resources(db, client, live, alerts_live, watch, leases, digests, health)


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


async def close_resources(resources: Resources) -> None:
    if resources.monitor is not None:
        await resources.monitor.stop()
    await resources.leases.stop()  # first: the work stops, then another replica takes it
    await resources.watch.stop()
    await resources.digests.stop()
    await resources.live.stop()
    await resources.alerts.stop()
    await resources.client.close()
    await resources.db.close()


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
        resources = await open_resources(app, clock)
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
