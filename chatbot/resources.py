"""What the bot opens at start and closes at stop: the database, the exchange client, the
services built on them, and the live parts (order and market streams, the digest scheduler)
that `chatbot/app.py`'s `running_bot` starts once the bot is up. With app.py, the one place
that knows every layer.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web
from telegram.ext import Application

from chatbot.errors import present
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.errors import BinanceError
from chatbot.exchange.futures_client import FuturesMarketClient
from chatbot.exchange.market_stream.settings import MarketStreamSettings
from chatbot.exchange.market_stream.stream import MarketStream
from chatbot.exchange.user_stream.settings import UserStreamSettings
from chatbot.exchange.user_stream.stream import UserDataStream
from chatbot.exchange.ws.attempts import ConnectionAttempts
from chatbot.gauges import bot_gauges
from chatbot.health import HealthBoard
from chatbot.health_monitor import HealthMonitor
from chatbot.runtime import Opened, runtime
from chatbot.services.access import AccessPolicy
from chatbot.services.account import AccountService
from chatbot.services.account_mirror import AccountMirror
from chatbot.services.alert_backtests import AlertBacktests
from chatbot.services.alert_feed import AlertFeed, AlertNotifier
from chatbot.services.alerts import AlertService
from chatbot.services.bundle import Services
from chatbot.services.charts import ChartService
from chatbot.services.digest import DigestNotifier, DigestScheduler, DigestService
from chatbot.services.fill_feed import FillFeed, KeyNotifier
from chatbot.services.futures_market import FuturesMarketService
from chatbot.services.keys import KeyService
from chatbot.services.leases import LeaseKeeper, LeaseSettings, default_replica_id
from chatbot.services.list_watch import ListNotifier, ListWatch
from chatbot.services.market import MarketService
from chatbot.services.notices import ChangeNotices
from chatbot.services.open_orders import OpenOrderMirror
from chatbot.services.order_outcomes import OrderNotifier
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


@dataclass
class Resources:
    """What the bot opens at start and must close at stop."""

    db: Database
    client: BinanceClient
    futures: FuturesMarketClient  # USDⓈ-M market data: its own host and weight budget
    live: FillFeed
    alerts: AlertFeed
    watch: OrderWatch
    leases: LeaseKeeper  # which shards of once-only work this replica does
    digests: DigestScheduler
    health: HealthBoard = field(default_factory=HealthBoard)
    monitor: HealthMonitor | None = None  # with the HTTP server only: it feeds /healthz
    web: web.AppRunner | None = None


class Notifier(OrderNotifier, ListNotifier, KeyNotifier, AlertNotifier, DigestNotifier, Protocol):
    """Every way the services reach the chat (handlers/notifications.py's ChatNotifier, which
    app.py, the one module that imports the handlers, builds through `NotifierFactory`)."""


NotifierFactory = Callable[[PreferenceService], Notifier]  # a user's choices decide each send


async def open_resources(
    app: Application, notifier_for: NotifierFactory, clock: Callable[[], float] = time.time
) -> Resources:
    """Open the database and the exchange client, build the services on them, and the live
    parts (order and market streams) that `running_bot` starts once the bot is up. `clock`
    times the order tickets and the /setkey steps (their expiry included), quiet hours and
    the digests."""
    state = runtime(app)
    settings = state.settings
    api_url = present(settings.binance_api_url, "BINANCE_API_URL")
    stream_url = present(settings.binance_stream_url, "BINANCE_STREAM_URL")
    ws_api_url = present(settings.binance_ws_api_url, "BINANCE_WS_API_URL")
    futures_url = present(settings.binance_futures_api_url, "BINANCE_FUTURES_API_URL")
    futures_stream_url = present(settings.binance_futures_stream_url, "BINANCE_FUTURES_STREAM_URL")
    db = await open_database(settings.database_url)
    health = HealthBoard()
    client = BinanceClient(api_url, weight_share=settings.weight_share / 100)
    futures_client = FuturesMarketClient(futures_url, weight_share=settings.weight_share / 100)
    vault = CredentialVault(db, settings.master_key_bytes, settings.old_master_key_bytes)
    await vault.upgrade()  # rows sealed before the associated data covered type and permissions
    market_service = MarketService(client)
    futures_service = FuturesMarketService(futures_client)
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
    notifier = notifier_for(preferences)
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
        futures=futures_service,
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
            futures=futures_service,
        ),
        backtests=AlertBacktests(
            market_service, clock=clock, wait=settings.backtest_wait, futures=futures_service
        ),
        charts=ChartService(client, market_service, futures_service),
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
    # one count of WebSocket connection attempts for every stream (Binance's per-IP limit; the
    # futures host may well count apart, but sharing the count can only make us more careful)
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
    open_futures_stream = functools.partial(
        MarketStream, futures_stream_settings(futures_stream_url), attempts=attempts
    )
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
        open_futures_stream=open_futures_stream,
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
    with suppress(BinanceError):
        await futures_client.exchange_info()  # the futures weight limits, apart from spot's
    return Resources(db, client, futures_client, live, alerts_live, watch, leases, digests, health)


def futures_stream_settings(url: str) -> MarketStreamSettings:
    """The futures mark price stream: every followed perpetual's mark price and funding rate
    each second. Binance's futures streams take 10 incoming messages a second (spot 5) and
    ping every 3 minutes (spot every 20 s): a socket with nothing subscribed is quiet that
    long, so only a longer silence means a dead one."""
    return MarketStreamSettings(
        url=url, channel="markPrice@1s", control_rate=10.0, silence_timeout=200.0
    )


async def close_resources(resources: Resources) -> None:
    if resources.monitor is not None:
        await resources.monitor.stop()
    await resources.leases.stop()  # first: the work stops, then another replica takes it
    await resources.watch.stop()
    await resources.digests.stop()
    await resources.live.stop()
    await resources.alerts.stop()
    await resources.client.close()
    await resources.futures.close()
    await resources.db.close()
