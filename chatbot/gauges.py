"""What /metrics exports besides counters: the gauges that read the running bot's parts when
scraped (the weight budget, the alert book, the outbox, WebSocket attempts, Telegram's queue,
the leases held and the live replicas). The names are the operators' contract (README,
Operations); app.py calls `bot_gauges` once when it wires the parts, and stays the wiring.
"""

from __future__ import annotations

import functools

from chatbot.exchange.client import BinanceClient
from chatbot.exchange.weight_governor import Priority
from chatbot.exchange.ws.attempts import ConnectionAttempts
from chatbot.metrics import Metrics
from chatbot.services.alert_feed import AlertFeed
from chatbot.services.bundle import Services
from chatbot.services.leases import LeaseKeeper
from chatbot.storage.leases import ShardKind
from chatbot.telegram_pacing import PrioritySendPacer, SendPriority


def bot_gauges(
    client: BinanceClient,
    services: Services,
    alerts_live: AlertFeed,
    attempts: ConnectionAttempts,
    pacer: PrioritySendPacer,
    leases: LeaseKeeper,
) -> Metrics:
    """A registry with the bot's gauges on these parts (its counters are the registry's own)."""
    metrics = Metrics()
    governor = client.governor
    metrics.gauge("chatbot_binance_used_weight", "X-MBX-USED-WEIGHT-1M", lambda: governor.used)
    metrics.gauge(
        "chatbot_binance_weight_share",
        "Used weight / Binance's limit",
        lambda: governor.used / governor.limit,
    )
    metrics.labelled_gauge(
        "chatbot_binance_waiting",
        "Binance calls waiting for the weight budget",
        "priority",
        {p.value: functools.partial(governor.waiting.get, p, 0) for p in Priority},
    )
    futures = services.futures.client.governor  # Binance counts futures weight apart
    metrics.gauge(
        "chatbot_binance_futures_used_weight",
        "X-MBX-USED-WEIGHT-1M of the futures market data",
        lambda: futures.used,
    )
    metrics.gauge(
        "chatbot_binance_futures_weight_share",
        "Used futures weight / Binance's futures limit",
        lambda: futures.used / futures.limit,
    )
    metrics.gauge("chatbot_alerts_active", "Alerts in the book", lambda: len(services.alerts.book))
    metrics.gauge("chatbot_alerts_fired", "Alerts fired", lambda: services.alerts.fired_total)
    metrics.gauge("chatbot_outbox_backlog", "Messages waiting", lambda: alerts_live.sender.backlog)
    metrics.gauge("chatbot_stream_reconnects", "Market stream outages", lambda: alerts_live.outages)
    metrics.gauge(
        "chatbot_telegram_send_errors", "Failed alert sends", lambda: alerts_live.sender.send_errors
    )
    metrics.gauge(
        "chatbot_ws_connect_attempts",
        "WebSocket connection attempts in the last window (CHATBOT_WS_CONNECT_WINDOW)",
        lambda: attempts.used,
    )
    metrics.gauge(
        "chatbot_ws_connect_waiting",
        "WebSocket connections waiting for room to attempt",
        lambda: attempts.waiting,
    )
    metrics.labelled_gauge(
        "chatbot_telegram_sends_waiting",
        "Requests to Telegram queued for a send slot",
        "priority",
        {p.name.lower(): functools.partial(pacer.waiting.get, p, 0) for p in SendPriority},
    )
    metrics.labelled_gauge(
        "chatbot_leases_held",
        "Shards of once-only work this replica holds, by kind",
        "kind",
        {k.value: functools.partial(_held, leases, k) for k in ShardKind},
    )
    metrics.gauge(
        "chatbot_replicas_live", "Replicas alive at the last lease beat", lambda: leases.live
    )
    return metrics


def _held(leases: LeaseKeeper, kind: ShardKind) -> int:
    return len(leases.held(kind))
