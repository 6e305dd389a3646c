"""The load benchmark's short run (100 users, half with keys, 30 s) as a test of correctness
under load: every command answered, no internal error, Binance's and Telegram's limits kept,
every due alert delivered once, one order per Confirm. Speed is measured by `make bench`, never
asserted here."""

from __future__ import annotations

import os

import pytest

from benchmarks.load import FIRST_USER, drive, seed_keys
from chatbot.app import running_bot
from tests.e2e.conftest import MASTER_KEY, POLL_TIMEOUT

USERS, SECONDS = 100, 30.0


@pytest.mark.timeout(180)
async def test_a_hundred_users_at_once_are_all_answered_within_the_limits(
    exchange, api, settings_factory
):
    api.enable_flood_control()  # Telegram's limits: 30 sends/s, about 1/s per chat
    settings = settings_factory(CHATBOT_ALLOWED_USERS="*")
    ids = list(range(FIRST_USER, FIRST_USER + USERS))
    keyed = set(ids[: USERS // 2])
    await seed_keys(settings.db_path, MASTER_KEY, exchange, sorted(keyed))

    async with running_bot(settings, poll_timeout=POLL_TIMEOUT):
        result = await drive(exchange, api, ids, keyed, SECONDS, bot_pid=os.getpid())

    tally = result.tally
    assert tally.commands >= USERS, tally.latencies.keys()
    assert result.answered_all, tally.unanswered
    assert tally.internal_errors == 0
    assert tally.rate_limited_replies == 0
    assert (result.refused_429, result.banned_418) == (0, 0)
    assert result.weight_peak <= result.weight_limit
    assert result.max_sends_per_second < 30 and result.flood_429 == 0
    assert tally.alerts_due(), "the price moves made no alert due"
    assert (tally.undelivered(), tally.duplicate_alerts()) == (0, 0)
    assert result.orders_placed == tally.confirms and tally.stuck_previews == 0
