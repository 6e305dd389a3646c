"""What a user chose for the messages the bot sends on its own: the rules of one decision
(modes, quiet hours in the user's zone, critical messages: a stop-loss fill, a list's stop
leg), the digest's next local time across DST, the grammar of /settings and /digest, and the
row on each engine (a digest claimed once)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.exchange.models import Order
from chatbot.services.delivery import (
    DROP,
    RING,
    SILENT,
    DigestEvery,
    DigestSchedule,
    MessageKind,
    Mode,
    QuietHours,
    UserSettings,
)
from chatbot.services.list_outcomes import LegRole, ListLegOutcome, ListNotice
from chatbot.services.order_outcomes import FillNotice, NoticeKind
from chatbot.services.preferences import PreferenceService
from chatbot.storage.database import Database
from chatbot.storage.preferences import PreferenceRepository
from handlers.notifications import fill_kind, list_kind
from handlers.parsing import CommandError
from handlers.settings_parsing import parse_digest, parse_quiet, parse_settings, parse_zone

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> float:
    """The instant of a local wall time, "2026-12-06 23:30"."""
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def test_no_row_means_everything_rings():
    settings = UserSettings.default(7)
    assert all(settings.decide(kind, at("2026-12-06 03:00")) == RING for kind in MessageKind)


def test_modes_silence_and_drop_but_critical_always_rings():
    settings = UserSettings.default(7).with_mode(MessageKind.FILLS, Mode.OFF)
    settings = settings.with_mode(MessageKind.ALERTS, Mode.SILENT)
    now = at("2026-12-06 12:00")
    assert settings.decide(MessageKind.FILLS, now) == DROP
    assert settings.decide(MessageKind.ALERTS, now) == SILENT
    assert settings.decide(MessageKind.FILLS, now, critical=True) == RING


def test_quiet_hours_across_midnight_in_the_users_zone_silence_without_dropping():
    settings = UserSettings(7, time_zone="Europe/Berlin", quiet=QuietHours(23 * 60, 7 * 60))
    assert settings.decide(MessageKind.ALERTS, at("2026-12-06 23:30")) == SILENT
    assert settings.decide(MessageKind.ALERTS, at("2026-12-07 06:59")) == SILENT
    assert settings.decide(MessageKind.ALERTS, at("2026-12-07 07:00")) == RING
    assert settings.decide(MessageKind.FILLS, at("2026-12-06 23:30"), critical=True) == RING
    off = settings.with_mode(MessageKind.ORDERS, Mode.OFF)
    assert off.decide(MessageKind.ORDERS, at("2026-12-06 23:30")) == DROP


@given(st.integers(0, 1439), st.integers(0, 1439), st.integers(0, 1439))
def test_quiet_hours_hold_exactly_the_minutes_from_start_to_end(start, end, minute):
    quiet = QuietHours(start, end)
    inside = (minute - start) % 1440 < (end - start) % 1440
    assert quiet.contains(minute) == inside


def test_a_daily_digest_comes_at_the_local_time_across_a_dst_change():
    daily = DigestSchedule(DigestEvery.DAILY, 8 * 60)
    before = at("2026-03-28 09:00")  # the night after, Berlin moves from +1 to +2
    first = daily.next_after(before, BERLIN)
    assert first == at("2026-03-29 08:00") and first - before == 22 * 3600
    assert daily.next_after(first, BERLIN) == at("2026-03-30 08:00")


def test_a_weekly_digest_comes_on_its_weekday():
    weekly = DigestSchedule(DigestEvery.WEEKLY, 18 * 60 + 30, weekday=0)  # Monday 18:30
    sunday = at("2026-12-06 12:00")
    assert weekly.next_after(sunday, BERLIN) == at("2026-12-07 18:30")
    assert weekly.next_after(at("2026-12-07 18:30"), BERLIN) == at("2026-12-14 18:30")


def test_mode_buttons_cycle_on_silent_off():
    assert [Mode.ON.next(), Mode.SILENT.next(), Mode.OFF.next()] == [Mode.SILENT, Mode.OFF, Mode.ON]


def test_the_grammar_reads_what_the_help_says():
    assert parse_settings([]) is None
    assert parse_settings(["tz", "europe/berlin"]).zone == "Europe/Berlin"
    assert parse_settings(["quiet", "23:00-07:00"]).quiet == QuietHours(1380, 420)
    assert parse_settings(["quiet", "off"]).quiet_off
    change = parse_settings(["fills", "silent"])
    assert (change.kind, change.mode) == (MessageKind.FILLS, Mode.SILENT)
    assert parse_digest(["daily", "8:05"]) == DigestSchedule(DigestEvery.DAILY, 485)
    assert parse_digest(["weekly", "Fri", "18:00"]) == DigestSchedule(DigestEvery.WEEKLY, 1080, 4)
    assert parse_digest(["off"]) is None


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: parse_zone("Mars/Olympus"), "not a time zone I know"),
        (lambda: parse_zone("../../etc/passwd"), "not a time zone I know"),
        (lambda: parse_quiet("23:00"), "23:00-07:00"),
        (lambda: parse_quiet("07:00-07:00"), "different times"),
        (lambda: parse_quiet("25:00-07:00"), "HH:MM"),
        (lambda: parse_settings(["volume", "11"]), "/settings tz Europe/Berlin"),
        (lambda: parse_digest(["hourly"]), "/digest daily 08:00"),
        (lambda: parse_digest(["weekly", "someday", "08:00"]), "mon"),
    ],
)
def test_bad_input_says_what_to_type(call, words):
    with pytest.raises(CommandError, match=words):
        call()


async def test_a_users_choices_are_one_row_read_on_each_engine(database: Database):
    clock = [at("2026-12-06 12:00")]
    service = PreferenceService(PreferenceRepository(database), clock=lambda: clock[0])
    assert await service.decide(7, MessageKind.ALERTS) == RING
    await service.set_mode(7, MessageKind.ALERTS, Mode.SILENT)
    await service.set_zone(7, "Europe/Berlin")
    await service.set_quiet(7, QuietHours(23 * 60, 7 * 60))
    settings = await service.set_digest(7, DigestSchedule(DigestEvery.DAILY, 8 * 60))
    assert settings.digest_next == at("2026-12-07 08:00")
    assert await service.decide(7, MessageKind.ALERTS) == SILENT
    assert await service.decide(7, MessageKind.FILLS, now=at("2026-12-06 23:10")) == SILENT
    assert await service.decide(8, MessageKind.FILLS, now=at("2026-12-06 23:10")) == RING
    moved = await service.set_zone(7, "Asia/Tokyo")
    assert moved.digest_next == at("2026-12-07 08:00", ZoneInfo("Asia/Tokyo"))
    stopped = await service.set_digest(7, None)
    assert stopped.digest is None and stopped.digest_next is None
    assert stopped.mode(MessageKind.ALERTS) is Mode.SILENT and stopped.quiet is not None


async def test_a_due_digest_is_claimed_once_across_replicas(database: Database, other: Database):
    mine, theirs = PreferenceRepository(database), PreferenceRepository(other)
    service = PreferenceService(mine, clock=lambda: at("2026-12-06 12:00"))
    await service.set_zone(7, "Europe/Berlin")
    await service.set_digest(7, DigestSchedule(DigestEvery.DAILY, 8 * 60))
    now = at("2026-12-07 08:00")
    (due,) = await theirs.due_digests(now)
    assert due.digest_next is not None
    claims = await asyncio.gather(
        *(repo.claim_digest(7, due.digest_next, now + 86_400) for repo in [mine, theirs] * 3)
    )
    assert sorted(claims) == [False] * 5 + [True]
    assert await mine.due_digests(now) == []
    await mine.record_digest(7, now, Decimal("1234.5"))
    assert (await theirs.get(7)).digest_last_usdt == Decimal("1234.5")


def _order(order_id: int, type_: str, executed: str = "0") -> Order:
    return Order(
        "BTCUSDT", order_id, f"c{order_id}", "SELL", type_, "FILLED", Decimal(0),
        Decimal("0.01"), Decimal(executed), Decimal(0), "GTC", None, None,
    )  # fmt: skip


def _notice(kind: NoticeKind, order_type: str) -> FillNotice:
    return FillNotice(
        7, kind, "BTCUSDT", "SELL", order_type, 1, Decimal("0.01"), Decimal("0.01"),
        Decimal(0), Decimal("64000"), Decimal("640"),
    )  # fmt: skip


def test_a_stop_loss_fill_is_critical_and_other_updates_are_not():
    assert fill_kind(_notice(NoticeKind.FILLED, "STOP_LOSS_LIMIT")) == (MessageKind.FILLS, True)
    assert fill_kind(_notice(NoticeKind.PARTIAL, "STOP_LOSS")) == (MessageKind.FILLS, True)
    assert fill_kind(_notice(NoticeKind.FILLED, "LIMIT")) == (MessageKind.FILLS, False)
    assert fill_kind(_notice(NoticeKind.CANCELLED, "STOP_LOSS")) == (MessageKind.ORDERS, False)


def test_an_order_lists_end_is_critical_when_its_stop_leg_filled():
    def ended(stop_filled: str, target_filled: str) -> ListNotice:
        legs = (
            ListLegOutcome(LegRole.TAKE_PROFIT, _order(1, "LIMIT_MAKER", target_filled)),
            ListLegOutcome(LegRole.STOP_LOSS, _order(2, "STOP_LOSS", stop_filled)),
        )
        return ListNotice(7, "BTCUSDT", "BTC", "USDT", 12, "OCO", legs, None)

    assert list_kind(ended("0.01", "0")) == (MessageKind.FILLS, True)
    assert list_kind(ended("0", "0.01")) == (MessageKind.FILLS, False)
    assert list_kind(ended("0", "0")) == (MessageKind.ORDERS, False)
