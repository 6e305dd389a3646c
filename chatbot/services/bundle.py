"""The services one running bot shares, built once in `chatbot/app.py`."""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.services.access import AccessPolicy
from chatbot.services.account import AccountService
from chatbot.services.alert_backtests import AlertBacktests
from chatbot.services.alerts import AlertService
from chatbot.services.charts import ChartService
from chatbot.services.futures_market import FuturesMarketService
from chatbot.services.keys import KeyService
from chatbot.services.market import MarketService
from chatbot.services.orders import OrderService
from chatbot.services.pnl_report import PnlService
from chatbot.services.preferences import PreferenceService
from chatbot.services.risk import RiskService
from chatbot.storage.conversations import SetkeyConversations


@dataclass
class Services:
    access: AccessPolicy
    market: MarketService
    futures: FuturesMarketService  # USDⓈ-M perpetuals' market data (read-only)
    keys: KeyService
    account: AccountService
    orders: OrderService
    alerts: AlertService
    backtests: AlertBacktests  # an alert's 90 days before it is saved
    charts: ChartService
    risk: RiskService
    pnl: PnlService
    preferences: PreferenceService  # /settings, /digest and every message sent unasked
    setkey: SetkeyConversations  # the /setkey steps, read from the database on each answer
