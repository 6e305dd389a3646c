"""How the alert service keeps a market stream outage: when /alerts says prices are delayed, and
when users are told they are back (`CHATBOT_PRICE_DELAY_NOTICE`), on a clock the test moves."""

from __future__ import annotations

from chatbot.services.alerts import AlertService
from chatbot.storage.alerts import AlertRepository
from chatbot.storage.database import Database
from handlers.notifications import render_prices_back


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def service(database: Database, clock: Clock, after: float) -> AlertService:
    """No market service: these calls never quote a price nor resolve a symbol."""
    market = None
    return AlertService(AlertRepository(database), market, clock=clock, delay_notice_after=after)


async def test_a_long_outage_is_shown_and_announced_once(database: Database) -> None:
    clock = Clock()
    alerts = service(database, clock, after=60)
    alerts.prices_stopped()
    clock.now += 30
    alerts.prices_stopped()  # a second drop while down: the outage still counts from the first
    assert alerts.delayed_since() is None  # 30 s: not yet worth a word
    clock.now += 90
    assert alerts.delayed_since() == clock.now - 120
    assert alerts.prices_resumed() == 120
    assert alerts.delayed_since() is None and alerts.prices_resumed() is None


async def test_a_short_outage_passes_unmentioned(database: Database) -> None:
    clock = Clock()
    alerts = service(database, clock, after=60)
    alerts.prices_stopped()
    clock.now += 59
    assert alerts.prices_resumed() is None


def test_the_notice_says_how_long_prices_were_delayed() -> None:
    text = render_prices_back(120)
    assert "Live prices are back (they were delayed for 2 min)" in text
    assert "your alerts were checked against the prices now" in text
