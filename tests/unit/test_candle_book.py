"""The candle book: indicator alerts fire on the close where their condition becomes true,
volume alerts on the live update where the candle's volume reaches its multiple; each once."""

from __future__ import annotations

import tracemalloc
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.exchange.market_models import Kline
from chatbot.services import indicators
from chatbot.services.alert_kinds import (
    Band,
    Crossing,
    Firing,
    Indicator,
    IndicatorCondition,
    Move,
    PriceLevel,
    VolumeSpike,
)
from chatbot.services.candle_book import CandleBook
from chatbot.services.candle_series import Reading
from tests.unit.klines import kline, synthetic_klines

HOUR = 3_600_000
T0 = 1_780_000_000_000 // HOUR * HOUR
RISE_THEN_FALL = [10, 11, 12, 13, 14, 15, 16, 15, 14, 13, 12, 11, 10, 9, 10, 12, 14, 16]


def at(index: int) -> int:
    return T0 + index * HOUR


def candles(closes: list[int] | list[Decimal], start: int = 0) -> list[Kline]:
    return [kline(at(start + i), Decimal(c)) for i, c in enumerate(closes)]


def rsi(crossing: Crossing, level: int, period: int = 3) -> IndicatorCondition:
    return IndicatorCondition(Indicator.RSI, "1h", crossing, (period,), level=Decimal(level))


def close_all(book: CandleBook, klines: list[Kline], now: float = 0.0) -> list[list[Firing]]:
    """Each candle's closing event, in order: what each one fired."""
    return [book.on_kline("BTCUSDT", "1h", k, True, now) for k in klines]


def edges(values: list, holds) -> list[int]:
    """Indexes where `holds` becomes true having been false (None: no value, no edge)."""
    return [
        i
        for i in range(1, len(values))
        if values[i] is not None
        and values[i - 1] is not None
        and holds(values[i])
        and not holds(values[i - 1])
    ]


def test_an_rsi_alert_fires_once_on_the_close_it_crosses_and_not_before() -> None:
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30))
    klines = candles(RISE_THEN_FALL)
    fired = close_all(book, klines)
    values = indicators.rsi([k.close for k in klines], 3)
    (index,) = edges(values[:13], lambda v: v < 30)  # the first fall below 30
    assert [i for i, f in enumerate(fired) if f] == [index]
    assert fired[index] == [Firing(1, klines[index].close, values[index])]
    assert 1 not in book and len(book) == 0 and book.symbols() == set()


def test_an_alert_whose_condition_already_holds_waits_for_the_next_crossing() -> None:
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.ABOVE, 70))  # before any value
    klines = candles(RISE_THEN_FALL)
    close_all(book, klines[:6])  # RSI 100 already: no edge for alert 1 either
    book.add(2, "BTCUSDT", rsi(Crossing.ABOVE, 70))
    fired = close_all(book, klines[6:])
    values = indicators.rsi([k.close for k in klines], 3)
    assert values[6] > 70  # still above on the next close: nothing
    (index,) = edges(values[6:], lambda v: v > 70)  # down below, then back above 70
    price, value = klines[6 + index].close, values[6 + index]
    assert [f for f in fired if f] == [[Firing(1, price, value), Firing(2, price, value)]]


def test_a_repeat_alert_cools_down_then_fires_on_the_next_edge() -> None:
    path = [10, 11, 12, 13, 12, 11, 10, 9, 10, 11, 12, 13, 12, 11, 10, 9]
    klines = candles(path)
    values = indicators.rsi([k.close for k in klines], 3)
    falls = edges(values, lambda v: v < 30)
    assert len(falls) == 2
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30), repeat=True, cooldown=60.0)
    times = [float(i * 3600) for i in range(len(path))]
    fired = [book.on_kline("BTCUSDT", "1h", k, True, t) for k, t in zip(klines, times, strict=True)]
    assert [i for i, f in enumerate(fired) if f] == falls
    # The same path with a cooldown longer than the gap between the falls: only the first.
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30), repeat=True, cooldown=3600.0 * 100)
    fired = [book.on_kline("BTCUSDT", "1h", k, True, t) for k, t in zip(klines, times, strict=True)]
    assert [i for i, f in enumerate(fired) if f] == falls[:1]
    assert 1 in book


def test_a_cooling_alert_restored_after_a_restart_waits_out_its_cooldown() -> None:
    klines = candles(RISE_THEN_FALL)
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30), repeat=True, cooldown=900.0, fired_at=0.0)
    assert not any(close_all(book, klines, now=899.0))
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30), repeat=True, cooldown=900.0, fired_at=0.0)
    assert any(close_all(book, klines, now=900.0))


@pytest.mark.parametrize("crossing", [Crossing.UP, Crossing.DOWN, Crossing.EITHER])
def test_an_ema_cross_fires_where_the_fast_line_crosses_the_slow_one(crossing: Crossing) -> None:
    klines = synthetic_klines(400, "1h")
    closes = [k.close for k in klines]
    fast, slow = indicators.ema(closes, 5), indicators.ema(closes, 12)
    pairs = [None if s is None else (f, s) for f, s in zip(fast, slow, strict=True)]
    ups = edges(pairs, lambda p: p[0] > p[1])
    downs = edges(pairs, lambda p: p[0] < p[1])
    expected = {Crossing.UP: ups, Crossing.DOWN: downs, Crossing.EITHER: sorted(ups + downs)}
    book = CandleBook()
    condition = IndicatorCondition(Indicator.EMA, "1h", crossing, (5, 12))
    book.add(1, "BTCUSDT", condition, repeat=True, cooldown=0.0)
    fired = [book.on_kline("BTCUSDT", "1h", k, True, float(i)) for i, k in enumerate(klines)]
    assert [i for i, f in enumerate(fired) if f] == expected[crossing]
    assert len(expected[crossing]) >= 5  # the path does cross, several times
    first = expected[crossing][0]
    assert fired[first] == [Firing(1, closes[first], fast[first])]  # measured: the fast line


def test_a_macd_alert_fires_where_the_line_crosses_its_signal() -> None:
    klines = synthetic_klines(400, "1h")
    macd = indicators.macd([k.close for k in klines], 12, 26, 9)
    ups = edges(macd, lambda m: m.macd > m.signal)
    book = CandleBook()
    condition = IndicatorCondition(Indicator.MACD, "1h", Crossing.UP, (12, 26, 9))
    book.add(7, "BTCUSDT", condition)
    fired = close_all(book, klines)
    assert [i for i, f in enumerate(fired) if f] == ups[:1]
    assert fired[ups[0]] == [Firing(7, klines[ups[0]].close, macd[ups[0]].macd)]


def test_a_bollinger_alert_fires_when_the_close_goes_above_the_upper_band() -> None:
    klines = synthetic_klines(400, "1h")
    closes = [k.close for k in klines]
    bands = indicators.bollinger(closes, 20)
    above = edges(
        [None if b is None else (c, b) for c, b in zip(closes, bands, strict=True)],
        lambda p: p[0] > p[1].upper,
    )
    book = CandleBook()
    condition = IndicatorCondition(Indicator.BB, "1h", Crossing.ABOVE, (20,), band=Band.UPPER)
    book.add(3, "BTCUSDT", condition, repeat=True, cooldown=0.0)
    fired = [book.on_kline("BTCUSDT", "1h", k, True, float(i)) for i, k in enumerate(klines)]
    assert [i for i, f in enumerate(fired) if f] == above and above
    assert fired[above[0]] == [Firing(3, closes[above[0]], bands[above[0]].upper)]


def test_alerts_on_one_series_share_it_and_it_goes_with_the_last_of_them() -> None:
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30, 14))
    book.add(2, "BTCUSDT", rsi(Crossing.ABOVE, 70, 14))
    book.add(3, "BTCUSDT", VolumeSpike("5m", Decimal(3)))
    book.add(4, "ETHUSDT", rsi(Crossing.BELOW, 30, 14))
    assert book.intervals("BTCUSDT") == {"1h", "5m"} and book.count("BTCUSDT") == 3
    assert book.needs_history() == [
        ("BTCUSDT", "1h", 140),
        ("BTCUSDT", "5m", 20),
        ("ETHUSDT", "1h", 140),
    ]
    klines = synthetic_klines(200, "1h")
    book.seed("BTCUSDT", "1h", klines)
    expected = indicators.rsi([k.close for k in klines], 14)[-1]
    assert book.values("BTCUSDT", rsi(Crossing.BELOW, 30, 14)) == Reading(expected, Decimal(30))
    assert book.values("BTCUSDT", rsi(Crossing.ABOVE, 70, 14)) == Reading(expected, Decimal(70))
    assert ("BTCUSDT", "1h", 140) not in book.needs_history()
    assert sorted(book.ids("BTCUSDT")) == [1, 2, 3]
    assert book.remove(1) and book.remove(3) and not book.remove(3)
    assert book.intervals("BTCUSDT") == {"1h"}
    assert book.remove(2)
    assert book.intervals("BTCUSDT") == set() and book.symbols() == {"ETHUSDT"}
    assert book.values("BTCUSDT", rsi(Crossing.BELOW, 30, 14)) is None


def test_a_duplicate_close_or_a_catch_up_of_known_candles_changes_nothing() -> None:
    klines = candles(RISE_THEN_FALL)
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30), repeat=True, cooldown=0.0)
    fired = []
    for i, k in enumerate(klines):
        fired.append(book.on_kline("BTCUSDT", "1h", k, True, float(i)))
        assert book.on_kline("BTCUSDT", "1h", k, True, float(i)) == []  # a duplicate
        assert not any(close_all(book, klines[: i + 1], now=float(i)))  # a catch-up of all
        book.seed("BTCUSDT", "1h", klines[: i + 1])
    values = indicators.rsi([k.close for k in klines], 3)
    assert [i for i, f in enumerate(fired) if f] == edges(values, lambda v: v < 30)
    assert book.values("BTCUSDT", rsi(Crossing.BELOW, 30)) == Reading(values[-1], Decimal(30))


def test_a_catch_up_after_a_gap_fires_a_crossing_among_the_missed_candles_once() -> None:
    klines = candles(RISE_THEN_FALL)
    values = indicators.rsi([k.close for k in klines], 3)
    first_fall = edges(values, lambda v: v < 30)[0]
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30), repeat=True, cooldown=60.0)
    book.add(2, "BTCUSDT", rsi(Crossing.BELOW, 30))
    close_all(book, klines[:5], now=0.0)  # then the stream is lost; the rest comes at once
    fired = close_all(book, klines[5:], now=1000.0)
    assert [f for f in fired if f] == [
        [Firing(i, klines[first_fall].close, values[first_fall]) for i in (1, 2)]
    ]


def test_seeding_a_seeded_series_is_a_catch_up_that_fires_what_the_gap_hid() -> None:
    klines = candles(RISE_THEN_FALL)
    values = indicators.rsi([k.close for k in klines], 3)
    first_fall = edges(values, lambda v: v < 30)[0]
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30), repeat=True, cooldown=60.0)
    assert book.seed("BTCUSDT", "1h", klines[:4]) == []  # history: nothing to tell
    close_all(book, klines[4:6])  # live, then the stream is lost
    # REST gives the candles since before the gap: the known ones are skipped.
    fired = book.seed("BTCUSDT", "1h", klines[2:], now=5000.0)
    assert fired == [Firing(1, klines[first_fall].close, values[first_fall])]
    assert book.seed("BTCUSDT", "1h", klines, now=9000.0) == []  # once
    # Without `now`, the cooldown starts at the end of the candle that fired.
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30), repeat=True, cooldown=3600.0)
    book.seed("BTCUSDT", "1h", klines[:4])
    assert len(book.seed("BTCUSDT", "1h", klines)) == 1
    end = (klines[first_fall].close_time + 1) / 1000
    more = candles([1, 30, 20, 10, 5, 2], start=len(klines))  # below 30, up, below again
    falls = edges(indicators.rsi([k.close for k in klines + more], 3), lambda v: v < 30)
    assert falls[-2:] == [len(klines), len(klines) + 5]
    assert book.on_kline("BTCUSDT", "1h", more[0], True, end + 3599.0) == []  # cooling
    later = [book.on_kline("BTCUSDT", "1h", k, True, end + 3600.0) for k in more[1:]]
    assert [len(f) for f in later] == [0, 0, 0, 0, 1]


def test_history_given_before_a_series_warms_up_fires_nothing() -> None:
    klines = candles(RISE_THEN_FALL)
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30))
    assert book.seed("BTCUSDT", "1h", klines) == []  # the fall below 30 is in the past
    assert 1 in book and book.needs_history() == []


def test_seeding_merges_history_under_the_live_candles_received_before_it() -> None:
    klines = synthetic_klines(300, "1h")
    condition = rsi(Crossing.BELOW, 30, 14)
    book = CandleBook()
    book.add(1, "BTCUSDT", condition)
    close_all(book, klines[280:])  # live closes while the history is being fetched
    book.seed("BTCUSDT", "1h", klines[:290])  # the fetch ends before the last live close
    expected = indicators.rsi([k.close for k in klines], 14)[-1]
    assert book.values("BTCUSDT", condition) == Reading(expected, Decimal(30))
    book.seed("BTCUSDT", "1h", klines[:290])  # idempotent
    assert book.values("BTCUSDT", condition) == Reading(expected, Decimal(30))
    assert book.needs_history() == []
    # A second series on the stream is seeded by the same call, the first left as it is.
    book.add(2, "BTCUSDT", IndicatorCondition(Indicator.EMA, "1h", Crossing.UP, (20, 50)))
    assert book.needs_history() == [("BTCUSDT", "1h", 500)]
    book.seed("BTCUSDT", "1h", klines)
    fast, slow = (indicators.ema([k.close for k in klines], n)[-1] for n in (20, 50))
    ema_now = book.values("BTCUSDT", IndicatorCondition(Indicator.EMA, "1h", Crossing.UP, (20, 50)))
    assert ema_now == Reading(fast, slow)
    assert book.values("BTCUSDT", condition) == Reading(expected, Decimal(30))


def test_a_volume_spike_fires_on_the_live_update_that_reaches_it_once_per_candle() -> None:
    book = CandleBook()
    spike = VolumeSpike("5m", Decimal(3), period=4)
    book.add(1, "BTCUSDT", spike, repeat=True, cooldown=0.0)
    book.add(2, "BTCUSDT", spike)
    five = 300_000

    def event(index: int, volume: str, closed: bool, now: float) -> list[Firing]:
        k = kline(T0 + index * five, "100", interval_ms=five, volume=volume)
        return book.on_kline("BTCUSDT", "5m", k, closed, now)

    for i, volume in enumerate(["10", "20", "10", "20"]):  # average 15
        assert event(i, volume, False, i) == []  # no average yet: nothing
        assert event(i, volume, True, i) == []
    assert book.values("BTCUSDT", spike) == Reading(Decimal(0), Decimal(15))
    assert event(4, "30", False, 4.0) == []
    assert book.values("BTCUSDT", spike) == Reading(Decimal(30), Decimal(15))
    fired = event(4, "45", False, 4.1)  # 3x: both fire
    assert fired == [Firing(1, Decimal(100), Decimal(3)), Firing(2, Decimal(100), Decimal(3))]
    assert event(4, "60", False, 4.2) == [] and event(4, "90", True, 4.3) == []  # same candle
    assert 2 not in book
    # The average moves on: 20, 10, 20, 90 -> 35; the next candle spikes at 105.
    assert event(5, "104", False, 5.0) == []
    assert event(5, "105", True, 5.1) == [Firing(1, Decimal(100), Decimal(3))]
    assert event(5, "200", True, 5.2) == []  # its duplicate closing event
    # A gap hid candles 6 and 7; REST gives them: 6 spiked (average of 10, 20, 90, 105 = 56.25).
    missed = [
        kline(T0 + i * five, "101", interval_ms=five, volume=v) for i, v in [(6, "200"), (7, "1")]
    ]
    expected = indicators.CONTEXT.divide(Decimal(200), Decimal("56.25"))
    assert book.seed("BTCUSDT", "5m", missed, now=9.0) == [Firing(1, Decimal(101), expected)]


def test_bad_alerts_are_refused() -> None:
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30))
    with pytest.raises(ValueError, match="already in the book"):
        book.add(1, "BTCUSDT", rsi(Crossing.BELOW, 30))
    bad = [
        PriceLevel(">", Decimal(1)),
        Move(Decimal(3), 900),
        IndicatorCondition(Indicator.RSI, "1h", Crossing.BELOW, (14,)),  # no level
        IndicatorCondition(Indicator.EMA, "1h", Crossing.UP, (20,)),
        IndicatorCondition(Indicator.BB, "2d", Crossing.ABOVE, (20,), band=Band.UPPER),
        VolumeSpike("5m", Decimal(0)),
    ]
    for condition in bad:
        with pytest.raises(ValueError):
            book.add(2, "BTCUSDT", condition)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cooldown"):
        book.add(2, "BTCUSDT", rsi(Crossing.BELOW, 30), cooldown=-1.0)
    with pytest.raises(ValueError, match="fired_at"):
        book.add(2, "BTCUSDT", rsi(Crossing.BELOW, 30), fired_at=5.0)
    assert len(book) == 1 and book.needs_history() == [("BTCUSDT", "1h", 30)]


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(-30, 30), min_size=5, max_size=80),
    level=st.integers(5, 95),
    crossing=st.sampled_from([Crossing.ABOVE, Crossing.BELOW, Crossing.EITHER]),
)
def test_a_repeat_alert_without_cooldown_fires_on_every_edge_of_the_indicator(
    steps: list[int], level: int, crossing: Crossing
) -> None:
    closes = [Decimal(1000)]
    for step in steps:
        closes.append(closes[-1] + step)
    values = indicators.rsi(closes, 3)
    above = edges(values, lambda v: v > level)
    below = edges(values, lambda v: v < level)
    expected = {Crossing.ABOVE: above, Crossing.BELOW: below}.get(crossing, sorted(above + below))
    book = CandleBook()
    book.add(1, "BTCUSDT", rsi(crossing, level), repeat=True, cooldown=0.0)
    fired = close_all(book, candles(closes))
    assert [i for i, f in enumerate(fired) if f] == expected


def test_a_series_keeps_what_its_indicators_need_not_the_candles() -> None:
    klines = synthetic_klines(6_000, "1m")
    book = CandleBook()
    for alert_id, condition in enumerate(
        [
            IndicatorCondition(Indicator.RSI, "1m", Crossing.BELOW, (14,), Decimal(30)),
            IndicatorCondition(Indicator.EMA, "1m", Crossing.UP, (20, 50)),
            IndicatorCondition(Indicator.MACD, "1m", Crossing.UP, (12, 26, 9)),
            IndicatorCondition(Indicator.BB, "1m", Crossing.ABOVE, (20,), band=Band.UPPER),
            VolumeSpike("1m", Decimal(3)),
        ]
    ):
        book.add(alert_id, "BTCUSDT", condition, repeat=True, cooldown=0.0)
    book.seed("BTCUSDT", "1m", klines[:1_000])

    def feed(part: list[Kline]) -> int:
        """Bytes the bot's own code holds after `part` (pytest's own allocations left out)."""
        for k in part:
            book.on_kline("BTCUSDT", "1m", k, True, 0.0)
        ours = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/chatbot/*")])
        return sum(stat.size for stat in ours.statistics("filename"))

    tracemalloc.start()
    try:
        after_1000 = feed(klines[1_000:2_000])
        after_5000 = feed(klines[2_000:])
    finally:
        tracemalloc.stop()
    assert after_5000 - after_1000 < 2_000  # bytes: 4,000 more candles, nothing kept of them
