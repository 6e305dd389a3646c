"""Deterministic prices without floats: a synthetic history and a seeded random walk.

The history is value noise in integer parts-per-million summed over octaves from one minute to
two years, scaled like a random walk (amplitude ∝ √period) by the symbol's daily volatility, and
anchored so that the path passes exactly through the starting price at the anchor time. Any
instant can be evaluated on its own (no state, no replay), which is what lets klines of any
interval and range be generated on demand and agree with each other. The path is bounded, so
prices never run off to zero or infinity however far back a chart looks.
"""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal, localcontext
from functools import lru_cache

PPM = 1_000_000
DAY_MS = 86_400_000
_MASK64 = (1 << 64) - 1
_OCTAVES_MS = (
    60_000,
    900_000,
    3_600_000,
    14_400_000,
    DAY_MS,
    7 * DAY_MS,
    30 * DAY_MS,
    180 * DAY_MS,
    730 * DAY_MS,
)


def mix64(value: int) -> int:
    """splitmix64's finalizer: a fast, well-spread 64-bit hash of an integer."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def hash_parts(key: int, *parts: int) -> int:
    """A deterministic 64-bit value for `key` and integer coordinates."""
    value = key
    for part in parts:
        value = mix64(value ^ (part & _MASK64))
    return value


def unit_noise(key: int, *parts: int) -> int:
    """A deterministic integer in [-PPM, PPM]."""
    return hash_parts(key, *parts) % (2 * PPM + 1) - PPM


def unit_fraction(key: int, *parts: int) -> int:
    """A deterministic integer in [0, PPM)."""
    return hash_parts(key, *parts) % PPM


@lru_cache(maxsize=1 << 16)
def _node(key: int, octave: int, cell: int) -> int:
    """Noise at one lattice point; cached because neighbouring candles share most points."""
    return unit_noise(key, octave, cell)


def symbol_key(seed: int, symbol: str) -> int:
    """The per-symbol key every deterministic choice derives from."""
    digest = hashlib.blake2b(f"{seed}:{symbol}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def step_ppm(daily_volatility: Decimal, interval_ms: int) -> int:
    """A random walk's per-step standard deviation (ppm) for steps `interval_ms` apart."""
    return int(daily_volatility * (Decimal(interval_ms) / DAY_MS).sqrt() * PPM)


class PricePath:
    """The synthetic history of one symbol, exact at `anchor_ms` where it equals `anchor_price`."""

    def __init__(
        self, key: int, anchor_ms: int, anchor_price: Decimal, daily_volatility: Decimal
    ) -> None:
        self._key = key
        self._anchor = anchor_price
        self._amplitudes = [step_ppm(daily_volatility, period) for period in _OCTAVES_MS]
        self._offset = 0
        self._offset = self._log_ppm(anchor_ms)

    def _octave(self, index: int, period: int, t: int) -> int:
        cell, offset = divmod(t, period)
        left = _node(self._key, index, cell)
        right = _node(self._key, index, cell + 1)
        return (left * (period - offset) + right * offset) // period

    def _log_ppm(self, t: int) -> int:
        total = 0
        for index, (period, amplitude) in enumerate(
            zip(_OCTAVES_MS, self._amplitudes, strict=True)
        ):
            total += amplitude * self._octave(index, period, t) // PPM
        return total - self._offset

    def price_at(self, t: int) -> Decimal:
        """The path's price at `t` (ms), unrounded."""
        with localcontext() as ctx:
            ctx.prec = 20
            return self._anchor * (Decimal(self._log_ppm(t)) / PPM).exp()


def walk_step(rng: random.Random, price: Decimal, sigma_ppm: int) -> Decimal:
    """One random-walk step: a relative move whose spread is `sigma_ppm` (the sum of three
    uniform draws, close enough to a normal step and free of floats)."""
    move = sum(rng.randint(-sigma_ppm, sigma_ppm) for _ in range(3))
    return price * (PPM + move) / PPM
