"""What the move book keeps per symbol and per window (see `chatbot.services.move_book` for the
semantics): an implementation detail of that module.

A window's alerts sit in four lists sorted by (pct, alert id): armed ups and downs, and the
repeat alerts whose cooldown is over, waiting to re-arm. Their order by pct is their order by
threshold whatever the reference, so the band where nothing happens is read off the lists' ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sortedcontainers import SortedList

from chatbot.services.level_keys import EXACT
from chatbot.services.move_series import CloseSeries

INF = Decimal("Infinity")
NEG_INF = Decimal("-Infinity")
HUNDRED = Decimal(100)


@dataclass(slots=True, eq=False)
class MoveAlert:
    alert_id: int
    group: Window
    pct: Decimal
    repeat: bool
    cooldown: float
    armed: bool = True  # False: fired, cooling down or waiting to re-arm
    ready: bool = False  # its cooldown is over (it waits in a ready list)
    ready_at: float = 0.0  # when its cooldown ends (matches its heap entry)

    @property
    def key(self) -> tuple[Decimal, int]:
        return self.pct, self.alert_id


@dataclass(slots=True, eq=False)
class Window:
    """One symbol's alerts on one window; see the module docstring."""

    symbol: str
    window_ms: int
    series: CloseSeries
    armed_up: SortedList = field(default_factory=SortedList)  # (pct, id), ascending
    armed_down: SortedList = field(default_factory=SortedList)
    ready_up: SortedList = field(default_factory=SortedList)
    ready_down: SortedList = field(default_factory=SortedList)
    cooling: list[tuple[float, int]] = field(default_factory=list)  # (ready_at, id) heap
    pcts: dict[Decimal, Decimal] = field(default_factory=dict)  # one object per pct value
    count: int = 0
    ref_index: int | None = None  # the reference candle the band was computed for
    ref_version: int = -1
    ref: Decimal | None = None
    hi: Decimal = INF  # a price p with lo < p < hi fires and re-arms nothing ...
    lo: Decimal = NEG_INF
    wake: float = float("inf")  # ... until this time (s), when a cooldown ends

    def threshold(self, pct: Decimal) -> Decimal:
        """The price that is a change of `pct` % from the reference (exact)."""
        return EXACT.multiply(self.ref, EXACT.add(HUNDRED, pct)).scaleb(-2, EXACT)

    def refresh(self) -> None:
        """Recompute the quiet band from the lists' ends and the heap's top."""
        self.wake = self.cooling[0][0] if self.cooling else float("inf")
        if self.ref is None:
            self.hi, self.lo = INF, NEG_INF
            return
        his = [self.armed_up[0][0]] if self.armed_up else []  # fires at or above
        if self.ready_down:
            his.append(self.ready_down[0][0])  # re-arms above
        los = [self.armed_down[-1][0]] if self.armed_down else []  # fires at or below
        if self.ready_up:
            los.append(self.ready_up[-1][0])  # re-arms below
        self.hi = self.threshold(min(his)) if his else INF
        self.lo = self.threshold(max(los)) if los else NEG_INF


@dataclass(slots=True, eq=False)
class SymbolMoves:
    """One symbol's alerts, and the band over all its windows: a trade before `until` (ms: the
    next candle, reference change or end of a cooldown) with lo < price < hi fires nothing and
    only becomes the forming candle's close, kept in `pending` until the next full look."""

    series: dict[str, CloseSeries] = field(default_factory=dict)  # interval -> closes
    windows: dict[int, Window] = field(default_factory=dict)  # seconds -> alerts
    count: int = 0
    pending: Decimal | None = None
    lo: Decimal = NEG_INF
    hi: Decimal = INF
    until: int = -1  # -1: the next trade takes the full look

    def flush(self) -> None:
        """Write the pending close into the series (the candle it fell in is their last)."""
        if self.pending is not None:
            for series in self.series.values():
                if series.closes:
                    series.closes[-1] = self.pending
            self.pending = None
