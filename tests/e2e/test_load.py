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


# --- what the benchmark reads from the sandbox servers ---


async def test_the_simulator_counts_its_weight_peak_and_429s_and_calls_into_a_standing_429(
    exchange, trader
):
    exchange.limits.weight_per_minute = 30
    statuses = [(await trader.public("/api/v3/exchangeInfo")).status for _ in range(3)]
    exchange.faults.ban(60)
    banned = await trader.public("/api/v3/ping")

    assert 429 in statuses  # 20 + 20 > 30, unless the minute turned twice in three calls
    assert exchange.limits.refused_weight == statuses.count(429)
    assert exchange.limits.peak_weight >= 40
    # The third call is sent while the second's 429 still holds, unless the minute turned.
    assert exchange.limits.unheeded == (1 if statuses == [200, 429, 429] else 0)
    assert banned.status == 418 and exchange.faults.ban_answers == 1


async def test_the_emulator_tells_listeners_of_each_message_and_counts_flood_refusals(api, bot):
    from telegram.error import RetryAfter

    chat = api.private_chat(api.user(2001, first_name="Dora"))
    seen = []
    api.listen(lambda where, event: seen.append((where.id, event.kind, event.message.text)))
    api.enable_flood_control(chat_burst=3)

    for n in range(3):
        await bot.send_message(chat.id, f"message {n}")
    with pytest.raises(RetryAfter):
        await bot.send_message(chat.id, "one too many")

    assert seen == [(chat.id, "new", f"message {n}") for n in range(3)]
    assert api.flood_refusals == 1
