"""The Decimal indicators against TA-Lib, the reference library, on real Binance candles and on
the simulator's synthetic history; and a few values small enough to check by hand.

Why a tolerance: TA-Lib computes in float64 (about 16 significant digits, rounded at every
step), the indicators in 40-digit Decimals. Agreement to a relative 1e-9 shows the same
formula and the same seeding (a different seed or smoothing is off by far more, for tens of
candles); it cannot be exact. MACD's lines are differences of two price-sized EMAs, so float64's
error there is relative to the price, not to the (possibly tiny) difference: they are compared
relative to the larger of the value and the close (`scale`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pytest
import talib

from chatbot.services import indicators
from chatbot.services.alert_kinds import BB_WIDTH
from tests.unit.klines import recorded_btcusdt_daily, synthetic_klines

RELATIVE = 1e-9

RECORDED = recorded_btcusdt_daily()
SYNTHETIC = synthetic_klines(1_500, "1h")


def as_floats(values: Sequence[Decimal]) -> np.ndarray:
    return np.array([float(v) for v in values], dtype=np.float64)


def assert_matches(
    ours: Sequence[Decimal | None], reference: np.ndarray, scale: Sequence[Decimal] | None = None
) -> None:
    """Ours is None exactly where TA-Lib's is NaN (the warm-up), and equal after it."""
    assert len(ours) == len(reference)
    warm = [value is not None for value in ours]
    assert warm == [not math.isnan(value) for value in reference]
    assert any(warm)
    for index, (mine, theirs) in enumerate(zip(ours, reference, strict=True)):
        if mine is None:
            continue
        size = max(abs(theirs), float(scale[index]) if scale else 0.0)
        assert abs(float(mine) - theirs) <= RELATIVE * size, (index, mine, theirs)


def check_all(closes: list[Decimal], volumes: list[Decimal], periods: dict[str, tuple]) -> None:
    floats = as_floats(closes)
    (rsi_period,) = periods["rsi"]
    assert_matches(indicators.rsi(closes, rsi_period), talib.RSI(floats, rsi_period))
    for period in periods["ema"]:
        assert_matches(indicators.ema(closes, period), talib.EMA(floats, period))
    fast, slow, signal = periods["macd"]
    ours = indicators.macd(closes, fast, slow, signal)
    theirs = talib.MACD(floats, fast, slow, signal)
    for field, reference in zip(("macd", "signal", "histogram"), theirs, strict=True):
        line = [None if value is None else getattr(value, field) for value in ours]
        assert_matches(line, reference, scale=closes)
    (bb_period,) = periods["bb"]
    width = float(BB_WIDTH)
    bands = indicators.bollinger(closes, bb_period, BB_WIDTH)
    theirs = talib.BBANDS(floats, bb_period, width, width, talib.MA_Type.SMA)
    for field, reference in zip(("upper", "middle", "lower"), theirs, strict=True):
        assert_matches([None if b is None else getattr(b, field) for b in bands], reference)
    (volume_period,) = periods["volume"]
    assert_matches(
        indicators.volume_average(volumes, volume_period),
        talib.SMA(as_floats(volumes), volume_period),
    )


def test_recorded_binance_klines_match_talib() -> None:
    """13 real daily candles: periods that leave values after the warm-up."""
    assert len(RECORDED) == 13
    closes = [k.close for k in RECORDED]
    volumes = [k.volume for k in RECORDED]
    check_all(
        closes,
        volumes,
        {"rsi": (5,), "ema": (3, 6), "macd": (3, 6, 3), "bb": (5,), "volume": (5,)},
    )


def test_synthetic_history_matches_talib_with_the_standard_periods() -> None:
    closes = [k.close for k in SYNTHETIC]
    volumes = [k.volume for k in SYNTHETIC]
    check_all(
        closes,
        volumes,
        {"rsi": (14,), "ema": (20, 50), "macd": (12, 26, 9), "bb": (20,), "volume": (20,)},
    )


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5), (26, 12, 9)])
def test_macd_seeds_its_fast_line_as_talib_does(fast: int, slow: int, signal: int) -> None:
    """Other periods, a fast one given as the slower (TA-Lib swaps them)."""
    closes = [k.close for k in SYNTHETIC[:300]]
    ours = indicators.macd(closes, fast, slow, signal)
    theirs = talib.MACD(as_floats(closes), fast, slow, signal)[0]
    assert_matches([None if v is None else v.macd for v in ours], theirs, scale=closes)


def prices(*values: str) -> list[Decimal]:
    return [Decimal(value) for value in values]


def test_ema_starts_with_the_average_of_its_first_closes() -> None:
    values = indicators.ema(prices("1", "2", "3", "6"), 3)
    assert values == [None, None, Decimal(2), Decimal(4)]  # 2 + (6 - 2) * 2/4


def test_rsi_of_a_market_that_only_rises_is_100_and_of_one_that_never_moves_0() -> None:
    assert indicators.rsi(prices("1", "2", "3", "4"), 3)[-1] == 100
    assert indicators.rsi(prices("5", "5", "5", "5"), 3) == [None, None, None, 0]


def test_rsi_smooths_as_wilder() -> None:
    # changes +2, -1, +1: average gain 1, loss 1/3 -> 75; then -3: gain (1·2 + 0)/3 = 2/3,
    # loss (1/3·2 + 3)/3 = 11/9 -> 100 · (2/3) / (17/9) = 600/17
    values = indicators.rsi(prices("10", "12", "11", "12", "9"), 3)
    assert [round(value, 20) for value in values[3:]] == [75, round(Decimal(600) / 17, 20)]


def test_bollinger_bands_use_the_population_deviation() -> None:
    bands = indicators.bollinger(prices("2", "4", "4", "4", "5", "5", "7", "9"), 8, Decimal(2))
    assert bands[-1] == indicators.Bands(Decimal(9), Decimal(5), Decimal(1))  # sd 2
    flat = indicators.bollinger(prices("3", "3"), 2, Decimal(2))[-1]
    assert flat == indicators.Bands(Decimal(3), Decimal(3), Decimal(3))


def test_the_volume_average_is_the_mean_of_the_last_candles() -> None:
    assert indicators.volume_average(prices("1", "2", "6", "10"), 3) == [
        None,
        None,
        Decimal(3),
        Decimal(6),
    ]


def test_the_incremental_state_gives_what_the_batch_gives() -> None:
    closes = [k.close for k in SYNTHETIC[:200]]
    state = indicators.Rsi(14)
    assert [state.update(close) for close in closes] == indicators.rsi(closes, 14)
    assert state.value == indicators.rsi(closes, 14)[-1]


@pytest.mark.parametrize("period", [0, -3, 1.5, True])
def test_a_period_that_is_not_a_positive_integer_is_refused(period: object) -> None:
    with pytest.raises(ValueError, match="period must be an integer"):
        indicators.Ema(period)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="period must be an integer >= 2"):
        indicators.Rsi(1)
