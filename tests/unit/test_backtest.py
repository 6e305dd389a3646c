"""The backtest: how often an alert would have fired over past candles, and the median move in
the 24 h after, on histories small enough to check by hand."""

from __future__ import annotations

import statistics
from decimal import Decimal

import pytest

from chatbot.exchange.market_models import Kline
from chatbot.services import indicators
from chatbot.services.alert_kinds import (
    Crossing,
    Indicator,
    IndicatorCondition,
    Move,
    PriceLevel,
    VolumeSpike,
)
from chatbot.services.backtest import BacktestResult, backtest, backtest_interval, move_interval
from chatbot.services.candle_book import CandleBook
from tests.unit.klines import kline, synthetic_klines

HOUR = 3_600_000
T0 = 1_780_000_000_000 // HOUR * HOUR
D = Decimal


def hourly(
    rows: list[tuple[str, str, str]], *, length: int = 40, step: int = HOUR, fill: str = "90"
) -> list[Kline]:
    """Candles of (high, low, close), then flat ones at `fill` up to `length`."""
    rows = rows + [(fill, fill, fill)] * (length - len(rows))
    return [
        kline(T0 + i * step, close, interval_ms=step, high=high, low=low)
        for i, (high, low, close) in enumerate(rows)
    ]


def with_closes(klines: list[Kline], closes: dict[int, str]) -> list[Kline]:
    for index, close in closes.items():
        klines[index].close = D(close)
    return klines


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (PriceLevel(">", D(70000)), ("1h", 2161)),
        (PriceLevel("%", D(-5)), ("1h", 2161)),
        (Move(D(3), 3600), ("1h", 2161)),  # 90 days and the hour before the first
        (Move(D(-5), 7 * 86400), ("1d", 97)),
        (Move(D(3), 900), ("15m", 5000)),  # capped: 52 days
        (Move(D(3), 2700), ("15m", 5000)),  # 45m: 3 candles of 15m
        (Move(D(3), 60), ("5m", 5000)),  # never shorter than 5m
        (Move(D(3), 420), ("5m", 5000)),  # 7m: one 5m candle
        (IndicatorCondition(Indicator.RSI, "1h", Crossing.BELOW, (14,), D(30)), ("1h", 2300)),
        (IndicatorCondition(Indicator.EMA, "4h", Crossing.UP, (20, 50)), ("4h", 1040)),
        (IndicatorCondition(Indicator.RSI, "1m", Crossing.BELOW, (14,), D(30)), ("1m", 5000)),
        (VolumeSpike("1d", D(3)), ("1d", 110)),
    ],
)
def test_the_candles_a_backtest_reads(condition: object, expected: tuple[str, int]) -> None:
    assert backtest_interval(condition) == expected  # type: ignore[arg-type]


def test_a_move_is_measured_on_the_longest_interval_dividing_its_window() -> None:
    assert [move_interval(s) for s in (300, 5400, 3 * 3600, 86400, 2 * 86400)] == [
        "5m",
        "30m",
        "1h",
        "1d",
        "1d",
    ]


def test_a_price_level_fires_each_time_a_high_reaches_it_after_a_candle_wholly_below() -> None:
    klines = hourly(
        [
            ("101", "99", "100"),  # above already at the start: not a crossing
            ("95", "90", "94"),
            ("101", "94", "100"),  # 1: the high reaches 100
            ("102", "99", "101"),  # still there: the alert has not re-armed
            ("98", "96", "97"),  # wholly below: re-armed
            ("100", "97", "100"),  # 2: exactly 100 counts
        ]
        + [("95", "90", "92")] * 28
        + [("100.5", "90", "100")],  # 3 (index 34): no 24 h after it
    )
    with_closes(klines, {2 + 24: "110", 5 + 24: "95"})  # +10 % and -5 % a day after
    result = backtest(PriceLevel(">", D(100)), klines, price_now=D(92))
    assert result == BacktestResult(3, D("2.5"), D(39) / 24, "1h")


def test_a_percentage_is_a_level_from_the_price_now_and_below_reads_the_lows() -> None:
    rows = [("200", "190", "195"), ("195", "180", "181"), ("182", "181", "181")]
    klines = hourly(rows, fill="190")
    with_closes(klines, {1 + 24: "190.04895"})  # +5 % from the level
    result = backtest(PriceLevel("%", D(-10)), klines, price_now=D("201.11"))  # level 180.999
    assert (result.fired, result.median_move_24h) == (1, D(5))
    assert backtest(PriceLevel("<", D(180)), klines, price_now=D(0)).fired == 1
    assert backtest(PriceLevel("<", D("179.99")), klines, price_now=D(0)).fired == 0


def test_a_move_compares_each_close_with_the_close_a_window_before() -> None:
    closes = ["100", "100", "103", "106.09", "106.09", "110", "99"]
    klines = hourly([(c, c, c) for c in closes])
    result = backtest(Move(D(3), 3600), klines, price_now=D(90))
    assert result.fired == 2  # +3 % at 2, still +3 % at 3 (not again), then +3.68 % at 5
    moves = sorted((D(90) / D(close) - 1) * 100 for close in ("103", "110"))  # a day later: 90
    assert result.median_move_24h == (moves[0] + moves[1]) / 2
    assert backtest(Move(D(-10), 3600), klines, price_now=D(90)).fired == 1  # 110 -> 99 only
    # 3h: three 1h candles; 100 -> 106.09 at 5, then 100 -> 106.09 and 103 -> 110 still hold
    closes = ["100", "100", "100", "100", "103", "106.09", "106.09", "110", "99"]
    klines = hourly([(c, c, c) for c in closes])
    assert backtest(Move(D(6), 3 * 3600), klines, price_now=D(90)).fired == 1


def test_a_volume_spike_is_a_candle_against_the_average_of_the_ones_before() -> None:
    volumes = ["1", "1", "1", "1", "3", "9", "1", "1", "1", "3"]
    klines = [
        kline(T0 + i * HOUR, "100", volume=volume) for i, volume in enumerate(volumes + ["1"] * 30)
    ]
    with_closes(klines, {4 + 24: "103", 9 + 24: "102"})
    result = backtest(VolumeSpike("1h", D(3), period=3), klines, price_now=D(100))
    # at 4: 3 against 1; at 5 still 5.4x (no new firing); at 9: 3 against (1+1+1)/3
    assert (result.fired, result.median_move_24h) == (2, D("2.5"))
    assert result.span_days == D(40 - 4) / 24


def test_an_indicator_counts_the_crossings_the_candle_book_fires_on() -> None:
    klines = synthetic_klines(1_000, "1h")
    condition = IndicatorCondition(Indicator.RSI, "1h", Crossing.BELOW, (14,), D(35))
    book = CandleBook()
    book.add(1, "BTCUSDT", condition, repeat=True, cooldown=0.0)
    fired = [i for i, k in enumerate(klines) if book.on_kline("BTCUSDT", "1h", k, True, i)]
    values = indicators.rsi([k.close for k in klines], 14)
    below = [
        i
        for i in range(16, len(values))
        if values[i] < 35 <= values[i - 1]  # type: ignore[operator]
    ]
    assert fired == below and len(below) >= 3
    result = backtest(condition, klines, price_now=D(1))
    moves = [(klines[i + 24].close / klines[i].close - 1) * 100 for i in below if i < 976]
    assert result.fired == len(below)
    assert result.median_move_24h is not None
    assert round(result.median_move_24h, 15) == round(statistics.median(moves), 15)
    assert result.span_days == D(1000 - 15) / 24


def test_a_short_interval_covers_what_the_candle_cap_allows_and_says_so() -> None:
    klines = synthetic_klines(5_000, "1m")
    condition = IndicatorCondition(Indicator.RSI, "1m", Crossing.ABOVE, (14,), D(70))
    result = backtest(condition, klines, price_now=D(1))
    assert result.interval == "1m" and result.fired > 0
    assert result.span_days == D((5_000 - 15) * 60) / 86_400  # about 3.5 days, not 90


def test_only_the_last_90_days_count() -> None:
    rows = [("90", "90", "90")] * 2200
    rows[10] = rows[2100] = ("101", "90", "90")
    result = backtest(PriceLevel(">", D(100)), hourly(rows, length=2200), price_now=D(90))
    assert (result.fired, result.span_days) == (1, D(90))


def test_no_candles_no_firings() -> None:
    assert backtest(PriceLevel(">", D(1)), [], price_now=D(1)) == BacktestResult(
        0, None, D(0), "1h"
    )
