"""After a long market stream outage, users with alerts hear that live prices are back: the
alert feed (services/alert_feed.py) decides, the chat notifier (handlers/notifications.py)
words it."""

from __future__ import annotations

import time
from decimal import Decimal

from chatbot.runtime import runtime
from tests.e2e.conftest import ask


async def test_users_with_alerts_hear_when_live_prices_are_back(alice, exchange, running_bot):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    await ask(alice, "/alert BTC > 61000")
    runtime(running_bot).services.alerts.down_since = time.time() - 120  # down for 2 min
    await exchange.drop_websockets()  # the stream comes back up on its own
    back = await alice.wait_for(
        lambda: next((m for m in alice.messages if "Live prices are back" in m.text), None),
        timeout=15,
    )
    assert "delayed for 2 min" in back.text
    assert "your alerts were checked against the prices now" in back.text
