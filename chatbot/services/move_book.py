"""The in-memory index of active move alerts (`/alert BTC +3% 15m`): which alerts does this
trade fire?

Pure and synchronous like `alert_book.py` (no I/O, no clock of its own: a trade carries its
own time, in ms, from the stream). Semantics:

- a move alert compares the trade's price with the reference, the price `window` seconds
  before the trade: the close of the candle holding that instant (1m candles for windows up to
  12 h, 15m beyond; see `move_series.py`: at most one candle of error). The change in % is
  (price / reference - 1) x 100; an up alert (`pct` > 0) fires when change >= pct, a down
  alert (`pct` < 0) when change <= pct. A window with no reference yet (no history that far
  back) fires nothing;
- a one-shot alert leaves the book when it fires;
- a `repeat` alert, once fired, waits `cooldown` seconds from its firing, then re-arms on the
  first trade whose change is strictly back inside its threshold (below pct for an up alert,
  above it for a down one); only then can it fire again. `fired_at` (seconds) restores one
  that was waiting when the bot stopped.

Cost: alerts are grouped per symbol and window, each group sorted by pct (`move_windows.py`).
A group keeps the band of prices that fire or re-arm nothing, computed when its reference
changes (a new candle, or a seed), and the symbol keeps the narrowest of its groups' bands
until the next candle, reference change or end of a cooldown. A trade inside that band costs
one dict lookup and three comparisons, whatever the number of windows and alerts behind it
(its price is only noted as the forming candle's close); a full look, once per candle or when
the price leaves the band, costs one band check per distinct window of the symbol plus what
fires or re-arms. Comparisons are exact: a threshold is reference x (100 + pct) / 100,
computed without rounding.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from decimal import Decimal

from sortedcontainers import SortedList

from chatbot.exchange.market_models import Kline
from chatbot.services.alert_kinds import MAX_WINDOW, MIN_WINDOW, Firing, Move
from chatbot.services.move_series import RESOLUTIONS, CloseSeries, resolution_of, span_for
from chatbot.services.move_windows import HUNDRED, INF, NEG_INF, MoveAlert, SymbolMoves, Window


class MoveBook:
    """Active move alerts indexed per symbol and window; see the module docstring."""

    def __init__(self) -> None:
        self._alerts: dict[int, MoveAlert] = {}
        self._symbols: dict[str, SymbolMoves] = {}
        self._latest_ms: int | None = None  # the newest trade looked at, of any symbol

    # ---------------------------------------------------------------- queries

    def __len__(self) -> int:
        return len(self._alerts)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._alerts

    def symbols(self) -> set[str]:
        """Symbols with at least one alert (the trade streams the caller must follow)."""
        return set(self._symbols)

    def count(self, symbol: str) -> int:
        entry = self._symbols.get(symbol)
        return entry.count if entry is not None else 0

    def ids(self, symbol: str) -> list[int]:
        """The ids of a symbol's alerts, O(len(book)): for handing a symbol over, not trades."""
        return [i for i, a in self._alerts.items() if a.group.symbol == symbol]

    def change(self, symbol: str, window: int, price: Decimal, time_ms: int) -> Decimal | None:
        """The change in % of `price` at `time_ms` over `window` seconds, or None when the book
        has no history that far back for the symbol (it keeps closes only for symbols and
        resolutions some alert reads). For refusing an alert that would fire at once."""
        entry = self._symbols.get(symbol)
        series = entry.series.get(resolution_of(window)) if entry is not None else None
        if entry is None or series is None:
            return None
        entry.flush()
        ref = series.close_at((time_ms - window * 1000) // series.resolution)
        if ref is None or ref <= 0:
            return None
        return (price - ref) * HUNDRED / ref

    def resolutions(self, symbol: str) -> set[str]:
        """The candle intervals the symbol's windows read ("1m", "15m"): what a catch-up
        after a stream gap reads again."""
        entry = self._symbols.get(symbol)
        return set(entry.series) if entry is not None else set()

    def needs_history(self, now_ms: int | None = None) -> list[tuple[str, str, int]]:
        """(symbol, interval, since_ms) for each series that lacks closes its windows read:
        fetch the closed candles of `interval` from `since_ms` on and pass them to `seed`.

        The present is the newest candle the book knows of the symbol, or `now_ms` if later
        (by default the newest trade the book has seen of any symbol); raises ValueError when
        there is none of these (at start-up, before any trade, pass `now_ms`)."""
        now = now_ms if now_ms is not None else self._latest_ms
        return [
            (symbol, series.interval, since)
            for symbol, entry in self._symbols.items()
            for series in entry.series.values()
            if (since := series.lacks(now)) is not None
        ]

    # ---------------------------------------------------------------- changes

    def add(
        self,
        alert_id: int,
        symbol: str,
        condition: Move,
        *,
        repeat: bool = False,
        cooldown: float = 900.0,
        fired_at: float | None = None,
    ) -> None:
        """Index an armed alert; `fired_at` restores a repeat alert that is cooling down.

        Raises ValueError for a duplicate id, a condition that is not a Move of a non-zero
        finite pct over MIN_WINDOW..MAX_WINDOW seconds, a negative or non-finite cooldown, or
        `fired_at` on a one-shot alert."""
        if alert_id in self._alerts:
            raise ValueError(f"alert {alert_id} is already in the book")
        _check(condition, cooldown, repeat, fired_at)
        entry = self._symbols.setdefault(symbol, SymbolMoves())
        entry.flush()
        entry.until = -1
        group = entry.windows.get(condition.window)
        if group is None:
            interval = resolution_of(condition.window)
            series = entry.series.get(interval) or entry.series.setdefault(
                interval, CloseSeries(interval)
            )
            group = entry.windows[condition.window] = Window(
                symbol, condition.window * 1000, series
            )
            _fit_span(entry, interval)
        pct = group.pcts.setdefault(condition.pct, condition.pct)  # shared: users type few
        alert = MoveAlert(alert_id, group, pct, repeat, cooldown)
        self._alerts[alert_id] = alert
        if fired_at is None:
            (group.armed_up if alert.pct > 0 else group.armed_down).add(alert.key)
        else:
            alert.armed, alert.ready_at = False, fired_at + cooldown
            heapq.heappush(group.cooling, (alert.ready_at, alert_id))
        group.count += 1
        entry.count += 1
        group.refresh()

    def remove(self, alert_id: int) -> bool:
        """Forget an alert; False when it is not in the book. A cooling alert's heap entry is
        skipped when it surfaces."""
        alert = self._alerts.get(alert_id)
        if alert is None:
            return False
        group = alert.group
        if alert.armed:
            (group.armed_up if alert.pct > 0 else group.armed_down).remove(alert.key)
        elif alert.ready:
            (group.ready_up if alert.pct > 0 else group.ready_down).remove(alert.key)
        self._forget(alert)
        self._prune(group)
        return True

    def _forget(self, alert: MoveAlert) -> None:
        """Drop an alert out of its lists already: the counts."""
        del self._alerts[alert.alert_id]
        alert.group.count -= 1
        self._symbols[alert.group.symbol].count -= 1

    def _prune(self, group: Window) -> None:
        """Drop a group left empty (and its series, its symbol, if nothing else reads them)."""
        entry = self._symbols[group.symbol]
        entry.until = -1
        if not entry.count:
            del self._symbols[group.symbol]
        elif not group.count:
            del entry.windows[group.window_ms // 1000]
            interval = group.series.interval
            if all(g.series is not group.series for g in entry.windows.values()):
                del entry.series[interval]
            else:
                _fit_span(entry, interval)
        else:
            group.refresh()

    def seed(self, symbol: str, interval: str, klines: Iterable[Kline]) -> None:
        """Closed candles of `symbol` at `interval` ("1m" or "15m", as `needs_history` asks),
        oldest first: merged with the trades seen (idempotent: a candle is known by its open
        time). Ignored for a symbol and interval no alert reads. Pass every candle from the
        asked `since_ms` in one call: the book then stops asking for that far back, even if
        the exchange had none (a symbol listed since)."""
        if interval not in RESOLUTIONS:
            raise ValueError(f"a move alert reads 1m or 15m candles, not {interval!r}")
        entry = self._symbols.get(symbol)
        series = entry.series.get(interval) if entry is not None else None
        if entry is not None and series is not None:
            entry.flush()
            entry.until = -1
            series.seed(klines)

    # ---------------------------------------------------------------- trades

    def on_trade(self, symbol: str, price: Decimal, time_ms: int) -> list[Firing]:
        """The alerts this trade fires, in no particular order; `measured` is the change in %."""
        entry = self._symbols.get(symbol)
        if entry is None:
            return []
        if time_ms < entry.until and entry.lo < price < entry.hi:
            entry.pending = price
            return []
        return self._look(symbol, entry, price, time_ms)

    def _look(self, symbol: str, entry: SymbolMoves, price: Decimal, time_ms: int) -> list[Firing]:
        """The full look at a trade: each window's reference, band, and what fires."""
        if self._latest_ms is None or time_ms > self._latest_ms:
            self._latest_ms = time_ms
        entry.flush()
        for series in entry.series.values():
            series.on_trade(price, time_ms)
        fired: list[Firing] = []
        now = time_ms / 1000
        emptied = False
        for group in entry.windows.values():
            series = group.series
            ref_index = (time_ms - group.window_ms) // series.resolution
            if ref_index != group.ref_index or series.version != group.ref_version:
                group.ref_index, group.ref_version = ref_index, series.version
                ref = series.close_at(ref_index)
                group.ref = ref if ref is not None and ref > 0 else None
                group.refresh()
            if group.lo < price < group.hi and now < group.wake:
                continue
            self._evaluate(group, price, now, fired)
            emptied = emptied or not group.count
        if emptied:  # one-shot alerts left: drop what no alert reads any more
            if not entry.count:
                del self._symbols[symbol]
                return fired
            for group in [g for g in entry.windows.values() if not g.count]:
                self._prune(group)
        _settle(entry, time_ms)
        return fired

    def _evaluate(self, group: Window, price: Decimal, now: float, fired: list[Firing]) -> None:
        if now >= group.wake:
            self._mature(group, now)
        if group.ref is not None:
            # Re-arm first: a re-armed alert is strictly inside its threshold, so cannot fire.
            ready, armed = group.ready_up, group.armed_up
            while ready and group.threshold(ready[-1][0]) > price:
                self._rearm(ready.pop(), armed)
            ready, armed = group.ready_down, group.armed_down
            while ready and group.threshold(ready[0][0]) < price:
                self._rearm(ready.pop(0), armed)
            change = (price - group.ref) * HUNDRED / group.ref
            while group.armed_up and group.threshold(group.armed_up[0][0]) <= price:
                self._fire(group, group.armed_up.pop(0), price, change, now, fired)
            while group.armed_down and group.threshold(group.armed_down[-1][0]) >= price:
                self._fire(group, group.armed_down.pop(), price, change, now, fired)
        group.refresh()

    def _fire(
        self,
        group: Window,
        key: tuple[Decimal, int],
        price: Decimal,
        change: Decimal,
        now: float,
        fired: list[Firing],
    ) -> None:
        alert = self._alerts[key[1]]
        fired.append(Firing(alert.alert_id, price, change))
        alert.armed = False
        if alert.repeat:
            alert.ready_at = now + alert.cooldown
            heapq.heappush(group.cooling, (alert.ready_at, alert.alert_id))
        else:
            self._forget(alert)

    def _rearm(self, key: tuple[Decimal, int], armed: SortedList) -> None:
        alert = self._alerts[key[1]]
        alert.armed, alert.ready = True, False
        armed.add(key)

    def _mature(self, group: Window, now: float) -> None:
        """Move the alerts whose cooldown has ended from the heap to the ready lists."""
        heap = group.cooling
        while heap and heap[0][0] <= now:
            ready_at, alert_id = heapq.heappop(heap)
            alert = self._alerts.get(alert_id)
            if alert is None or alert.group is not group or alert.armed or alert.ready:
                continue  # removed while cooling
            if alert.ready_at != ready_at:
                continue  # removed while cooling, and its id used again since
            alert.ready = True
            (group.ready_up if alert.pct > 0 else group.ready_down).add(alert.key)


def _check(condition: Move, cooldown: float, repeat: bool, fired_at: float | None) -> None:
    if not isinstance(condition, Move):
        raise ValueError(f"a move book holds moves, not {condition!r}")
    pct, window = condition.pct, condition.window
    if not isinstance(pct, Decimal) or not pct.is_finite() or pct == 0 or pct <= -100:
        raise ValueError(f"pct must be a finite Decimal above -100, not 0: {pct!r}")
    if not isinstance(window, int) or not MIN_WINDOW <= window <= MAX_WINDOW:
        raise ValueError(f"window must be {MIN_WINDOW}..{MAX_WINDOW} seconds, not {window!r}")
    if not 0 <= cooldown < float("inf"):
        raise ValueError(f"cooldown must be finite seconds >= 0, not {cooldown!r}")
    if fired_at is not None and not (repeat and abs(fired_at) < float("inf")):
        raise ValueError(f"fired_at must be finite seconds, for a repeat alert: {fired_at!r}")


def _settle(entry: SymbolMoves, time_ms: int) -> None:
    """The symbol's band after a full look: the narrowest of its windows', until the next
    candle, reference change or end of a cooldown."""
    until = min((s.last + 1) * s.resolution for s in entry.series.values())
    lo, hi = NEG_INF, INF
    for group in entry.windows.values():
        res, window = group.series.resolution, group.window_ms
        until = min(until, ((time_ms - window) // res + 1) * res + window)
        if group.wake < float("inf"):
            until = min(until, math.ceil(group.wake * 1000))
        lo, hi = max(lo, group.lo), min(hi, group.hi)
    entry.lo, entry.hi, entry.until = lo, hi, until


def _fit_span(entry: SymbolMoves, interval: str) -> None:
    """A series keeps what the longest window reading it needs."""
    series = entry.series[interval]
    series.span = max(
        span_for(g.window_ms // 1000, series.resolution)
        for g in entry.windows.values()
        if g.series is series
    )
