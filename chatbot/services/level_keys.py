"""What the alert book stores per symbol, and how an alert's price level becomes one int key.

See `chatbot.services.alert_book` for the layout these pieces make up. Everything here is an
implementation detail of that module ("keys" are sort keys of price levels, nothing to do with
API keys).
"""

from __future__ import annotations

import decimal
import struct
from collections.abc import Iterable
from decimal import Decimal

from sortedcontainers import SortedList

from chatbot.storage.alerts import AlertDirection

Direction = AlertDirection  # the name the book's signatures use

BASE_SCALE = 8
MAX_SCALE = 40
SLOT_BITS = 32
SLOT_MASK = (1 << SLOT_BITS) - 1

BELOW = 1
REPEAT = 2
STATE = 12
ARMED = 0
COOLING = 4
READY = 8
DEAD = 12

INF = float("inf")
_DEC_INF = Decimal("Infinity")
_DEC_NEG_INF = Decimal("-Infinity")
# Big enough that scaling, normalizing and flooring never round.
EXACT = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[]
)
_DOUBLE = struct.Struct("<d")
_INT64 = struct.Struct("<q")
_LOW63 = (1 << 63) - 1


LOAD = 1000  # SortedList's default sublist size: sublists hold LOAD to 2 * LOAD keys


class SortedKeys(SortedList):
    """Sorted ints with O(log n) insert and remove, and "pop every key >= bound".

    `sortedcontainers.SortedList` does the work (the chunked lists the book once built by hand);
    this adds the three moves the book makes on it.
    """

    def __new__(cls, load: int = LOAD) -> SortedKeys:  # SortedList.__new__ would refuse `load`
        return object.__new__(cls)

    def __init__(self, load: int = LOAD) -> None:
        super().__init__()
        self._reset(load)  # SortedList's documented knob for the sublist size

    def last(self) -> int | None:
        """The largest key, or None when empty."""
        return self[-1] if self else None

    def pop_from(self, bound: int) -> list[int]:
        """Remove and return every key >= `bound`, in ascending order."""
        pop = self.pop  # from the end: no positional index to walk
        taken = [pop() for _ in range(len(self) - self.bisect_left(bound))]
        taken.reverse()
        return taken

    def replace(self, keys: Iterable[int]) -> None:
        """Hold exactly `keys`."""
        self.clear()
        self.update(keys)


def time_key(t: float) -> int:
    """An int ordered as the float `t` (IEEE bits, negatives flipped), so heap entries stay ints."""
    (bits,) = _INT64.unpack(_DOUBLE.pack(t + 0.0))  # + 0.0 turns -0.0 into 0.0
    return bits if bits >= 0 else bits ^ _LOW63


def from_time_key(key: int) -> float:
    return _DOUBLE.unpack(_INT64.pack(key if key >= 0 else key ^ _LOW63))[0]


def flip(key: int) -> int:
    """The same alert's key with the threshold's sign flipped: armed form <-> ready form."""
    return (-(key >> SLOT_BITS) << SLOT_BITS) | (key & SLOT_MASK)


def decimals_needed(value: Decimal) -> int:
    """Decimal places `value` needs (`1.500` needs 1, `1E+3` needs 0)."""
    return max(0, -value.normalize(EXACT).as_tuple().exponent)


class SymbolAlerts:
    """One symbol's alerts; `lo`, `hi` and `wake` are the fast path's quiet band."""

    __slots__ = (
        "armed_above",
        "armed_below",
        "cooling",
        "count",
        "hi",
        "hi_k",
        "index",
        "lo",
        "lo_k",
        "name",
        "ready_above",
        "ready_below",
        "scale",
        "tombstones",
        "wake",
    )

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self.index = index
        self.scale = BASE_SCALE
        self.armed_above = SortedKeys()
        self.armed_below = SortedKeys()
        self.ready_above = SortedKeys()
        self.ready_below = SortedKeys()
        self.cooling: list[int] = []
        self.tombstones = 0
        self.count = 0
        # A price p with lo < p < hi fires and re-arms nothing; before `wake` no cooldown ends.
        self.hi: Decimal = _DEC_INF
        self.lo: Decimal = _DEC_NEG_INF
        self.hi_k: int | None = None
        self.lo_k: int | None = None
        self.wake = INF

    def refresh(self) -> None:
        """Recompute the quiet band after the lists or the heap changed."""
        hi = lo = None
        last = self.armed_above.last()
        if last is not None:
            hi = -(last >> SLOT_BITS)
        last = self.ready_below.last()
        if last is not None:
            k = -(last >> SLOT_BITS)
            hi = k if hi is None or k < hi else hi
        last = self.armed_below.last()
        if last is not None:
            lo = last >> SLOT_BITS
        last = self.ready_above.last()
        if last is not None:
            k = last >> SLOT_BITS
            lo = k if lo is None or k > lo else lo
        if hi != self.hi_k:
            self.hi_k = hi
            self.hi = _DEC_INF if hi is None else self.unscaled(hi)
        if lo != self.lo_k:
            self.lo_k = lo
            self.lo = _DEC_NEG_INF if lo is None else self.unscaled(lo)
        heap = self.cooling
        self.wake = from_time_key(heap[0] >> SLOT_BITS) if heap else INF

    def unscaled(self, k: int) -> Decimal:
        return Decimal(k).scaleb(-self.scale, EXACT)

    def lists(self) -> tuple[SortedKeys, ...]:
        return (self.armed_above, self.armed_below, self.ready_above, self.ready_below)
